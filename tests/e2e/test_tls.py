"""The API serving HTTPS itself, from the certificate and key its settings name."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flowcentre.config import Settings
from flowcentre.runtime import ensure_topics, free_port
from tests.e2e.conftest import Processes


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flowcentre.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "api.crt", folder / "api.key"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


async def test_the_api_serves_https_with_strict_transport_security(
    settings: Settings, processes: Processes, tmp_path: Path
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    certfile, keyfile = self_signed(tmp_path)
    port = free_port()
    processes.start(
        "api",
        FLOWCENTRE_API_PORT=str(port),
        FLOWCENTRE_API_TLS_CERTFILE=str(certfile),
        FLOWCENTRE_API_TLS_KEYFILE=str(keyfile),
    )
    trusted = ssl.create_default_context(cafile=str(certfile))
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trusted) as api:
        for _ in range(300):
            try:
                answer = await api.get("/")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError("the API never answered over HTTPS")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as plain:
        try:
            refused = (await plain.get("/")).status_code
        except httpx.TransportError:
            refused = 0

    assert answer.status_code == 200
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert refused != 200, "plain HTTP is not served on the HTTPS port"

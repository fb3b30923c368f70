"""The API serving HTTPS itself, from the certificate and key its settings name."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx

from flowcentre.config import Settings
from flowcentre.runtime import ensure_topics, free_port
from tests.certificates import self_signed
from tests.e2e.conftest import Processes


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

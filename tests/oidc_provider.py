"""A real OpenID Connect provider on a loopback port, for the single sign-on tests.

oidc-provider-mock signs real ID tokens with a key it publishes, checks the nonce and
honours the redirect URI, but takes any PKCE verifier; ``RequirePkce`` in front of it
refuses a code exchanged without the S256 verifier of its authorization request, so the
tests show that the client sends one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import werkzeug.serving
from werkzeug.wrappers import Request, Response

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class RequirePkce:
    provider: WsgiApp
    challenges: dict[str, str] = field(default_factory=dict)
    """The code challenge of each authorization code issued."""
    exchanged: list[dict[str, str]] = field(default_factory=list)
    """Every token request's form, in order."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/oauth2/authorize" and request.method == "POST":
            if request.args.get("code_challenge_method") != "S256":
                return Response("PKCE with S256 is required", 400)(environ, start_response)
            challenge = request.args["code_challenge"]

            def remember_code(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                for name, value in headers:
                    if name.lower() == "location":
                        for code in parse_qs(urlsplit(value).query).get("code", []):
                            self.challenges[code] = challenge
                return start_response(status, headers, *rest)

            return self.provider(environ, remember_code)
        if request.path == "/oauth2/token" and request.method == "POST":
            body = request.get_data()
            # Read here, so handed on again for the provider to read.
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
            self.exchanged.append(form)
            issued_for = self.challenges.pop(form.get("code", ""), None)
            if issued_for is None or s256(form.get("code_verifier", "")) != issued_for:
                refusal = Response(
                    '{"error": "invalid_grant", "error_description": "PKCE verification failed"}',
                    400,
                    content_type="application/json",
                )
                return refusal(environ, start_response)
        return self.provider(environ, start_response)


@dataclass(frozen=True)
class Provider:
    issuer: str
    pkce: RequirePkce


@contextmanager
def running_provider(users: Mapping[str, Mapping[str, object]]) -> Iterator[Provider]:
    """The provider, with a user of each sub given and those claims, until the block ends."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    provider = oidc_provider_mock.app(
        require_nonce=True,
        user_claims=[
            oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in users.items()
        ],
    )
    pkce = RequirePkce(provider)
    server = werkzeug.serving.make_server("127.0.0.1", 0, pkce, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}", pkce)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()

"""What every response carries and what no other site may do: headers, and cross-site refusal.

Both are plain ASGI middleware, so they cover the REST routes, the pages and the
whiteboard socket's handshake alike. The headers are constants, a few lines that need no
library.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The pages load their own script and stylesheet and talk to their own origin; nothing
#: else runs, and no other site may frame them.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

#: FastAPI's interactive documentation loads its viewer from elsewhere with inline script:
#: those pages keep the other headers but not the content security policy.
DOCUMENTATION_PAGES = ("/docs", "/redoc")

HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# WebSocket close code 1008, "policy violation": before acceptance, a refused handshake.
POLICY_VIOLATION = 1008


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if not path.startswith(DOCUMENTATION_PAGES):
                    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
                if path.startswith("/api/"):
                    # Answers carry patients' initials and who did what: never cached.
                    headers.setdefault("cache-control", "no-store")
                if scope.get("scheme") == "https":
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cross_site(headers: Headers) -> bool:
    """Whether a browser sent the request from a page of another site or origin.

    Browsers name the requesting page's relation in Sec-Fetch-Site; older ones send only
    Origin. A request with neither comes from no browser page (a feed, a script), which
    has no victim's cookie to borrow.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc != headers.get("host")


#: Where the identity provider sends the browser back: a navigation from its site.
FROM_OTHER_SITES = frozenset({"/api/v1/session/sso/callback"})


class CrossSiteRefusal:
    """Refuse API requests and socket handshakes that another site's page made a browser send.

    A session cookie goes with every request the browser makes to this origin, whoever's
    page asks; SameSite=Lax stops other sites' forms, but not their links (a top-level
    GET, which could make a nurse's browser read, and so audit in her name, every patient
    on her ward), nor a sibling subdomain's (same-site) page, and browsers apply no such
    rule to sockets at all. The pages themselves may be linked to from anywhere.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path = scope.get("path", "")
        api = path.startswith("/api/") and path not in FROM_OTHER_SITES
        unsafe = kind == "websocket" or (
            kind == "http" and (api or scope["method"] in UNSAFE_METHODS)
        )
        if unsafe and cross_site(Headers(scope=scope)):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"detail":"refused: the request came from another site\'s page"}',
                }
            )
            return
        await self.app(scope, receive, send)

"""Sign-ins waiting for the provider's answer, kept in Redis under an opaque browser token.

The browser holds only a random token (in a cookie); the state, nonce and PKCE verifier
stay here, under the token's SHA-256, for a few minutes, and are taken exactly once.
"""

from __future__ import annotations

import hashlib
import secrets

import orjson
from redis.asyncio import Redis

from flowcentre.sso import PendingSignIn

#: Long enough to type a password and answer a second factor at the provider.
PENDING_S = 600


class PendingSignIns:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}-auth:sign-in:"

    def _key(self, token: str) -> str:
        return self._prefix + hashlib.sha256(token.encode()).hexdigest()

    async def keep(self, pending: PendingSignIn) -> str:
        """Remember the sign-in; the token is the browser's to send back."""
        token = secrets.token_urlsafe(32)
        document = {
            "state": pending.state,
            "nonce": pending.nonce,
            "code_verifier": pending.code_verifier,
            "redirect_uri": pending.redirect_uri,
        }
        await self._redis.set(self._key(token), orjson.dumps(document), ex=PENDING_S)
        return token

    async def take(self, token: str) -> PendingSignIn | None:
        """The sign-in, forgotten as it is taken: a replayed answer finds nothing."""
        stored = await self._redis.getdel(self._key(token))
        return PendingSignIn(**orjson.loads(stored)) if stored else None

"""Signed-in sessions: opaque tokens, kept in Redis by their SHA-256, ended by deleting them.

They live beside the view's keys, not under its prefix: a rebuild replaces the view and
must not sign everyone out. A session lapses after ``idle_s`` without use.
"""

from __future__ import annotations

import hashlib
import secrets

from redis.asyncio import Redis

from flowcentre.store.keyspace import text


class Sessions:
    def __init__(self, redis: Redis, prefix: str, idle_s: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}-auth:session:"
        self._idle_s = idle_s

    def _key(self, token: str) -> str:
        # Only a digest is stored: a copy of Redis does not hand out sessions.
        return self._prefix + hashlib.sha256(token.encode()).hexdigest()

    async def start(self, account_id: str) -> str:
        """A new session for the account; the token is the caller's to hand over once."""
        token = secrets.token_urlsafe(32)
        await self._redis.set(self._key(token), account_id, ex=self._idle_s)
        return token

    async def account_of(self, token: str) -> str | None:
        """The account a live session belongs to, extending it; None if it has ended."""
        account_id = await self._redis.getex(self._key(token), ex=self._idle_s)
        return text(account_id) if account_id is not None else None

    async def end(self, token: str) -> None:
        await self._redis.delete(self._key(token))

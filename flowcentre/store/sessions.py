"""Signed-in sessions: opaque tokens, kept in Redis by their SHA-256, ended by deleting them.

They live beside the view's keys, not under its prefix: a rebuild replaces the view and
must not sign everyone out. A session lapses after its idle time without use: a
person's ``idle_s``, or a longer one given when it starts (a wall screen's, which must
not need pairing again after a weekend switched off).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from flowcentre.store.keyspace import text


@dataclass(frozen=True, slots=True)
class Session:
    account_id: str
    started: datetime
    token_id: str | None = None
    """The device token that paired the session, which ends with it."""


class Sessions:
    def __init__(self, redis: Redis, prefix: str, idle_s: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}-auth:session:"
        self._idle_s = idle_s

    def _key(self, token: str) -> str:
        # Only a digest is stored: a copy of Redis does not hand out sessions.
        return self._prefix + hashlib.sha256(token.encode()).hexdigest()

    async def start(
        self, account_id: str, idle_s: int | None = None, token_id: str | None = None
    ) -> str:
        """A new session for the account; the token is the caller's to hand over once."""
        token = secrets.token_urlsafe(32)
        started = datetime.now(UTC).isoformat()
        idle = idle_s or self._idle_s
        value = " ".join(filter(None, (account_id, started, str(idle), token_id)))
        await self._redis.set(self._key(token), value, ex=idle)
        return token

    async def session_of(self, token: str) -> Session | None:
        """The live session of the token, extending it; None if it has ended."""
        key = self._key(token)
        stored = await self._redis.get(key)
        if stored is None:
            return None
        # Sessions started before idle times and device tokens were kept hold two fields.
        account_id, started, *rest = text(stored).split(" ")
        idle = int(rest[0]) if rest else self._idle_s
        # Ended meanwhile (signed out): EXPIRE then finds no key and revives nothing.
        await self._redis.expire(key, idle)
        return Session(account_id, datetime.fromisoformat(started), rest[1] if rest[1:] else None)

    async def end(self, token: str) -> None:
        await self._redis.delete(self._key(token))

"""Failed sign-ins, counted per username and per address across every API process.

A moving window rather than a lock-out: guessing stops, and a nurse whose account someone
else is trying is let back in when the window moves on, without an administrator.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis


class SignInAttempts:
    def __init__(
        self, redis: Redis, redis_url: str, prefix: str, *, per_username: str, per_address: str
    ) -> None:
        # The limiter shares the API's connection pool; the URL only names the client type.
        storage = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix=f"{prefix}-limits",
            # limits types its pass-through options as scalars; redis-py takes the pool.
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_username: RateLimitItem = parse(per_username)
        self._per_address: RateLimitItem = parse(per_address)

    async def allowed(self, username: str, address: str) -> bool:
        """Whether another attempt may be checked now."""
        return await self._limiter.test(
            self._per_username, "username", username
        ) and await self._limiter.test(self._per_address, "address", address)

    async def failed(self, username: str, address: str) -> None:
        await self._limiter.hit(self._per_username, "username", username)
        await self._limiter.hit(self._per_address, "address", address)

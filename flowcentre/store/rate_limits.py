"""Rate limits in moving windows, shared by every API process through Redis.

Sign-in attempts are counted per username and per address. Each attempt is counted
before its password is checked, atomically, so attempts sent at once cannot all slip
under the limit; a successful sign-in clears its username's count. A moving window
rather than a lock-out: guessing stops, and the nurse is let in again once the window
moves past the failed attempts, without an administrator.

Writes are counted per account, so a runaway script or a stolen session cannot flood
the log.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis


def moving_window(redis: Redis, redis_url: str, prefix: str) -> MovingWindowRateLimiter:
    # The limiter shares the API's connection pool; the URL only names the client type.
    storage = RedisStorage(
        f"async+{redis_url}",
        implementation="redispy",
        key_prefix=f"{prefix}-limits",
        # limits types its pass-through options as scalars; redis-py takes the pool.
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]
    )
    return MovingWindowRateLimiter(storage)


class WriteLimit:
    def __init__(self, limiter: MovingWindowRateLimiter, per_account: str) -> None:
        self._limiter = limiter
        self._per_account: RateLimitItem = parse(per_account)

    async def allow(self, account_id: str) -> bool:
        """Count a write; whether it is within the account's limit."""
        return await self._limiter.hit(self._per_account, "writes", account_id)


class SignInAttempts:
    def __init__(
        self, limiter: MovingWindowRateLimiter, *, per_username: str, per_address: str
    ) -> None:
        self._limiter = limiter
        self._per_username: RateLimitItem = parse(per_username)
        self._per_address: RateLimitItem = parse(per_address)

    async def attempt(self, username: str, address: str) -> bool:
        """Count an attempt; whether it is within both limits and may be checked."""
        by_address = await self.attempt_from(address)
        return await self._limiter.hit(self._per_username, "username", username) and by_address

    async def attempt_from(self, address: str) -> bool:
        """Count an attempt that names no username (a device token); whether it may be
        checked."""
        return await self._limiter.hit(self._per_address, "address", address)

    async def succeeded(self, username: str) -> None:
        await self._limiter.clear(self._per_username, "username", username)

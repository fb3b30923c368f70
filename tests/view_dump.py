"""Reading a whole Redis view back in a form two views can be compared by."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from flowcentre.store.keyspace import Keyspace, text


async def dump_view(redis: Redis, prefix: str = "fc") -> dict[str, Any]:
    """Every key of the view but the delta stream, without the prefix."""
    keys = Keyspace(prefix)
    view: dict[str, Any] = {}
    async for raw_key in redis.scan_iter(match=keys.pattern, count=1000):
        key = text(raw_key)
        if key == keys.deltas:
            continue
        kind = text(await redis.type(key))
        name = key.removeprefix(f"{prefix}:")
        if kind == "string":
            view[name] = orjson.loads(await redis.get(key) or b"null")
        elif kind == "set":
            view[name] = sorted(await redis.smembers(key))
        elif kind == "zset":
            view[name] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "hash":
            view[name] = dict(sorted((await redis.hgetall(key)).items()))
    return view

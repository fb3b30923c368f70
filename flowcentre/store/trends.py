"""The trends the alert watch samples, one record a place.

They live beside the view, not under its prefix, as the watch's place does: a rebuild
replays the log into the picture as it is now, which has no past quarter hours to sample
again, so it leaves the trends alone rather than losing a week of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from flowcentre.domain.trends import Sample, TrendRecord, sampled


class Trends:
    def __init__(self, redis: Redis, *, prefix: str = "fc") -> None:
        self._redis = redis
        self._prefix = f"{prefix}-trends"

    def key(self, place: str) -> str:
        return f"{self._prefix}:{place}"

    async def keep(self, samples: Mapping[str, Sample]) -> None:
        """Adds each place's sample to its series; a quarter hour it has is kept as it was."""
        for place, sample in samples.items():
            record = await self.record(place) or TrendRecord(place=place)
            kept = sampled(record, sample)
            if kept is not record:
                await self._redis.set(self.key(place), kept.model_dump_json())

    async def record(self, place: str) -> TrendRecord | None:
        # Parsed here rather than through the keyspace's cache of parsed records: a week
        # of samples is large, and each quarter hour makes a new one.
        raw = await self._redis.get(self.key(place))
        return TrendRecord.model_validate_json(raw) if raw else None

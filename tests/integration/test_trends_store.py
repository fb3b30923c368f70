"""The trends in Redis: each quarter hour kept once, and left alone by a rebuild's swap of
the view."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from flowcentre.domain.alert_rules import Measure
from flowcentre.domain.apply import State
from flowcentre.domain.trends import Sample
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.trends import Trends
from flowcentre.store.view import replace_view
from tests.builders import T0


def occupancy(minutes: float, value: float) -> Sample:
    return Sample(at=T0 + timedelta(minutes=minutes), values={Measure.OCCUPANCY_PCT: value})


async def test_each_quarter_hour_is_kept_once_and_survives_a_rebuild(redis_client: Redis) -> None:
    trends = Trends(redis_client, prefix="fc")

    await trends.keep({"WRH": occupancy(0, 88.0), "system": occupancy(0, 90.0)})
    await trends.keep({"WRH": occupancy(15, 93.5)})
    await trends.keep({"WRH": occupancy(0, 99.0)})  # the same quarter hour sampled again
    await replace_view(redis_client, Keyspace("fc"), "events", State(), {})

    royal = await trends.record("WRH")
    assert royal is not None
    assert [one.values[Measure.OCCUPANCY_PCT] for one in royal.samples] == [88.0, 93.5]
    assert await trends.record("system") is not None
    assert await trends.record("KTC") is None

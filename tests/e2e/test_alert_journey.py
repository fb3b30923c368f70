"""Capacity alerts end to end over the broker: a ward fills past a rule's threshold, the
alert watch raises the alert once the condition has held on the log's clock and climbs
its ladder; the ward empties and the alert resolves; a rebuild of the view from the log
gives the same alert history."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from flowcentre.rebuild import rebuild
from flowcentre.runtime import ensure_topics
from flowcentre.store.reads import LiveReads
from tests.builders import admitted, bed, discharged, event, organisation, site, ward
from tests.e2e.conftest import Processes
from tests.view_dump import dump_view

Found = TypeVar("Found")

CLOCK = "e2e"
ALERTS = """
[ladders.site]
steps = [
  { after_minutes = 0, notify = ["nurse in charge"] },
  { after_minutes = 15, notify = ["site manager"] },
]

[[rules]]
id = "occupancy-high"
name = "Occupancy above 92%"
measure = "occupancy_pct"
scope = { level = "site" }
comparison = ">"
threshold = 92
clear = 90
hold_minutes = 15
severity = "warning"
ladder = "site"
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings with Redis keys of this test's own, a rules file of its own,
    and a clock this test ticks itself."""
    alerts = tmp_path / "alerts.toml"
    alerts.write_text(ALERTS)
    return settings.model_copy(
        update={
            "redis_prefix": f"alerts-{uuid.uuid4().hex[:12]}",
            "alerts": alerts,
            "clock": CLOCK,
            "clock_tick_s": 0,
        }
    )


def tick(minute: float) -> EventBase:
    return event("ClockTicked", {"clock": CLOCK}, minute)


async def until(read: Callable[[], Awaitable[Found | None]], what: str) -> Found:
    for _ in range(600):
        if (found := await read()) is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_alert_is_raised_escalated_resolved_and_rebuilt_the_same(
    settings: Settings, processes: Processes
) -> None:
    assert settings.kafka_bootstrap
    assert settings.redis_url
    ensure_topics(settings.kafka_bootstrap, settings)
    log = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    beds = [bed(f"B{n}") for n in range(10)]
    log.publish([organisation(), site(), ward(), *beds, tick(0)])
    processes.start("worker")
    watch = processes.start("alert-watch")
    redis = Redis.from_url(settings.redis_url)
    reads = LiveReads(redis, prefix=settings.redis_prefix)
    try:
        rule = await until(lambda: reads.rule("occupancy-high"), "the default rule to be saved")
        assert rule.version == 1

        # The ticks go to a partition of their own: each waits for what comes before it.
        log.publish([admitted(f"S{n}", f"B{n}", 1) for n in range(10)])
        await until(lambda: _where(reads.bed("B9"), lambda b: b.state == "occupied"), "B9 full")
        log.publish([tick(5)])
        await until(lambda: _where(reads.clock(CLOCK), lambda c: c.at == tick(5).occurred_at), "5")
        await asyncio.sleep(1)
        assert await reads.open_alerts() == [], "the condition has not held 15 minutes yet"

        log.publish([tick(16)])
        [raised] = await until(lambda: _nonempty(reads.open_alerts()), "the alert")
        assert raised.details is not None
        assert (raised.details.value, raised.details.scope.id) == (100.0, "WRH")
        assert raised.raised is not None
        assert raised.raised.at == tick(16).occurred_at, "raised on the log's clock"

        # The watch restarts: it takes up its place, and the ladder goes on from the log.
        watch.terminate()
        watch.wait(timeout=20)
        processes.start("alert-watch")
        log.publish([tick(31)])
        climbed = await until(
            lambda: _where(reads.alert(raised.alert_id), lambda a: a.climbed == 2), "step two"
        )
        assert [one.notify for one in climbed.escalations] == [
            ("nurse in charge",),
            ("site manager",),
        ]

        log.publish([discharged("S0", 40)])
        await until(lambda: _where(reads.bed("B0"), lambda b: b.state != "occupied"), "B0 free")
        log.publish([tick(41)])
        resolved = await until(
            lambda: _where(reads.alert(raised.alert_id), lambda a: a.resolved is not None),
            "the alert to resolve",
        )
        assert resolved.cleared_at_value == 90.0
        assert await reads.open_alerts() == []

        report = await rebuild(
            settings.kafka_bootstrap,
            redis,
            settings.events_topic,
            f"{settings.redis_prefix}-rebuilt",
        )
        assert report.events > 20
        live = await _alerts_of(redis, settings.redis_prefix)
        rebuilt = await _alerts_of(redis, f"{settings.redis_prefix}-rebuilt")
        assert rebuilt == live
        assert len(live) >= 3, "the rule, the alert and the clock"
    finally:
        log.close()
        await redis.aclose()


async def _nonempty(found: Awaitable[list[Found]]) -> list[Found] | None:
    return (await found) or None


async def _where(found: Awaitable[Found | None], holds: Callable[[Found], bool]) -> Found | None:
    one = await found
    return one if one is not None and holds(one) else None


async def _alerts_of(redis: Redis, prefix: str) -> dict[str, Any]:
    view = await dump_view(redis, prefix)
    return {key: value for key, value in view.items() if key.startswith(("rule", "alert", "clock"))}

"""The worker records when each source feed was heard, in the same transaction as the
events it applies, and the API judges the configured feeds from that record."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from flowcentre.api.whiteboard import feed_statuses
from flowcentre.domain.events import EventBase
from flowcentre.domain.feeds import Feed, FeedConfiguration, Heard
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.reads import LiveReads
from flowcentre.store.view import PositionedEvent, RedisView
from tests.builders import bed, bed_status, event, ward
from tests.view_dump import dump_view

TOPIC = "events"
CLOCK = "county"
COMMUNITY = {"system": "EPR", "organisation": "R1A"}
WATCH = {"system": "flowcentre-alerts", "organisation": "FLOWCENTRE"}
FEEDS = FeedConfiguration(
    feeds=(
        Feed(organisation="RWP", system="PAS", name="Worcestershire Acute ADT"),
        Feed(organisation="R1A", system="EPR", name="Community trust EPR"),
    )
)


def at(offset: int, one: EventBase, partition: int = 0) -> PositionedEvent:
    return PositionedEvent(partition=partition, offset=offset, event=one)


def tick(minute: float) -> EventBase:
    return event("ClockTicked", {"clock": CLOCK}, minute, source=WATCH)


def community(minute: float) -> EventBase:
    payload = {"ward_id": "C1", "site_id": "EVE", "name": "Community ward"}
    return event("WardRegistered", payload, minute, source=COMMUNITY)


async def test_each_feed_is_recorded_heard_first_and_last_and_a_replay_changes_nothing(
    redis_client: Redis,
) -> None:
    view = RedisView(redis_client)
    reads = LiveReads(redis_client)
    acute = [ward("W1"), bed("B1", minute=-50), bed_status("B1", "clean", minute=5)]
    batch = [*(at(n, one) for n, one in enumerate(acute)), at(0, community(2), partition=1)]
    await view.apply(TOPIC, batch)
    heard = await reads.feeds_heard()
    assert heard == {
        ("RWP", "PAS"): Heard(acute[0].recorded_at, acute[2].recorded_at),
        ("R1A", "EPR"): Heard(community(2).recorded_at, community(2).recorded_at),
    }
    recorded = await dump_view(redis_client)

    # Redelivered: skipped by its positions. A late event heard at an older time, and a
    # repeat of the latest at a new position, move neither time the wrong way.
    await view.apply(TOPIC, batch)
    assert await dump_view(redis_client) == recorded
    late = bed_status("B1", "cleaning", minute=-70)
    await view.apply(TOPIC, [at(3, late), at(4, acute[2])])
    after = await reads.feeds_heard()
    assert after[("RWP", "PAS")] == Heard(late.recorded_at, acute[2].recorded_at)
    assert after[("R1A", "EPR")] == heard[("R1A", "EPR")]


async def test_a_batch_records_every_feed_in_two_commands(redis_client: Redis) -> None:
    view = RedisView(redis_client)
    commands: list[Any] = []
    monitor = redis_client.monitor()
    async with monitor as watching:
        listening = watching.listen()
        await view.apply(TOPIC, [at(n, bed_status("B1", "clean", minute=n)) for n in range(50)])
        await redis_client.ping()
        async for command in listening:
            commands.append(command["command"])
            if command["command"] == "PING":
                break
    keys = Keyspace()
    feeds = [one for one in commands if keys.feeds_last_heard in one or "feeds-first" in one]
    assert len(feeds) == 2, feeds


async def test_the_api_judges_the_configured_feeds_against_the_clock_on_the_log(
    redis_client: Redis,
) -> None:
    view = RedisView(redis_client)
    judged = feed_statuses(LiveReads(redis_client), FEEDS, CLOCK)
    await view.apply(TOPIC, [at(0, bed_status("B1", "clean", minute=0)), at(1, community(0))])
    assert [feed["silent"] for feed in await judged()] == [False, False], "no tick yet"

    await view.apply(TOPIC, [at(2, community(9)), at(3, tick(11))])
    acute, other = await judged()
    assert (acute["name"], acute["silent"], other["silent"]) == (
        "Worcestershire Acute ADT",
        True,
        False,
    )
    assert acute["heard_at"] == bed_status("B1", "clean", minute=0).recorded_at.isoformat()

    await view.apply(TOPIC, [at(4, bed_status("B1", "cleaning", minute=11.5)), at(5, tick(12))])
    assert [feed["silent"] for feed in await judged()] == [False, False]

"""The Redis view: atomic, idempotent apply, and a rebuild equal to the live state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.domain.beds import BedState
from flowcentre.domain.events import EventBase, decode_event
from flowcentre.domain.pending_admissions import PendingAdmission, WaitOutcome
from flowcentre.publisher import KafkaPublisher
from flowcentre.rebuild import NothingToReplay, Replay, rebuild
from flowcentre.runtime import ensure_topics
from flowcentre.store.keyspace import Keyspace, load
from flowcentre.store.reads import LiveReads
from flowcentre.store.view import PositionedEvent, RedisView, ViewOvertaken, replace_view
from flowcentre.store.watch_feed import WatchFeed
from tests.builders import (
    admitted,
    bed,
    bed_status,
    capacity_declared,
    day_marked,
    discharged,
    event,
    referred,
    request_cancelled,
    requested,
    reserved,
    transferred,
    ward,
)
from tests.view_dump import dump_view

TOPIC = "events"
STORY = [
    ward("W1"),
    bed("B1"),
    bed("B2"),
    admitted("S1", "B1", 0),
    transferred("S1", "B2", 30),
    bed_status("B1", "cleaning", 40),
    bed_status("B1", "clean", 60),
    admitted("S2", "B1", 70),
    discharged("S1", 90),
]
#: Work on the discharge lists, which the view indexes (the queue, discharges by time,
#: pools by day), a day marked red then corrected, and the records of alert rules and
#: the clock.
PLANS = [
    referred("S2", 75),
    day_marked("S2", 75, "2026-11-02", green=False, reason="Awaiting reablement"),
    day_marked("S2", 76, "2026-11-02", green=True),
    capacity_declared(2, 76, day="2026-11-02"),
    reserved("S2", 77, day="2026-11-02"),
    capacity_declared(3, 78, day="2026-11-01"),
    event("ClockTicked", {"clock": "county"}, 79),
    event(
        "AlertRuleSaved",
        {
            "id": "stranded",
            "name": "Stranded patients",
            "measure": "stranded",
            "scope": {"level": "system"},
            "comparison": ">",
            "threshold": 10,
        },
        79,
    ),
]

#: Patients waiting for a bed, which the view indexes by site: one waiting on a ward of
#: the Royal, one at the Alexandra, one whose request was cancelled and one admitted.
WAITS = [
    requested("S3", 80, ward_id="W1"),
    requested("S4", 81),
    request_cancelled("S4", 82),
    requested("S5", 83, "ALX"),
    requested("S6", 84),
    admitted("S6", None, 85),
]


def positioned(events: list[EventBase], partition: int = 0) -> list[PositionedEvent]:
    return [PositionedEvent(partition, offset, e) for offset, e in enumerate(events)]


async def test_applied_story_reads_back_as_the_board_shows_it(redis_client: Redis) -> None:
    view = RedisView(redis_client)
    await view.apply(TOPIC, positioned(STORY))
    reads = LiveReads(redis_client)
    beds = {b.bed_id: b for b in await reads.ward_beds("W1")}
    assert beds["B1"].state is BedState.OCCUPIED
    assert beds["B2"].state is BedState.AWAITING_CLEAN
    assert [s.spell_id for s in await reads.ward_spells("W1")] == ["S2"]
    cursor, snapshot = await reads.snapshot()
    assert cursor != "0-0"
    assert {b["bed_id"] for b in snapshot["beds"]} == {"B1", "B2"}
    assert "Lovelace" not in orjson.dumps(snapshot).decode()


async def test_redelivered_batch_changes_nothing(redis_client: Redis) -> None:
    view = RedisView(redis_client)
    batch = positioned(STORY)
    await view.apply(TOPIC, batch)
    before = await dump_view(redis_client)
    deltas = await redis_client.xlen(Keyspace().deltas)
    await view.apply(TOPIC, batch[3:])
    assert await dump_view(redis_client) == before
    assert await redis_client.xlen(Keyspace().deltas) == deltas


async def test_each_applied_event_publishes_its_deltas_in_order(redis_client: Redis) -> None:
    await RedisView(redis_client).apply(TOPIC, positioned(STORY))
    entries = await LiveReads(redis_client).deltas_after("0-0")
    assert [e["event_id"] for _, e in entries] == [e.event_id for e in STORY]
    last = entries[-1][1]["deltas"]
    beds = {d["bed"]["bed_id"]: d["bed"]["state"] for d in last if d["kind"] == "bed"}
    assert beds == {"B2": "awaiting_clean"}
    [plan] = [d["discharge"] for d in last if d["kind"] == "discharge"]
    assert not plan["listed"]


async def test_partitions_in_any_interleaving_reach_the_same_view(redis_client: Redis) -> None:
    clean_view = RedisView(redis_client, prefix="clean")
    await clean_view.apply(TOPIC, positioned(STORY))
    mixed = RedisView(redis_client, prefix="mixed")
    # Within a partition the log keeps order; across partitions anything goes.
    queues = [positioned(STORY[i::2], partition=i) for i in range(2)]
    chooser = random.Random(7)
    while any(queues):
        queue = chooser.choice([q for q in queues if q])
        await mixed.apply(TOPIC, [queue.pop(0)])
    clean = {
        k.removeprefix("clean:"): v for k, v in (await dump_view(redis_client, "clean")).items()
    }
    other = {
        k.removeprefix("mixed:"): v for k, v in (await dump_view(redis_client, "mixed")).items()
    }
    clean.pop("tracking:events")
    other.pop("tracking:events")
    assert other == clean


async def test_rebuild_from_the_log_equals_the_live_view(
    settings: Settings, redis_client: Redis
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    publisher.publish([*STORY, *PLANS, *WAITS])
    publisher.close()
    # The live view as a worker builds it: each partition's events in log order.
    live = RedisView(redis_client, prefix="live")
    await apply_the_log(settings, live, len(STORY) + len(PLANS) + len(WAITS))
    report = await rebuild(settings.kafka_bootstrap, redis_client, settings.events_topic, "rebuilt")
    assert report.events == len(STORY) + len(PLANS) + len(WAITS)
    live_keys = {
        k.removeprefix("live:"): v for k, v in (await dump_view(redis_client, "live")).items()
    }
    assert {
        "referred",
        "discharged",
        "capacity-by-day",
        "rules",
        "clock:county",
        "pending-admissions",
        "site-pending-admissions:WRH",
        "site-pending-admissions:ALX",
        "pending-admission:S4",
        "pending-admission:S6",
    } <= live_keys.keys()
    assert live_keys["pending-admissions"] == [b"S3", b"S5"]
    marked = await LiveReads(redis_client, prefix="live").spell("S2")
    assert marked is not None
    assert [(day.green, day.reason) for day in marked.marked_days] == [(True, None)]
    rebuilt = {
        k.removeprefix("rebuilt:"): v for k, v in (await dump_view(redis_client, "rebuilt")).items()
    }
    assert rebuilt == live_keys


async def test_rebuild_refuses_to_replace_the_view_with_a_topic_that_does_not_exist(
    settings: Settings, redis_client: Redis
) -> None:
    assert settings.kafka_bootstrap
    await RedisView(redis_client).apply(TOPIC, positioned(STORY))
    with pytest.raises(NothingToReplay):
        await rebuild(settings.kafka_bootstrap, redis_client, "no-such-topic", "fc")
    assert await LiveReads(redis_client).bed("B1") is not None


async def test_rebuild_catches_up_with_what_a_live_worker_applied_meanwhile(
    settings: Settings, redis_client: Redis
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    publisher.publish(STORY[:5])
    # A worker has applied the whole story by the time the rebuild swaps, though the
    # first five events were all the log held when the rebuild began.
    view = RedisView(redis_client)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    replay = Replay(consumer, settings.events_topic)
    try:
        await replay.start()
        assert replay.applied == 5
        publisher.publish(STORY[5:])
        publisher.close()
        await apply_the_log(settings, view)
        live = await dump_view(redis_client)
        with pytest.raises(ViewOvertaken) as overtaken:
            await replace_view(
                redis_client,
                Keyspace(),
                settings.events_topic,
                replay.state,
                replay.positions,
                replay.heard,
            )
        await replay.catch_up(overtaken.value.tracked)
        await replace_view(
            redis_client,
            Keyspace(),
            settings.events_topic,
            replay.state,
            replay.positions,
            replay.heard,
        )
    finally:
        await consumer.stop()
    assert replay.applied == len(STORY)
    assert await dump_view(redis_client) == live


async def apply_the_log(settings: Settings, view: RedisView, count: int = len(STORY)) -> None:
    """Apply the ``count`` events of the log, each partition in order, as a worker does."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        topic = settings.events_topic
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: dict[TopicPartition, list[Any]] = {}
        while sum(len(m) for m in found.values()) < count:
            for tp, messages in (await consumer.getmany(*parts, timeout_ms=2000)).items():
                found.setdefault(tp, []).extend(messages)
    finally:
        await consumer.stop()
    for tp, messages in found.items():
        await view.apply(
            topic,
            [PositionedEvent(tp.partition, m.offset, decode_event(m.value)) for m in messages],
        )


async def test_a_board_of_the_ward_a_patient_left_is_told_they_are_off_its_list(
    redis_client: Redis,
) -> None:
    moved = [
        *STORY[:3],
        admitted("S2", "B1", 70),
        transferred("S2", None, 200, ward_id="W2"),
        event("AdmissionCancelled", {"spell_id": "S2"}, 210),
    ]
    await RedisView(redis_client).apply(TOPIC, positioned(moved))
    entries = await LiveReads(redis_client).deltas_after("0-0")
    plans = [
        (d["discharge"]["ward_id"], d["discharge"]["listed"])
        for _, entry in entries[-2:]
        for d in entry["deltas"]
        if d["kind"] == "discharge"
    ]
    assert plans == [("W1", False), ("W2", True), ("W2", False)]


async def test_pools_are_read_by_day_and_boards_start_from_yesterdays(redis_client: Redis) -> None:
    today = datetime.now(UTC).date()
    days = [today + timedelta(days=offset) for offset in (1, -3, 0, -1)]
    declared = [capacity_declared(1, n, day=day.isoformat()) for n, day in enumerate(days)]
    await RedisView(redis_client).apply(TOPIC, positioned(declared))
    reads = LiveReads(redis_client)

    assert [pool.capacity.day for pool in await reads.capacity_pools()] == sorted(days)
    assert [pool.capacity.day for pool in await reads.capacity_pools(today)] == [
        today,
        today + timedelta(days=1),
    ]
    _, snapshot = await reads.snapshot()
    assert [pool["day"] for pool in snapshot["capacity"]] == [
        day.isoformat() for day in sorted(days)[1:]
    ]


async def test_patients_waiting_for_a_bed_are_read_by_site_until_their_wait_ends(
    redis_client: Redis,
) -> None:
    view = RedisView(redis_client)
    await view.apply(TOPIC, positioned([*STORY, *WAITS]))
    reads = LiveReads(redis_client)

    assert [wait.spell_id for wait in await reads.pending_admissions("WRH")] == ["S3"]
    assert [wait.spell_id for wait in await reads.pending_admissions()] == ["S3", "S5"]
    stored = await redis_client.get(Keyspace().pending_admission("S4"))
    assert stored is not None
    cancelled = load(PendingAdmission, stored)
    assert cancelled.outcome is WaitOutcome.CANCELLED

    await view.apply(TOPIC, positioned([admitted("S3", "B2", 100)], partition=1))

    assert await reads.pending_admissions("WRH") == []
    assert [wait.spell_id for wait in await reads.pending_admissions()] == ["S5"]
    entries = [entry for _, entry in await reads.deltas_after("0-0")]
    last = entries[-1]["deltas"]
    [ended] = [d["pending_admission"] for d in last if d["kind"] == "pending_admission"]
    assert (ended["spell_id"], ended["waiting"], ended["outcome"]) == ("S3", False, "admitted")
    assert "Hopper" not in orjson.dumps(entries).decode(), "a wait's delta never says who waits"


async def test_the_alert_watch_starts_from_the_waits_and_is_handed_each_that_changes(
    redis_client: Redis,
) -> None:
    view = RedisView(redis_client)
    await view.apply(TOPIC, positioned([*STORY, *WAITS]))
    feed = WatchFeed(redis_client)

    cursor, state = await feed.start("county", timedelta(days=2))
    await view.apply(TOPIC, positioned([request_cancelled("S5", 100)], partition=1))
    _, runs = await feed.changes_after(cursor, "county", block_ms=100)

    assert sorted(state.pending) == ["S3", "S5"]
    assert runs is not None
    [changed] = runs
    assert list(changed.pending) == ["S5"]
    assert not changed.pending["S5"].waiting


async def test_runs_read_at_once_each_keep_the_tick_that_ended_them(redis_client: Redis) -> None:
    view = RedisView(redis_client)
    await view.apply(TOPIC, positioned(STORY))
    feed = WatchFeed(redis_client)
    cursor, _ = await feed.start("county", timedelta(days=2))
    later = [
        event("ClockTicked", {"clock": "county"}, 100),
        bed_status("B2", "awaiting_clean", 101),
        event("ClockTicked", {"clock": "county"}, 116),
    ]
    await view.apply(TOPIC, positioned(later, partition=2))

    _, runs = await feed.changes_after(cursor, "county", block_ms=100)

    assert runs is not None
    assert [run.clocks["county"].at for run in runs] == [
        later[0].occurred_at,
        later[2].occurred_at,
    ]
    assert list(runs[1].beds) == ["B2"]

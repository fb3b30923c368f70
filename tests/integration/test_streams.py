"""The stream worker against a real broker: events reach the view, bad ones the dead letters."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from faust.types import TopicT

from flowcentre.config import Settings
from flowcentre.domain.events import encode_event, message_key
from flowcentre.runtime import ensure_topics
from flowcentre.store.view import PositionedEvent
from streams import agents
from streams.agents import (
    OFFSET_HEADER,
    PARTITION_HEADER,
    REASON_HEADER,
    TOPIC_HEADER,
    DeadLetter,
)
from streams.app import FetchWaitConsumer
from streams.worker import running_worker
from tests.builders import admitted, bed
from tests.fakes import InMemoryView


@asynccontextmanager
async def producer_for(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord]:
    """The first ``count`` records of ``topic``, read without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(30):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        await consumer.stop()


def group_of(settings: Settings) -> str:
    # A group per test, so no test waits on another's members to leave or time out.
    return f"{settings.events_topic}.workers"


async def test_events_reach_the_view_in_order_per_partition(settings: Settings) -> None:
    assert settings.kafka_bootstrap is not None
    ensure_topics(settings.kafka_bootstrap, settings)
    stories = [
        [bed(f"B{n}"), admitted(f"S{n}", f"B{n}", minute=n), admitted(f"S{n}b", None, minute=n)]
        for n in range(8)
    ]
    sent: dict[int, list[str]] = defaultdict(list)
    view = InMemoryView()

    async with running_worker(settings, view, app_id=group_of(settings)):
        async with producer_for(settings.kafka_bootstrap) as producer:
            for story in stories:
                for one in story:
                    metadata = await producer.send_and_wait(
                        settings.events_topic, encode_event(one), key=message_key(one)
                    )
                    sent[metadata.partition].append(one.event_id)
        async with asyncio.timeout(30):
            await view.wait_for(settings.events_topic, sum(map(len, stories)))

    applied: dict[int, list[PositionedEvent]] = defaultdict(list)
    for positioned in view.applied[settings.events_topic]:
        applied[positioned.partition].append(positioned)
    assert {p: [one.event.event_id for one in events] for p, events in applied.items()} == sent
    for events in applied.values():
        offsets = [one.offset for one in events]
        assert offsets == sorted(set(offsets))
    # Every applied event was acked, so a stopped worker leaves nothing to deliver again.
    committed = await committed_offsets(
        settings.kafka_bootstrap, group_of(settings), settings.events_topic
    )
    assert committed == {p: len(ids) for p, ids in sent.items()} | {
        p: None for p in committed if p not in sent
    }


async def test_unreadable_and_unappliable_events_go_to_the_dead_letters(settings: Settings) -> None:
    assert settings.kafka_bootstrap is not None
    ensure_topics(settings.kafka_bootstrap, settings)
    refused = bed("B-refused")
    good = [bed("B1"), bed("B2"), bed("B3")]
    malformed = b'{"type": "BedRegistered", "event_id": '
    view = InMemoryView(refuse=lambda positioned: positioned.event.event_id == refused.event_id)
    key = b"ward-W1"
    values = [
        encode_event(good[0]),
        malformed,
        encode_event(good[1]),
        encode_event(refused),
        encode_event(good[2]),
    ]

    async with running_worker(settings, view, app_id=group_of(settings)):
        async with producer_for(settings.kafka_bootstrap) as producer:
            # One key, so one partition, in this order.
            positions = [
                await producer.send_and_wait(settings.events_topic, value, key=key)
                for value in values
            ]
        async with asyncio.timeout(30):
            await view.wait_for(settings.events_topic, len(good))
        letters = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic, 2)

    assert [one.event.event_id for one in view.applied[settings.events_topic]] == [
        one.event_id for one in good
    ]
    letters.sort(key=lambda record: int(dict(record.headers)[OFFSET_HEADER]))
    assert [(record.key, record.value) for record in letters] == [
        (key, malformed),
        (key, encode_event(refused)),
    ]
    headers = [dict(record.headers) for record in letters]
    assert headers[0][REASON_HEADER].decode().startswith("invalid event: not JSON")
    assert headers[1][REASON_HEADER].decode() == (
        f"apply failed: RuntimeError: refused {refused.event_id}"
    )
    assert [(h[TOPIC_HEADER], h[PARTITION_HEADER], h[OFFSET_HEADER]) for h in headers] == [
        (
            settings.events_topic.encode(),
            str(positions[n].partition).encode(),
            str(positions[n].offset).encode(),
        )
        for n in (1, 3)
    ]


async def test_the_fetch_wait_setting_reaches_the_kafka_consumer(settings: Settings) -> None:
    assert settings.kafka_bootstrap is not None
    ensure_topics(settings.kafka_bootstrap, settings)
    # Neither Faust's 1500 ms nor aiokafka's 500 ms default, so only the setting explains it.
    tuned = settings.model_copy(update={"consumer_fetch_max_wait_ms": 37})

    async with running_worker(tuned, InMemoryView(), app_id=group_of(settings)) as worker:
        consumer = worker.app.consumer
        assert isinstance(consumer, FetchWaitConsumer)
        kafka_consumer = consumer._thread._consumer
        assert kafka_consumer is not None
        # The fetcher, built by start() from the consumer's settings, is what sends fetches.
        assert kafka_consumer._fetcher._fetch_max_wait_ms == 37


async def test_a_batch_that_failed_is_delivered_again_to_the_next_worker(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.kafka_bootstrap is not None
    ensure_topics(settings.kafka_bootstrap, settings)
    first, second = bed("B1"), bed("B2")
    key = b"ward-W1"
    view = InMemoryView()

    async def unwritable(topic: TopicT, letters: Sequence[DeadLetter]) -> None:
        if letters:
            raise OSError("dead-letter topic unwritable")

    async with producer_for(settings.kafka_bootstrap) as producer:
        for value in (encode_event(first), b"not an event", encode_event(second)):
            await producer.send_and_wait(settings.events_topic, value, key=key)

    with monkeypatch.context() as patched:
        patched.setattr(agents, "send_dead_letters", unwritable)
        async with running_worker(settings, view, app_id=group_of(settings)) as worker:
            async with asyncio.timeout(30):
                await worker.wait()
    assert isinstance(worker.crash_reason, OSError)

    async with running_worker(settings, view, app_id=group_of(settings)):
        letters = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic, 1)
        async with asyncio.timeout(30):
            await view.wait_for(settings.events_topic, 2)

    assert [record.value for record in letters] == [b"not an event"]
    assert [one.event.event_id for one in view.applied[settings.events_topic]] == [
        first.event_id,
        second.event_id,
    ]

"""Rebuild the Redis view from the log: replay every event from the start, then swap.

The log is the record and Redis only a view of it, so the view can be wiped and rebuilt
at any time. The replay folds the events in memory with the same core the worker uses
and replaces the view in one transaction, so boards never see a half-built picture.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from flowcentre.domain.apply import State, apply
from flowcentre.domain.events import EventRejected, decode_event
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.view import replace_view

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    events: int
    rejected: int
    seconds: float


async def replay(bootstrap: str, topic: str) -> tuple[State, dict[int, int], int, int]:
    """Fold the topic from its start to its end as of now: (state, positions, events, rejected).

    Rejected events are the ones the worker dead-lettered; they are skipped here too.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return State(), {}, 0, 0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        listed = await consumer.end_offsets(partitions)
        # The end is fixed when replay starts. Tansu's ListOffsets answers the last batch's
        # base offset + 1 rather than the last record's, so the high watermark of the
        # first fetch, which is right on every broker, is taken when it is larger.
        ends: dict[TopicPartition, int] = {}
        remaining = set(partitions)
        state = State()
        positions: dict[int, int] = {}
        applied = rejected = 0
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=200, max_records=10_000)
            for tp in remaining:
                if tp not in ends and (highwater := consumer.highwater(tp)) is not None:
                    ends[tp] = max(listed[tp], highwater)
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        break
                    positions[tp.partition] = message.offset
                    try:
                        event = decode_event(message.value)
                    except EventRejected:
                        rejected += 1
                        continue
                    state.absorb(apply(state, event))
                    applied += 1
            for tp in list(remaining):
                if tp in ends and await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return state, positions, applied, rejected
    finally:
        await consumer.stop()


async def rebuild(bootstrap: str, redis: Redis, topic: str, prefix: str) -> RebuildReport:
    started = time.perf_counter()
    state, positions, applied, rejected = await replay(bootstrap, topic)
    await replace_view(redis, Keyspace(prefix), topic, state, positions)
    report = RebuildReport(applied, rejected, time.perf_counter() - started)
    log.info(
        "rebuilt the view from %d events (%d rejected) in %.1f s", applied, rejected, report.seconds
    )
    return report

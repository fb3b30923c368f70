"""Rebuild the Redis view from the log: replay every event from the start, then swap.

The log is the record and Redis only a view of it, so the view can be wiped and rebuilt
at any time, with the workers running. The replay folds the events in memory with the
same core the workers use, catches up with whatever the workers applied meanwhile, and
replaces the view in one transaction, so boards never see a half-built picture and
nothing a worker applied is lost.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from kafka import KafkaAdminClient
from redis.asyncio import Redis

from flowcentre.domain.apply import State, apply
from flowcentre.domain.events import EventRejected, decode_event
from flowcentre.domain.feeds import FeedKey, Heard, hear
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.view import ViewOvertaken, replace_view

log = logging.getLogger(__name__)


class NothingToReplay(RuntimeError):
    """The topic does not exist: replacing the view with nothing would only lose it."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    events: int
    rejected: int
    seconds: float


@dataclass(slots=True)
class Replay:
    """The log folded so far: the state, and the last offset read per partition."""

    consumer: AIOKafkaConsumer
    topic: str
    state: State = field(default_factory=State)
    positions: dict[int, int] = field(default_factory=dict)
    heard: dict[FeedKey, Heard] = field(default_factory=dict)
    applied: int = 0
    rejected: int = 0

    async def start(self) -> None:
        partitions = [
            TopicPartition(self.topic, p)
            for p in self.consumer.partitions_for_topic(self.topic) or ()
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        listed = await self.consumer.end_offsets(partitions)
        await self._read_until(listed, to_high_watermark=True)

    async def catch_up(self, tracked: dict[int, int]) -> None:
        """Read on until every partition is at least as far as the workers applied."""
        targets = {TopicPartition(self.topic, p): offset + 1 for p, offset in tracked.items()}
        await self._read_until(targets, to_high_watermark=False)

    async def _read_until(
        self, targets: dict[TopicPartition, int], *, to_high_watermark: bool
    ) -> None:
        """Fold each partition up to (not including) its target offset. At the start, the
        end is the high watermark of the first fetch when that is larger: Tansu's
        ListOffsets answers the last batch's base offset + 1, not the last record's."""
        ends = {} if to_high_watermark else dict(targets)
        unread = {
            tp for tp in targets if tp not in ends or await self.consumer.position(tp) < ends[tp]
        }
        fetched: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {
            tp: deque() for tp in unread
        }
        while unread or any(fetched.values()):
            hungry = [tp for tp in unread if not fetched[tp]]
            if hungry:
                batches = await self.consumer.getmany(*hungry, timeout_ms=200, max_records=10_000)
                for tp in hungry:
                    if tp not in ends and (highwater := self.consumer.highwater(tp)) is not None:
                        ends[tp] = max(targets[tp], highwater)
                for tp, messages in batches.items():
                    fetched[tp].extend(m for m in messages if m.offset < ends[tp])
                for tp in hungry:
                    if tp in ends and await self.consumer.position(tp) >= ends[tp]:
                        unread.discard(tp)
            self._fold_in_log_order(fetched, unread)

    def _fold_in_log_order(
        self,
        fetched: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]],
        unread: set[TopicPartition],
    ) -> None:
        """Fold the fetched records across partitions oldest first, by record timestamp.

        The fold's result does not depend on the order, but its cost does: read a
        partition at a time, a bed meets months of one partition's departures before the
        other partition's statuses that make them moot, and every settle walks them all.
        So records are taken oldest first while every partition still being read has one
        fetched to compare.
        """
        while not any(tp in unread and not queue for tp, queue in fetched.items()):
            heads = [queue for queue in fetched.values() if queue]
            if not heads:
                return
            record = min(heads, key=lambda queue: queue[0].timestamp).popleft()
            self._fold(record.partition, record.offset, record.value)

    def _fold(self, partition: int, offset: int, raw: bytes) -> None:
        self.positions[partition] = offset
        try:
            event = decode_event(raw)
            change = apply(self.state, event)
        except EventRejected:
            self.rejected += 1
            return
        except Exception:
            # The worker dead-letters an event whose application fails; skip it likewise.
            log.exception("skipped the event at %s/%d: applying it failed", partition, offset)
            self.rejected += 1
            return
        self.state.absorb(change)
        hear(self.heard, (event,))
        self.applied += 1


def _exists(bootstrap: str, topic: str, options: Mapping[str, Any]) -> bool:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="flowcentre-rebuild", **options)
    try:
        return topic in admin.list_topics()
    finally:
        admin.close()


async def rebuild(
    bootstrap: str,
    redis: Redis,
    topic: str,
    prefix: str,
    options: Mapping[str, Any] | None = None,
) -> RebuildReport:
    """Replay ``topic`` into a fresh view; ``options`` are aiokafka's security settings."""
    started = time.perf_counter()
    security = dict(options or {})
    if not await asyncio.to_thread(_exists, bootstrap, topic, security):
        raise NothingToReplay(f"topic {topic!r} does not exist")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **security,
    )
    await consumer.start()
    # The replay builds one long-lived state; collection passes over it find nothing to
    # free and took about half the replay's time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        replay = Replay(consumer, topic)
        await replay.start()
        while True:
            try:
                await replace_view(
                    redis,
                    Keyspace(prefix),
                    topic,
                    replay.state,
                    replay.positions,
                    replay.heard,
                )
                break
            except ViewOvertaken as overtaken:
                await replay.catch_up(overtaken.tracked)
    finally:
        if collecting:
            gc.enable()
        await consumer.stop()
    report = RebuildReport(replay.applied, replay.rejected, time.perf_counter() - started)
    log.info(
        "rebuilt the view from %d events (%d rejected) in %.1f s",
        report.events,
        report.rejected,
        report.seconds,
    )
    return report

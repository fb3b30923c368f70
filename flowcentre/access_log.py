"""The access log followed into a directory of accounts, in every process that checks access.

The access topic is small (accounts and their roles) and read whole from its start by
each API process, then followed, so a role granted or revoked takes effect everywhere
within moments, with no store of its own to keep in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from flowcentre.domain.access_events import decode_access_event
from flowcentre.domain.directory import Directory
from flowcentre.domain.events import EventRejected

log = logging.getLogger(__name__)

RETRY_S = 1.0

#: A follower that has not been at the log's end for this long reports itself unhealthy.
STALE_AFTER_S = 60.0


class AccessLogNotReady(RuntimeError):
    """The access log has not been read to its end yet, so no one can be checked."""


class AccessLog:
    def __init__(
        self, bootstrap: str, topic: str, options: Mapping[str, Any] | None = None
    ) -> None:
        self.directory = Directory()
        self._bootstrap = bootstrap
        self._options = dict(options or {})
        self._topic = topic
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # aiokafka can swallow a cancellation that lands while a consumer starts or
        # stops; the follower then keeps going, so it also ends when this is set.
        self._stopping = asyncio.Event()
        self._at_end_since: float | None = None

    def problem(self) -> str | None:
        """Why the directory cannot be trusted to be current, if it cannot."""
        if self._at_end_since is None:
            return "the access log has not been read yet"
        behind = time.monotonic() - self._at_end_since
        if behind > STALE_AFTER_S:
            return f"the access log was last read to its end {behind:.0f} s ago"
        return None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="access-log")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_ready(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            raise AccessLogNotReady("the access log has not been read yet") from None

    async def _follow(self) -> None:
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=100,
                **self._options,
            )
            try:
                await consumer.start()
                await self._read(consumer)
            except KafkaError as error:
                log.warning("access log unreadable (%s); retrying in %.0f s", error, RETRY_S)
            except Exception:
                # Anything else is a defect, but a follower that stopped would leave the
                # directory as it was, revocations unapplied: report it and read again.
                log.exception("following the access log failed; retrying in %.0f s", RETRY_S)
            finally:
                await consumer.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), RETRY_S)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        # Refreshes the metadata, which may predate the topic's creation.
        await consumer.topics()
        partitions = [
            TopicPartition(self._topic, p) for p in consumer.partitions_for_topic(self._topic) or ()
        ]
        if not partitions:
            raise KafkaError(f"topic {self._topic!r} does not exist")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Every connection reads the log from its start into a directory of its own, which
        # replaces the one in use once it has caught up: a reconnection neither misses an
        # event nor leaves the process with half a directory.
        directory = Directory()
        caught_up = False
        while not self._stopping.is_set():
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    _fold_record(directory, tp.partition, record.offset, record.value)
            if await self._at_end(consumer, partitions):
                self._at_end_since = time.monotonic()
                if not caught_up:
                    caught_up = True
                    self.directory = directory
                    log.info("access log read: %d accounts", len(directory))
                    self._ready.set()

    @staticmethod
    async def _at_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
        # The fetch high watermark, not ListOffsets: the embedded broker's ListOffsets
        # answers the last batch's base offset + 1.
        for tp in partitions:
            highwater = consumer.highwater(tp)
            if highwater is None or await consumer.position(tp) < highwater:
                return False
        return True


def _fold_record(directory: Directory, partition: int, offset: int, raw: bytes | None) -> None:
    try:
        event = decode_access_event(raw or b"")
    except EventRejected as error:
        # Only this system writes the access log; a bad record there is a defect to report,
        # and skipping it grants nothing.
        log.error("access log %d@%d skipped: %s", partition, offset, error.reason)
        return
    directory.apply(event)

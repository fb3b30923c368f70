"""In-memory stand-ins for the adapters' ports, for tests that are about something else."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from flowcentre.domain.audit import PatientDetailsRead
from flowcentre.domain.trends import TrendRecord
from flowcentre.store.audit_index import AuditIndex, AuditQuery
from flowcentre.store.rate_limits import WriteLimit
from flowcentre.store.trends import Trends
from flowcentre.store.view import LiveView, PositionedEvent
from flowcentre.webhooks import WebhookOutbox


class InMemoryView(LiveView):
    """Records what it applies, skipping positions it has applied, as the Redis view does.

    ``refuse`` picks events to fail on; a batch holding one applies nothing, since the
    real view applies a batch atomically.
    """

    def __init__(self, refuse: Callable[[PositionedEvent], bool] | None = None) -> None:
        self._refuse = refuse
        self.applied: dict[str, list[PositionedEvent]] = defaultdict(list)
        self._last_offset: dict[tuple[str, int], int] = {}
        self._changed = asyncio.Condition()

    async def apply(self, topic: str, batch: Sequence[PositionedEvent]) -> None:
        fresh = [
            positioned
            for positioned in batch
            if positioned.offset > self._last_offset.get((topic, positioned.partition), -1)
        ]
        for positioned in fresh:
            if self._refuse is not None and self._refuse(positioned):
                raise RuntimeError(f"refused {positioned.event.event_id}")
        async with self._changed:
            for positioned in fresh:
                self.applied[topic].append(positioned)
                self._last_offset[(topic, positioned.partition)] = positioned.offset
            self._changed.notify_all()

    async def wait_for(self, topic: str, count: int) -> None:
        """Wait until at least ``count`` events of ``topic`` have been applied."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.applied[topic]) >= count)


class InMemoryAuditIndex(AuditIndex):
    """Keeps reads by event id and searches them as the Redis index does."""

    def __init__(self) -> None:
        self.reads: dict[str, PatientDetailsRead] = {}

    async def add(self, reads: Sequence[PatientDetailsRead]) -> None:
        self.reads.update((read.event_id, read) for read in reads)

    async def find(self, query: AuditQuery) -> list[PatientDetailsRead]:
        if query.patient is None and query.reader is None:
            raise ValueError("name a patient or a reader")

        def matches(read: PatientDetailsRead) -> bool:
            named = {shown.patient_id for shown in read.payload.patients} | {
                shown.nhs_number for shown in read.payload.patients if shown.nhs_number
            }
            return (
                (query.patient is None or query.patient in named)
                and (query.reader is None or query.reader == read.caused_by.id)
                and (query.since is None or read.occurred_at >= query.since)
                and (query.until is None or read.occurred_at <= query.until)
            )

        found = sorted(filter(matches, self.reads.values()), key=PatientDetailsRead.order)
        return found[::-1][: query.limit]


class Unlimited(WriteLimit):
    """Allows every write: for tests that are not about the limit."""

    def __init__(self) -> None:
        """No limiter to count with."""

    async def allow(self, account_id: str) -> bool:
        return True


class NoWebhookFailures(WebhookOutbox):
    """An outbox with no failures to list: for tests that are not about webhooks."""

    def __init__(self) -> None:
        """No Redis to keep notices in."""

    async def failures(self, count: int = 100) -> list[dict[str, Any]]:
        return []


class KeptTrends(Trends):
    """Trends held in memory."""

    def __init__(self, records: dict[str, TrendRecord]) -> None:
        super().__init__(Redis())
        self._kept = records

    async def record(self, place: str) -> TrendRecord | None:
        return self._kept.get(place)

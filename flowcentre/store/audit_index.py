"""The audit trail indexed in Redis by patient and by reader, for administrators to search.

Derived from the audit topic, which keeps the whole trail: each record is stored once
under its event id and listed, by the time of the read, under its reader, each patient's
identifier and each NHS number it shows. Adding a record again changes nothing, so a
redelivered batch is harmless. The index keeps ``keep_days`` of reads.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from redis.asyncio import Redis

from flowcentre.domain.audit import PatientDetailsRead, decode_audit_event
from flowcentre.domain.events import encode_event
from flowcentre.store.keyspace import text


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Reads of a patient (their identifier or NHS number), by a reader, or both."""

    patient: str | None = None
    reader: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000


def _instant(at: datetime) -> float:
    """Seconds since the epoch; a time given without a zone is taken as UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


class AuditIndex(abc.ABC):
    """The port the worker indexes reads through and administrators search."""

    @abc.abstractmethod
    async def add(self, reads: Sequence[PatientDetailsRead]) -> None:
        """Index the reads; indexing one again changes nothing."""

    @abc.abstractmethod
    async def find(self, query: AuditQuery) -> list[PatientDetailsRead]:
        """The matching reads, newest first; ValueError if it names no patient or reader."""


class RedisAuditIndex(AuditIndex):
    def __init__(self, redis: Redis, prefix: str, keep_days: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}-audit:"
        self._keep = timedelta(days=keep_days)

    def _record(self, event_id: str) -> str:
        return f"{self._prefix}read:{event_id}"

    def _by_patient(self, patient: str) -> str:
        return f"{self._prefix}patient:{patient}"

    def _by_reader(self, reader: str) -> str:
        return f"{self._prefix}reader:{reader}"

    async def add(self, reads: Sequence[PatientDetailsRead]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for read in reads:
                at = read.occurred_at.timestamp()
                expires = read.occurred_at + self._keep
                pipe.set(self._record(read.event_id), encode_event(read), exat=expires)
                lists = {self._by_reader(read.caused_by.id)}
                for shown in read.payload.patients:
                    lists.add(self._by_patient(shown.patient_id))
                    if shown.nhs_number:
                        lists.add(self._by_patient(shown.nhs_number))
                for key in lists:
                    pipe.zadd(key, {read.event_id: at})
                    pipe.zremrangebyscore(key, "-inf", (read.occurred_at - self._keep).timestamp())
                    # A list no read joins again goes when its newest read would.
                    pipe.expireat(key, expires, gt=True)
                    pipe.expireat(key, expires, nx=True)
            await pipe.execute()

    async def find(self, query: AuditQuery) -> list[PatientDetailsRead]:
        if query.patient is None and query.reader is None:
            raise ValueError("name a patient or a reader")
        low = _instant(query.since) if query.since else "-inf"
        high = _instant(query.until) if query.until else "+inf"
        keys = [
            key
            for key in (
                self._by_patient(query.patient) if query.patient else None,
                self._by_reader(query.reader) if query.reader else None,
            )
            if key is not None
        ]
        # One list is read newest first and cut at the limit; two are intersected whole,
        # and a patient's list is short.
        num = query.limit if len(keys) == 1 else None
        matched: set[str] | None = None
        for key in keys:
            newest = await self._redis.zrevrangebyscore(
                key, high, low, start=0 if num else None, num=num
            )
            members = cast(list[bytes], newest)
            ids = {text(member) for member in members}
            matched = ids if matched is None else matched & ids
        if not matched:
            return []
        stored = await self._redis.mget([self._record(event_id) for event_id in matched])
        reads = [decode_audit_event(raw) for raw in stored if isinstance(raw, bytes)]
        reads.sort(key=lambda read: read.order(), reverse=True)
        return reads[: query.limit]

"""Reported OPEL readings and each site's and the system's levels, folded from their
events in any order: a reading stands until one measured later, and a place's levels
are its assessments in event-time order, of the last week before the latest."""

from __future__ import annotations

from datetime import timedelta

from flowcentre.domain.contract import Contract
from flowcentre.domain.events import OpelAssessed, OpelChange, OpelReadingRecorded
from flowcentre.domain.model import Stamp

KEPT = timedelta(days=8)
"""Enough for a week of levels on the managers' charts."""


def reading_key(site_id: str | None, parameter: str) -> str:
    return f"{site_id or 'system'}:{parameter}"


class ReadingRecord(Contract):
    key: str
    site_id: str | None
    parameter: str
    value: float
    measured: Stamp


def reading_recorded(record: ReadingRecord | None, event: OpelReadingRecorded) -> ReadingRecord:
    stamp = Stamp.of(event)
    if record is not None and record.measured.order() >= stamp.order():
        return record
    payload = event.payload
    return ReadingRecord(
        key=reading_key(payload.site_id, payload.parameter),
        site_id=payload.site_id,
        parameter=payload.parameter,
        value=payload.value,
        measured=stamp,
    )


def place_key(change: OpelChange) -> str:
    return change.scope.id or "system"


class LevelAt(Contract):
    change: OpelChange
    stamp: Stamp


class OpelRecord(Contract):
    place: str
    """A site's id, or ``system``."""
    levels: tuple[LevelAt, ...] = ()

    @property
    def current(self) -> LevelAt | None:
        return self.levels[-1] if self.levels else None


def assessed(record: OpelRecord | None, event: OpelAssessed) -> OpelRecord:
    record = record or OpelRecord(place=place_key(event.payload))
    if any(one.stamp.event_id == event.event_id for one in record.levels):
        return record
    levels = sorted(
        (*record.levels, LevelAt(change=event.payload, stamp=Stamp.of(event))),
        key=lambda one: one.stamp.order(),
    )
    latest = levels[-1].stamp.at
    return record.model_copy(
        update={"levels": tuple(one for one in levels if latest - one.stamp.at <= KEPT)}
    )

"""Pending admissions: patients a hospital has decided to admit who have no bed yet.

A spell's wait for a bed is a pure function of the set of its events, as the spell itself
is (``spells.py``): the requests to admit and their cancels, and the events that show the
patient got a bed or left. They are read in event-time order, so a request that arrives
after the admission that ended it, or a cancel that arrives before its request, ends in
the same wait as the clean feed. The rules are stated in ``docs/events.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime

from flowcentre.domain.contract import Contract
from flowcentre.domain.events import (
    AdmissionCancelled,
    AdmissionRequestCancelled,
    AdmissionRequested,
    BedsSwapped,
    PatientAdmitted,
    PatientDischarged,
    PatientTransferred,
)
from flowcentre.domain.model import Spell, Stamp

#: The spell events a wait depends on; any other leaves it as it was.
WAIT_EVENTS = (
    AdmissionRequested,
    AdmissionRequestCancelled,
    PatientAdmitted,
    PatientTransferred,
    BedsSwapped,
    PatientDischarged,
    AdmissionCancelled,
)


class WaitOutcome(StrEnum):
    """How a wait for a bed ended."""

    ADMITTED = "admitted"
    """The patient got a bed: admitted, or moved into one."""
    CANCELLED = "cancelled"
    """The request, or the admission, was cancelled."""
    LEFT = "left"
    """Discharged without an admission the feed sent."""


class PendingAdmission(Contract):
    """A spell's wait for a bed, from the request that opened it to what ended it.

    The place and times are the latest request's; the decision is the first's, so a
    request sent again with a new ward does not restart the wait."""

    spell_id: str
    site_id: str
    ward_id: str | None = None
    specialty: str | None = None
    decided_at: AwareDatetime
    expected_at: AwareDatetime | None = None
    requested: Stamp
    """The request that opened the wait."""
    updated: Stamp
    """The latest request of the wait, whose place and expected time these are."""
    ended: Stamp | None = None
    outcome: WaitOutcome | None = None

    @property
    def waiting(self) -> bool:
        return self.ended is None


@dataclass(slots=True)
class _Reading:
    """The scratchpad of one read of a spell's events."""

    wait: PendingAdmission | None = None
    bed: tuple[Stamp, WaitOutcome] | None = None
    """What gave the spell a bed, or ended it, since its admission was last cancelled."""

    def end(self, stamp: Stamp, outcome: WaitOutcome) -> None:
        if self.wait is not None and self.wait.waiting:
            self.wait = self.wait.model_copy(update={"ended": stamp, "outcome": outcome})

    def settle(self, stamp: Stamp, outcome: WaitOutcome) -> None:
        self.end(stamp, outcome)
        if self.bed is None:
            self.bed = (stamp, outcome)

    def request(self, event: AdmissionRequested) -> None:
        stamp = Stamp.of(event)
        payload = event.payload
        place: dict[str, Any] = {
            "site_id": payload.site_id,
            "ward_id": payload.ward_id,
            "specialty": payload.specialty,
            "expected_at": payload.expected_at,
            "updated": stamp,
        }
        if self.wait is not None and self.wait.waiting:
            self.wait = self.wait.model_copy(update=place)
            return
        if self.bed is not None and self.wait is not None:
            # The patient already had a bed: this repeats a decision that wait settled.
            return
        opened = PendingAdmission.model_construct(
            spell_id=payload.spell_id,
            decided_at=payload.decided_at,
            requested=stamp,
            ended=None,
            outcome=None,
            **place,
        )
        if self.bed is not None:
            # A request the feed sent after the admission (or discharge) that answered it.
            ended, outcome = self.bed
            opened = opened.model_copy(update={"ended": ended, "outcome": outcome})
        self.wait = opened


def wait_of(spell: Spell | None) -> PendingAdmission | None:
    """The spell's latest wait for a bed; None when nobody ever asked for one.

    In event-time order: a request opens a wait unless the spell already has had a bed
    since its admission was last cancelled; a request during a wait updates its place; the
    wait ends at a cancel of the request, an admission, a move into a bed, a discharge or a
    cancelled admission; and an ended wait never opens again: only a new request, after a
    cancel, opens a new one.
    """
    if spell is None:
        return None
    reading = _Reading()
    for event in spell.events:
        if isinstance(event, AdmissionRequested):
            reading.request(event)
        elif isinstance(event, AdmissionRequestCancelled):
            reading.end(Stamp.of(event), WaitOutcome.CANCELLED)
        elif isinstance(event, PatientAdmitted | PatientTransferred | BedsSwapped):
            reading.settle(Stamp.of(event), WaitOutcome.ADMITTED)
        elif isinstance(event, PatientDischarged):
            reading.settle(Stamp.of(event), WaitOutcome.LEFT)
        elif isinstance(event, AdmissionCancelled):
            # The admission never happened, so the spell may wait for a bed again; the
            # wait it ended stays ended, having been answered.
            reading.end(Stamp.of(event), WaitOutcome.CANCELLED)
            reading.bed = None
    return reading.wait


def pending_view(record: PendingAdmission) -> dict[str, Any]:
    """What the view's deltas say of a wait: where and since when, never who."""
    return {
        "spell_id": record.spell_id,
        "site_id": record.site_id,
        "ward_id": record.ward_id,
        "specialty": record.specialty,
        "decided_at": record.decided_at.isoformat(),
        "expected_at": record.expected_at.isoformat() if record.expected_at else None,
        "waiting": record.waiting,
        "ended_at": record.ended.at.isoformat() if record.ended else None,
        "outcome": record.outcome.value if record.outcome else None,
    }

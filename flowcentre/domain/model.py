"""The records of the live picture: beds and patient spells, and when and why they changed.

Registry entries (organisations, sites, wards) are kept as the registration event that
currently wins; beds and spells are records folded from their events.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from flowcentre.domain.beds import BedState, BedStatus
from flowcentre.domain.contract import Contract
from flowcentre.domain.events import (
    Actor,
    BedDetails,
    CapacityRef,
    DischargeDestination,
    EventBase,
    Location,
    Patient,
    Sex,
    SpellEvent,
    Triage,
)
from flowcentre.domain.triage import Pathway, TaskKind, TaskStatus


class Stamp(Contract):
    """When a fact was established, by whom, and its place in event-time order."""

    at: AwareDatetime
    recorded_at: AwareDatetime
    event_id: str
    by: Actor

    @classmethod
    def of(cls, event: EventBase) -> Stamp:
        # Records are built from values already validated as events, so the fold skips
        # validating them again (model_construct): it runs for every event applied.
        return cls.model_construct(
            at=event.occurred_at,
            recorded_at=event.recorded_at,
            event_id=event.event_id,
            by=event.caused_by,
        )

    def order(self) -> tuple[datetime, datetime, str]:
        return (self.at, self.recorded_at, self.event_id)


class SpellStatus(StrEnum):
    AWAITING_ADMISSION = "awaiting_admission"
    ADMITTED = "admitted"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"


class MoveKind(StrEnum):
    """How the patient arrived at a stay: only a transfer can be cancelled."""

    ADMISSION = "admission"
    TRANSFER = "transfer"
    SWAP = "swap"


class Stay(Contract):
    """A spell's time at one location; ``end`` is None while the patient is there."""

    location: Location
    start: Stamp
    end: Stamp | None = None
    arrival: MoveKind = MoveKind.ADMISSION


class DateChange(Contract):
    """One setting of the expected discharge date: its history shows how often it slipped."""

    date: date | None
    stamp: Stamp


class ResideStatus(Contract):
    """The latest review of the criteria to reside."""

    meets_criteria: bool
    reviewed: Stamp
    not_met_since: Stamp | None
    """The review that first found the criteria not met, since they were last met."""
    delay_reason: str | None = None
    note: str | None = None


class MarkedDay(Contract):
    """A day of the stay marked red or green: the latest mark of that day, in event order."""

    day: date
    green: bool
    reason: str | None
    stamp: Stamp


class AllocatedPathway(Contract):
    """One triage of a referral: the answers, the proposal and the pathway allocated."""

    triage: Triage
    stamp: Stamp


class ReferralRecord(Contract):
    """A referral to the flow centre, from when it was raised to the discharge it led to."""

    referral_id: str
    referred: Stamp
    note: str | None = None
    cancelled: Stamp | None = None
    cancel_reason: str | None = None
    allocations: tuple[AllocatedPathway, ...] = ()
    discharged: Stamp | None = None

    @property
    def open(self) -> bool:
        return self.cancelled is None and self.discharged is None

    @property
    def pathway(self) -> Pathway | None:
        return self.allocations[-1].triage.pathway if self.allocations else None


class TaskRecord(Contract):
    task: TaskKind
    status: TaskStatus
    due_at: AwareDatetime | None = None
    note: str | None = None
    stamp: Stamp | None = None
    """The update that set it; None for a task the pathway needs that nobody has touched."""


class ReservationRecord(Contract):
    """A slot or bed held for the patient: used by their discharge, or expired, or released."""

    reservation_id: str
    capacity: CapacityRef
    reserved: Stamp
    expires_at: AwareDatetime
    released: Stamp | None = None
    used: Stamp | None = None

    def holds_at(self, moment: datetime) -> bool:
        """Whether it still holds the slot at ``moment``, unused and unexpired."""
        return (
            self.released is None
            and self.used is None
            and self.reserved.at <= moment < self.expires_at
        )

    def takes_at(self, moment: datetime) -> bool:
        """Whether it counts against the pool at ``moment``: held, or used."""
        return self.used is not None or self.holds_at(moment)


class Spell(Contract):
    """A patient's hospital spell: its events, and the facts folded from them."""

    spell_id: str
    # The discriminator lets a stored spell's events be parsed by their type field
    # rather than by trying each event type in turn.
    events: tuple[Annotated[SpellEvent, Field(discriminator="type")], ...] = ()
    status: SpellStatus = SpellStatus.AWAITING_ADMISSION
    patient: Patient | None = None
    specialty: str | None = None
    admitted: Stamp | None = None
    discharged: Stamp | None = None
    destination: DischargeDestination | None = None
    expected_discharge_date: date | None = None
    expected_destination: DischargeDestination | None = None
    on_leave: bool = False
    stays: tuple[Stay, ...] = ()
    clinical_criteria: str | None = None
    expected_discharge_dates: tuple[DateChange, ...] = ()
    reside: ResideStatus | None = None
    marked_days: tuple[MarkedDay, ...] = ()
    """Each day marked red or green, earliest first."""
    referrals: tuple[ReferralRecord, ...] = ()
    task_updates: tuple[TaskRecord, ...] = ()
    """The latest update of each task, in the order tasks were first updated."""
    reservations: tuple[ReservationRecord, ...] = ()

    @property
    def initials(self) -> str:
        """What boards call the patient by: the initials of the given and family names."""
        patient = self.patient
        if patient is None:
            return "?"
        names = (patient.given_name, patient.family_name)
        return "".join(name.strip()[0].upper() for name in names if name and name.strip()) or "?"

    @property
    def referral(self) -> ReferralRecord | None:
        """The referral being worked: the latest, unless cancelled."""
        latest = self.referrals[-1] if self.referrals else None
        return latest if latest is not None and latest.cancelled is None else None

    @property
    def tasks(self) -> tuple[TaskRecord, ...]:
        """The tasks the current pathway needs, then any other task someone updated."""
        referral = self.referral
        needed = referral.allocations[-1].triage.tasks if referral and referral.allocations else ()
        updated = {record.task: record for record in self.task_updates}
        listed = [
            updated.get(kind) or TaskRecord(task=kind, status=TaskStatus.PENDING) for kind in needed
        ]
        listed.extend(record for record in self.task_updates if record.task not in needed)
        return tuple(listed)

    @property
    def latest_marked_day(self) -> MarkedDay | None:
        return self.marked_days[-1] if self.marked_days else None

    @property
    def location(self) -> Location | None:
        """Where the patient is now, or was last if the spell has ended."""
        return self.stays[-1].location if self.stays else None

    @property
    def in_hospital(self) -> bool:
        return self.status is SpellStatus.ADMITTED and bool(self.stays)


class Occupant(Contract):
    """The least a board needs to know about the patient in a bed."""

    spell_id: str
    initials: str
    sex: Sex
    arrived: Stamp
    admitted_at: AwareDatetime | None
    expected_discharge_date: date | None
    on_leave: bool
    sharing_objection: bool = False
    """Initials are shown only to staff of the organisation running the ward."""


class Departure(Contract):
    """The latest time a spell left a bed: a bed left after its last status needs cleaning."""

    spell_id: str
    left: Stamp


class StatusMark(Contract):
    status: BedStatus
    reason: str | None
    stamp: Stamp


class Bed(Contract):
    """A bed: its registration, its status, its occupants and what it shows on a board."""

    bed_id: str
    ward_id: str
    details: BedDetails | None = None
    registration: Stamp | None = None
    decommissioned: bool = False
    status: StatusMark | None = None
    occupants: tuple[Occupant, ...] = ()
    departures: tuple[Departure, ...] = ()
    state: BedState = BedState.AVAILABLE
    since: Stamp | None = None

    @property
    def registered(self) -> bool:
        return self.details is not None and not self.decommissioned

    @property
    def conflict(self) -> bool:
        """More than one patient placed in the bed: the feed disagrees with itself."""
        return len(self.occupants) > 1


class PoolReservation(Contract):
    spell_id: str
    reservation: ReservationRecord


class CapacityPool(Contract):
    """One pool of community or social care capacity: what its provider declared, and the
    reservations held against it."""

    key: str
    capacity: CapacityRef
    organisation_id: str | None = None
    available: int = 0
    """As the provider last declared it, reservations included; 0 until it declares."""
    declared: Stamp | None = None
    reservations: tuple[PoolReservation, ...] = ()

    def taken_at(self, moment: datetime) -> int:
        return sum(1 for held in self.reservations if held.reservation.takes_at(moment))

    def free_at(self, moment: datetime) -> int:
        """Slots left to reserve at ``moment``; negative when it is overbooked."""
        return self.available - self.taken_at(moment)

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
from flowcentre.domain.events import (
    Actor,
    BedDetails,
    Contract,
    DischargeDestination,
    EventBase,
    Location,
    Patient,
    Sex,
    SpellEvent,
)


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

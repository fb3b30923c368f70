"""The spell fold: a patient's spell is a pure function of the set of its events.

The events are replayed in event-time order (``EventBase.order``), whatever order they
arrived in, and an event id seen before is ignored. So a late, duplicated or reordered
feed converges on the same spell as the clean feed, and a correction that arrives late
is folded in where it belongs. The rules below are documented in ``docs/events.md``.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import date
from functools import singledispatch

from flowcentre.domain.events import (
    AdmissionCancelled,
    BedsSwapped,
    DischargeCancelled,
    DischargeDestination,
    Location,
    Patient,
    PatientAdmitted,
    PatientDischarged,
    PatientReturnedFromLeave,
    PatientTransferred,
    PatientWentOnLeave,
    SpellEvent,
    SpellUpdated,
    TransferCancelled,
)
from flowcentre.domain.model import MoveKind, Spell, SpellStatus, Stamp, Stay


@dataclass(frozen=True, slots=True)
class _Move:
    location: Location
    stamp: Stamp
    kind: MoveKind
    stay: Stay | None = None
    """The stay this move already made, when the fold resumed from a stored spell."""


@dataclass(slots=True)
class _Fold:
    """The mutable scratchpad of one fold; only the finished Spell leaves this module."""

    spell_id: str
    status: SpellStatus = SpellStatus.AWAITING_ADMISSION
    moves: list[_Move] = field(default_factory=list)
    discharged: Stamp | None = None
    admitted: Stamp | None = None
    patient: Patient | None = None
    specialty: str | None = None
    destination: DischargeDestination | None = None
    expected_discharge_date: date | None = None
    expected_destination: DischargeDestination | None = None
    on_leave: bool = False

    def arrive(self, location: Location, stamp: Stamp, kind: MoveKind) -> None:
        if not self.moves or self.moves[-1].location != location:
            self.moves.append(_Move(location, stamp, kind))

    def finish(self, events: tuple[SpellEvent, ...]) -> Spell:
        discharged = self.discharged
        stays = []
        for index, move in enumerate(self.moves):
            following = self.moves[index + 1] if index + 1 < len(self.moves) else None
            end = following.stamp if following else discharged
            if move.stay is not None and move.stay.end == end:
                stays.append(move.stay)
                continue
            stays.append(
                Stay.model_construct(
                    location=move.location, start=move.stamp, end=end, arrival=move.kind
                )
            )
        return Spell.model_construct(
            spell_id=self.spell_id,
            events=events,
            status=self.status,
            patient=self.patient,
            specialty=self.specialty,
            admitted=self.admitted,
            discharged=discharged,
            destination=self.destination,
            expected_discharge_date=self.expected_discharge_date,
            expected_destination=self.expected_destination,
            on_leave=self.on_leave,
            stays=tuple(stays),
        )


def fold(spell_id: str, events: tuple[SpellEvent, ...]) -> Spell:
    """Fold events already in event-time order into a spell."""
    state = _Fold(spell_id)
    for event in events:
        _step(event, state)
    return state.finish(events)


def _resume(spell: Spell) -> _Fold:
    """The fold's state as it was when it produced this spell: a spell records all of it."""
    return _Fold(
        spell_id=spell.spell_id,
        status=spell.status,
        moves=[_Move(stay.location, stay.start, stay.arrival, stay) for stay in spell.stays],
        discharged=spell.discharged,
        admitted=spell.admitted,
        patient=spell.patient,
        specialty=spell.specialty,
        destination=spell.destination,
        expected_discharge_date=spell.expected_discharge_date,
        expected_destination=spell.expected_destination,
        on_leave=spell.on_leave,
    )


def add_event(spell: Spell | None, spell_id: str, event: SpellEvent) -> Spell | None:
    """The spell with one more event folded in, or None when the event is a duplicate."""
    events = list(spell.events) if spell else []
    if any(known.event_id == event.event_id for known in events):
        return None
    if spell is not None and events and events[-1].order() < event.order():
        # The usual case, an event later than all before it, continues the fold; only a
        # late event makes the spell fold again from the start.
        state = _resume(spell)
        _step(event, state)
        return state.finish((*events, event))
    insort(events, event, key=lambda known: known.order())
    return fold(spell_id, tuple(events))


def _admit_implicitly(state: _Fold) -> None:
    """A transfer or swap without a live admission means the admission was not seen (the
    feed started mid-stay, or a re-admission is still in flight): the patient is in
    hospital."""
    if state.status in (SpellStatus.AWAITING_ADMISSION, SpellStatus.CANCELLED):
        state.status = SpellStatus.ADMITTED
        state.moves.clear()
        state.admitted = None


@singledispatch
def _step(event: SpellEvent, state: _Fold) -> None:
    raise TypeError(f"no spell rule for {type(event).__name__}")


@_step.register
def _(event: PatientAdmitted, state: _Fold) -> None:
    stamp = Stamp.of(event)
    payload = event.payload
    if state.status in (SpellStatus.AWAITING_ADMISSION, SpellStatus.CANCELLED):
        # A first admission, or a re-admission after a cancel: the spell starts afresh.
        state.moves.clear()
        state.admitted = stamp
    # An admission after a discharge reopens the spell; its stays stand, so a bed the
    # patient left still needs cleaning.
    state.discharged = None
    state.destination = None
    state.status = SpellStatus.ADMITTED
    state.patient = payload.patient
    if payload.specialty is not None:
        state.specialty = payload.specialty
    if payload.expected_discharge_date is not None:
        state.expected_discharge_date = payload.expected_discharge_date
    # A repeated admission message for a live spell corrects where the patient is.
    state.arrive(payload.location, stamp, MoveKind.ADMISSION)


@_step.register
def _(event: PatientTransferred, state: _Fold) -> None:
    if state.status is SpellStatus.DISCHARGED:
        return
    _admit_implicitly(state)
    state.arrive(event.payload.location, Stamp.of(event), MoveKind.TRANSFER)


@_step.register
def _(event: BedsSwapped, state: _Fold) -> None:
    if state.status is SpellStatus.DISCHARGED:
        return
    payload = event.payload
    location = payload.location if payload.spell_id == state.spell_id else payload.other_location
    _admit_implicitly(state)
    state.arrive(location, Stamp.of(event), MoveKind.SWAP)


@_step.register
def _(event: PatientDischarged, state: _Fold) -> None:
    if state.status is SpellStatus.CANCELLED:
        return
    state.status = SpellStatus.DISCHARGED
    state.discharged = Stamp.of(event)
    state.destination = event.payload.destination
    state.on_leave = False


@_step.register
def _(event: AdmissionCancelled, state: _Fold) -> None:
    state.status = SpellStatus.CANCELLED
    state.moves.clear()
    state.discharged = state.admitted = state.destination = None
    state.on_leave = False


@_step.register
def _(event: TransferCancelled, state: _Fold) -> None:
    if state.status is not SpellStatus.ADMITTED:
        return
    wanted = event.payload.location
    # Only a transfer is cancelled: a swap moved another patient too, so undoing one side
    # would put two patients in one bed; the PAS undoes a swap with another swap.
    latest = len(state.moves) - 1
    candidates = range(latest, -1, -1) if wanted else range(latest, max(latest - 1, -1), -1)
    for index in candidates:
        move = state.moves[index]
        if move.kind is MoveKind.TRANSFER and (wanted is None or move.location == wanted):
            # The transfer never happened: the patient stayed where they were before it.
            del state.moves[index]
            rejoined = 0 < index < len(state.moves)
            if rejoined and state.moves[index - 1].location == state.moves[index].location:
                del state.moves[index]
            return


@_step.register
def _(event: DischargeCancelled, state: _Fold) -> None:
    if state.status is SpellStatus.DISCHARGED:
        state.status = SpellStatus.ADMITTED
        state.discharged = None
        state.destination = None


@_step.register
def _(event: SpellUpdated, state: _Fold) -> None:
    payload = event.payload
    for name in payload.model_fields_set - {"spell_id", "patient"}:
        setattr(state, name, getattr(payload, name))
    if "patient" in payload.model_fields_set and payload.patient is not None:
        known = state.patient
        state.patient = known.updated_by(payload.patient) if known else payload.patient


@_step.register
def _(event: PatientWentOnLeave, state: _Fold) -> None:
    if state.status is SpellStatus.ADMITTED:
        state.on_leave = True


@_step.register
def _(event: PatientReturnedFromLeave, state: _Fold) -> None:
    state.on_leave = False

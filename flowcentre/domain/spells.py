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
    AdmissionRequestCancelled,
    AdmissionRequested,
    BedsSwapped,
    CapacityReserved,
    CriteriaToResideReviewed,
    DischargeCancelled,
    DischargeDestination,
    DischargeTaskUpdated,
    Location,
    Patient,
    PatientAdmitted,
    PatientDischarged,
    PatientReferred,
    PatientReturnedFromLeave,
    PatientTransferred,
    PatientTriaged,
    PatientWentOnLeave,
    RedGreenDayMarked,
    ReferralCancelled,
    ReservationReleased,
    SpellEvent,
    SpellUpdated,
    TransferCancelled,
)
from flowcentre.domain.model import (
    AllocatedPathway,
    DateChange,
    MarkedDay,
    MoveKind,
    ReferralRecord,
    ReservationRecord,
    ResideStatus,
    Spell,
    SpellStatus,
    Stamp,
    Stay,
    TaskRecord,
)
from flowcentre.domain.triage import TaskKind


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
    clinical_criteria: str | None = None
    expected_discharge_dates: list[DateChange] = field(default_factory=list)
    reside: ResideStatus | None = None
    marked_days: dict[date, MarkedDay] = field(default_factory=dict)
    referrals: list[ReferralRecord] = field(default_factory=list)
    task_updates: dict[TaskKind, TaskRecord] = field(default_factory=dict)
    reservations: list[ReservationRecord] = field(default_factory=list)

    def expect_discharge(self, day: date | None, stamp: Stamp) -> None:
        if day != self.expected_discharge_date or not self.expected_discharge_dates:
            self.expected_discharge_dates.append(DateChange.model_construct(date=day, stamp=stamp))
        self.expected_discharge_date = day

    def referral_index(self, referral_id: str) -> int | None:
        return next(
            (i for i, known in enumerate(self.referrals) if known.referral_id == referral_id),
            None,
        )

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
            clinical_criteria=self.clinical_criteria,
            expected_discharge_dates=tuple(self.expected_discharge_dates),
            reside=self.reside,
            marked_days=tuple(sorted(self.marked_days.values(), key=lambda marked: marked.day)),
            referrals=tuple(self.referrals),
            task_updates=tuple(self.task_updates.values()),
            reservations=tuple(self.reservations),
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
        clinical_criteria=spell.clinical_criteria,
        expected_discharge_dates=list(spell.expected_discharge_dates),
        reside=spell.reside,
        marked_days={marked.day: marked for marked in spell.marked_days},
        referrals=list(spell.referrals),
        task_updates={record.task: record for record in spell.task_updates},
        reservations=list(spell.reservations),
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
        state.expect_discharge(payload.expected_discharge_date, stamp)
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
    stamp = Stamp.of(event)
    if state.status is SpellStatus.DISCHARGED and state.discharged is not None:
        # A repeated discharge corrects the first: what that one closed, this one closes.
        _reopen_what_discharge_closed(state)
    state.status = SpellStatus.DISCHARGED
    state.discharged = stamp
    state.destination = event.payload.destination
    state.on_leave = False
    # The discharge ends the referral's clock and takes up the slot held for the patient.
    state.referrals = [
        known.model_copy(update={"discharged": stamp}) if known.open else known
        for known in state.referrals
    ]
    state.reservations = [
        held.model_copy(update={"used": stamp}) if held.holds_at(stamp.at) else held
        for held in state.reservations
    ]


def _reopen_what_discharge_closed(state: _Fold) -> None:
    closed = state.discharged
    state.referrals = [
        known.model_copy(update={"discharged": None}) if known.discharged == closed else known
        for known in state.referrals
    ]
    state.reservations = [
        held.model_copy(update={"used": None}) if held.used == closed else held
        for held in state.reservations
    ]


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
        # The discharge never happened: its referral's clock runs on, its slot is held.
        _reopen_what_discharge_closed(state)
        state.status = SpellStatus.ADMITTED
        state.discharged = None
        state.destination = None


@_step.register
def _(event: SpellUpdated, state: _Fold) -> None:
    payload = event.payload
    for name in payload.model_fields_set - {"spell_id", "patient", "expected_discharge_date"}:
        setattr(state, name, getattr(payload, name))
    if "expected_discharge_date" in payload.model_fields_set:
        state.expect_discharge(payload.expected_discharge_date, Stamp.of(event))
    if "patient" in payload.model_fields_set and payload.patient is not None:
        known = state.patient
        state.patient = known.updated_by(payload.patient) if known else payload.patient


@_step.register
def _(event: AdmissionRequested, state: _Fold) -> None:
    # Until an admission names the patient, the request to admit them does; once they
    # have a bed, the admission's messages are the ones that speak for them.
    if state.status in (SpellStatus.AWAITING_ADMISSION, SpellStatus.CANCELLED):
        known, sent = state.patient, event.payload.patient
        state.patient = known.updated_by(sent) if known else sent


@_step.register
def _(event: AdmissionRequestCancelled, state: _Fold) -> None:
    """Nothing of the spell to undo: the wait it ends is ``pending_admissions.py``'s."""


@_step.register
def _(event: PatientWentOnLeave, state: _Fold) -> None:
    if state.status is SpellStatus.ADMITTED:
        state.on_leave = True


@_step.register
def _(event: PatientReturnedFromLeave, state: _Fold) -> None:
    state.on_leave = False


@_step.register
def _(event: CriteriaToResideReviewed, state: _Fold) -> None:
    payload = event.payload
    stamp = Stamp.of(event)
    since = None
    if not payload.meets_criteria:
        before = state.reside
        still = before is not None and not before.meets_criteria
        since = before.not_met_since if still and before is not None else stamp
    state.reside = ResideStatus.model_construct(
        meets_criteria=payload.meets_criteria,
        reviewed=stamp,
        not_met_since=since,
        delay_reason=payload.delay_reason,
        note=payload.note,
    )


@_step.register
def _(event: RedGreenDayMarked, state: _Fold) -> None:
    # Events fold in event-time order, so the mark that replaces a day's is the later:
    # a correction wins, and a late or repeated mark lands where it belongs. Like a
    # review, a mark is kept whatever the spell's status: a day of a stay that has ended
    # can still be marked.
    payload = event.payload
    state.marked_days[payload.day] = MarkedDay.model_construct(
        day=payload.day, green=payload.green, reason=payload.reason, stamp=Stamp.of(event)
    )


@_step.register
def _(event: PatientReferred, state: _Fold) -> None:
    payload = event.payload
    if state.referral_index(payload.referral_id) is not None:
        return
    stamp = Stamp.of(event)
    _replace_open_referrals(state, stamp, payload.referral_id)
    state.referrals.append(
        ReferralRecord.model_construct(
            referral_id=payload.referral_id,
            referred=stamp,
            note=payload.note,
            cancelled=None,
            cancel_reason=None,
            allocations=(),
            # A referral the feed's earlier discharge overtook is closed by it; a
            # cancelled discharge reopens it with the rest.
            discharged=state.discharged,
        )
    )


def _replace_open_referrals(state: _Fold, stamp: Stamp, referral_id: str) -> None:
    """One referral is worked at a time: a new one replaces one still open."""
    state.referrals = [
        known.model_copy(update={"cancelled": stamp, "cancel_reason": f"replaced by {referral_id}"})
        if known.open
        else known
        for known in state.referrals
    ]


@_step.register
def _(event: ReferralCancelled, state: _Fold) -> None:
    payload = event.payload
    index = state.referral_index(payload.referral_id)
    if index is None or not state.referrals[index].open:
        return
    state.referrals[index] = state.referrals[index].model_copy(
        update={"cancelled": Stamp.of(event), "cancel_reason": payload.reason}
    )


@_step.register
def _(event: PatientTriaged, state: _Fold) -> None:
    payload = event.payload
    stamp = Stamp.of(event)
    index = state.referral_index(payload.referral_id)
    if index is None:
        # Triage without a referral on record: the flow centre took the patient on
        # directly, and the referral starts with the triage, replacing one still open.
        _replace_open_referrals(state, stamp, payload.referral_id)
        state.referrals.append(
            ReferralRecord.model_construct(
                referral_id=payload.referral_id,
                referred=stamp,
                note=None,
                cancelled=None,
                cancel_reason=None,
                allocations=(),
                discharged=state.discharged,
            )
        )
        index = len(state.referrals) - 1
    referral = state.referrals[index]
    if not referral.open:
        return
    allocation = AllocatedPathway.model_construct(triage=payload, stamp=stamp)
    state.referrals[index] = referral.model_copy(
        update={"allocations": (*referral.allocations, allocation)}
    )


@_step.register
def _(event: DischargeTaskUpdated, state: _Fold) -> None:
    payload = event.payload
    state.task_updates[payload.task] = TaskRecord.model_construct(
        task=payload.task,
        status=payload.status,
        due_at=payload.due_at,
        note=payload.note,
        stamp=Stamp.of(event),
    )


@_step.register
def _(event: CapacityReserved, state: _Fold) -> None:
    payload = event.payload
    if any(held.reservation_id == payload.reservation_id for held in state.reservations):
        return
    stamp = Stamp.of(event)
    state.reservations.append(
        ReservationRecord.model_construct(
            reservation_id=payload.reservation_id,
            capacity=payload.capacity,
            reserved=stamp,
            expires_at=payload.expires_at,
            # A slot reserved for a patient no longer in hospital (the discharge reached
            # the log first) holds nothing.
            released=None if state.status is SpellStatus.ADMITTED else stamp,
            used=None,
        )
    )


@_step.register
def _(event: ReservationReleased, state: _Fold) -> None:
    payload = event.payload
    state.reservations = [
        held.model_copy(update={"released": Stamp.of(event)})
        if held.reservation_id == payload.reservation_id and held.used is None
        else held
        for held in state.reservations
    ]

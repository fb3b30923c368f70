"""apply(state, event) -> Change: every rule of the live picture in one place.

``apply`` never mutates the state it is given: it returns the records the event
replaces (a ``Change``), which the caller stores. The same function serves the worker
(over records loaded from Redis), the rebuild (over the whole state in memory) and the
tests. Every branch is safe to repeat and independent of arrival order: registry entries
and bed statuses keep the entry latest in event time, spells are folded from the set of
their events (``spells.py``), and a bed's occupants and a spell's wait for a bed
(``pending_admissions.py``) are derived from those spells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any, TypeVar, get_args

from flowcentre.domain import alert_history, opel_history, pending_admissions, spells
from flowcentre.domain.alert_history import AlertRecord, ClockRecord, RuleRecord
from flowcentre.domain.beds import BedState, state_of_status
from flowcentre.domain.events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertEvent,
    AlertRaised,
    AlertResolved,
    AlertRuleDeleted,
    AlertRuleSaved,
    BedDecommissioned,
    BedRegistered,
    BedsSwapped,
    BedStatusChanged,
    CapacityDeclared,
    CapacityReserved,
    ClockTicked,
    EventBase,
    OpelAssessed,
    OpelReadingRecorded,
    OrganisationRegistered,
    RuleEvent,
    Sex,
    SiteRegistered,
    SpellEvent,
    WardRegistered,
)
from flowcentre.domain.model import (
    Bed,
    CapacityPool,
    Departure,
    Occupant,
    PoolReservation,
    Spell,
    Stamp,
    StatusMark,
)
from flowcentre.domain.opel_history import OpelRecord, ReadingRecord, place_key, reading_key
from flowcentre.domain.pending_admissions import PendingAdmission

Registration = TypeVar("Registration", OrganisationRegistered, SiteRegistered, WardRegistered)


@dataclass(slots=True)
class State:
    """The live picture, or the part of it an event needs (see ``needs``)."""

    organisations: dict[str, OrganisationRegistered] = field(default_factory=dict)
    sites: dict[str, SiteRegistered] = field(default_factory=dict)
    wards: dict[str, WardRegistered] = field(default_factory=dict)
    beds: dict[str, Bed] = field(default_factory=dict)
    spells: dict[str, Spell] = field(default_factory=dict)
    capacity: dict[str, CapacityPool] = field(default_factory=dict)
    rules: dict[str, RuleRecord] = field(default_factory=dict)
    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    clocks: dict[str, ClockRecord] = field(default_factory=dict)
    readings: dict[str, ReadingRecord] = field(default_factory=dict)
    opel: dict[str, OpelRecord] = field(default_factory=dict)
    pending: dict[str, PendingAdmission] = field(default_factory=dict)
    """Each spell's latest wait for a bed, by spell: the waiting and the ended."""

    def absorb(self, change: Change) -> None:
        self.organisations.update(change.organisations)
        self.sites.update(change.sites)
        self.wards.update(change.wards)
        self.beds.update(change.beds)
        self.spells.update(change.spells)
        self.capacity.update(change.capacity)
        self.rules.update(change.rules)
        self.alerts.update(change.alerts)
        self.clocks.update(change.clocks)
        self.readings.update(change.readings)
        self.opel.update(change.opel)
        self.pending.update(change.pending)


@dataclass(slots=True)
class Change(State):
    """The records an event replaced: also the deltas a board receives."""

    def __bool__(self) -> bool:
        return any(
            (
                self.organisations,
                self.sites,
                self.wards,
                self.beds,
                self.spells,
                self.capacity,
                self.rules,
                self.alerts,
                self.clocks,
                self.readings,
                self.opel,
                self.pending,
            )
        )


@dataclass(frozen=True, slots=True)
class Needs:
    """The records an event reads, so an adapter can load just those."""

    spell_ids: frozenset[str]
    bed_ids: frozenset[str]
    capacity_keys: frozenset[str] = frozenset()
    rule_ids: frozenset[str] = frozenset()
    alert_ids: frozenset[str] = frozenset()
    clocks: frozenset[str] = frozenset()
    readings: frozenset[str] = frozenset()
    opel: frozenset[str] = frozenset()


def needs(event: EventBase, state: State) -> Needs:
    """Records ``apply`` reads for this event. Call it twice: first with an empty state to
    learn the spells, then with those spells loaded to learn the beds they name."""
    payload = getattr(event, "payload", None)
    spell_ids = {
        value
        for name in ("spell_id", "other_spell_id")
        if isinstance(value := getattr(payload, name, None), str)
    }
    bed_ids = _beds_named(event)
    capacity_keys = _pools_named(event)
    for spell_id in spell_ids:
        if known := state.spells.get(spell_id):
            # Every bed the spell's events name, not only its current stays: a late event
            # can refold the spell so that a stay it had dropped comes back.
            for earlier in known.events:
                bed_ids |= _beds_named(earlier)
                capacity_keys |= _pools_named(earlier)
    return Needs(
        frozenset(spell_ids),
        frozenset(bed_ids),
        frozenset(capacity_keys),
        rule_ids=_named(event, AlertRuleSaved | AlertRuleDeleted, "rule_id"),
        alert_ids=_named(event, AlertEvent, "alert_id"),
        clocks=_named(event, ClockTicked, "clock"),
        readings=_opel_named(event),
        opel=frozenset({place_key(event.payload)})
        if isinstance(event, OpelAssessed)
        else frozenset(),
    )


def _opel_named(event: EventBase) -> frozenset[str]:
    if not isinstance(event, OpelReadingRecorded):
        return frozenset()
    return frozenset({reading_key(event.payload.site_id, event.payload.parameter)})


def _named(event: EventBase, kinds: Any, field_name: str) -> frozenset[str]:
    """The one record of its own an event of ``kinds`` names by ``field_name``."""
    if not isinstance(event, kinds):
        return frozenset()
    if isinstance(event, AlertRuleSaved):
        return frozenset({event.payload.id})
    return frozenset({getattr(event.payload, field_name)})


def _pools_named(event: EventBase) -> set[str]:
    if isinstance(event, CapacityDeclared | CapacityReserved):
        return {event.payload.capacity.key}
    return set()


def _beds_named(event: EventBase) -> set[str]:
    payload = getattr(event, "payload", None)
    bed_ids = {
        location.bed_id
        for name in ("location", "other_location")
        if (location := getattr(payload, name, None)) is not None and location.bed_id
    }
    if isinstance(bed_id := getattr(payload, "bed_id", None), str):
        bed_ids.add(bed_id)
    return bed_ids


def apply(state: State, event: EventBase) -> Change:
    """The records this event changes; an empty Change for a duplicate or a no-op."""
    return _apply(event, state)


@singledispatch
def _apply(event: EventBase, state: State) -> Change:
    raise TypeError(f"no rule applies {type(event).__name__}")


def _latest(current: Registration | None, event: Registration) -> bool:
    return current is None or current.order() < event.order()


@_apply.register
def _(event: OrganisationRegistered, state: State) -> Change:
    key = event.payload.organisation_id
    if _latest(state.organisations.get(key), event):
        return Change(organisations={key: event})
    return Change()


@_apply.register
def _(event: SiteRegistered, state: State) -> Change:
    key = event.payload.site_id
    if _latest(state.sites.get(key), event):
        return Change(sites={key: event})
    return Change()


@_apply.register
def _(event: WardRegistered, state: State) -> Change:
    key = event.payload.ward_id
    if _latest(state.wards.get(key), event):
        return Change(wards={key: event})
    return Change()


def _bed(state: State, bed_id: str, ward_id: str) -> Bed:
    """The bed's record, or a new one for a bed the feed names before it is registered."""
    return state.beds.get(bed_id) or settle(Bed(bed_id=bed_id, ward_id=ward_id))


def _changed(before: Bed | None, after: Bed) -> dict[str, Bed]:
    return {} if before == after else {after.bed_id: after}


@_apply.register(BedRegistered)
@_apply.register(BedDecommissioned)
def _(event: BedRegistered | BedDecommissioned, state: State) -> Change:
    bed_id = event.payload.bed_id
    before = state.beds.get(bed_id)
    if before and before.registration and before.registration.order() >= event.order():
        return Change()
    if isinstance(event, BedRegistered):
        bed = _bed(state, bed_id, event.payload.ward_id).model_copy(
            update={
                "details": event.payload,
                "ward_id": event.payload.ward_id,
                "decommissioned": False,
                "registration": Stamp.of(event),
            }
        )
    else:
        bed = _bed(state, bed_id, "").model_copy(
            update={"decommissioned": True, "registration": Stamp.of(event)}
        )
    return Change(beds=_changed(before, settle(bed)))


@_apply.register
def _(event: CapacityDeclared, state: State) -> Change:
    payload = event.payload
    key = payload.capacity.key
    before = state.capacity.get(key)
    if before and before.declared and before.declared.order() >= event.order():
        return Change()
    pool = (before or CapacityPool(key=key, capacity=payload.capacity)).model_copy(
        update={
            "organisation_id": payload.organisation_id,
            "available": payload.available,
            "declared": Stamp.of(event),
        }
    )
    return Change(capacity={key: pool})


def _hold_in_pools(before: Spell | None, after: Spell, state: State, change: Change) -> None:
    """Put the spell's reservations in the pools they hold against."""
    earlier = before.reservations if before else ()
    if earlier == after.reservations:
        return
    keys = {held.capacity.key: held.capacity for held in (*earlier, *after.reservations)}
    for key, capacity in keys.items():
        pool = change.capacity.get(key) or state.capacity.get(key)
        pool = pool or CapacityPool(key=key, capacity=capacity)
        others = [held for held in pool.reservations if held.spell_id != after.spell_id]
        mine = [
            PoolReservation.model_construct(spell_id=after.spell_id, reservation=held)
            for held in after.reservations
            if held.capacity.key == key
        ]
        ordered = sorted(
            (*others, *mine), key=lambda held: (held.reservation.reserved.order(), held.spell_id)
        )
        change.capacity[key] = pool.model_copy(update={"reservations": tuple(ordered)})


@_apply.register
def _(event: BedStatusChanged, state: State) -> Change:
    payload = event.payload
    before = state.beds.get(payload.bed_id)
    if before and before.status and before.status.stamp.order() >= event.order():
        return Change()
    mark = StatusMark.model_construct(
        status=payload.status, reason=payload.reason, stamp=Stamp.of(event)
    )
    bed = _bed(state, payload.bed_id, "").model_copy(update={"status": mark})
    return Change(beds=_changed(before, settle(bed)))


def _apply_to_spell(event: SpellEvent, spell_id: str, state: State, change: Change) -> None:
    before = state.spells.get(spell_id)
    after = spells.add_event(before, spell_id, event)
    if after is None:
        return
    change.spells[spell_id] = after
    _hold_in_pools(before, after, state, change)
    if isinstance(event, pending_admissions.WAIT_EVENTS):
        # A wait is a function of the spell's events, so the one before is read from the
        # spell as it was: nothing more needs loading.
        wait = pending_admissions.wait_of(after)
        if wait is not None and wait != pending_admissions.wait_of(before):
            change.pending[spell_id] = wait
    touched = {stay.location.bed_id: stay.location.ward_id for stay in after.stays}
    if before is not None:
        for stay in before.stays:
            touched.setdefault(stay.location.bed_id, stay.location.ward_id)
    for bed_id, ward_id in touched.items():
        if bed_id is None:
            continue
        current = change.beds.get(bed_id) or _bed(state, bed_id, ward_id)
        part = _part_in(after, bed_id)
        if current.ward_id and _holds(current, after.spell_id, part):
            # Most events leave most of a spell's beds as they were (a long stay's old
            # beds, say): those are not rebuilt.
            continue
        if not current.ward_id:
            current = current.model_copy(update={"ward_id": ward_id})
        bed = settle(_place(current, after.spell_id, part))
        if bed != state.beds.get(bed_id):
            change.beds[bed_id] = bed


@_apply.register(BedsSwapped)
def _(event: BedsSwapped, state: State) -> Change:
    change = Change()
    _apply_to_spell(event, event.payload.spell_id, state, change)
    partial = State(
        beds={**state.beds, **change.beds},
        spells=state.spells,
        capacity={**state.capacity, **change.capacity},
    )
    _apply_to_spell(event, event.payload.other_spell_id, partial, change)
    return change


def _apply_spell_event(event: SpellEvent, state: State) -> Change:
    change = Change()
    _apply_to_spell(event, event.payload.spell_id, state, change)
    return change


for _spell_event in get_args(SpellEvent):
    if _spell_event is not BedsSwapped:
        _apply.register(_spell_event, _apply_spell_event)


def _part_in(spell: Spell, bed_id: str) -> Occupant | Departure | None:
    """The spell's part in a bed: an occupant while its current stay is there, else its
    latest departure from the bed, if it was ever there."""
    current = spell.stays[-1] if spell.in_hospital else None
    if current is not None and current.end is None and current.location.bed_id == bed_id:
        return Occupant.model_construct(
            spell_id=spell.spell_id,
            initials=spell.initials,
            sex=spell.patient.sex if spell.patient else Sex.UNKNOWN,
            arrived=current.start,
            admitted_at=spell.admitted.at if spell.admitted else None,
            expected_discharge_date=spell.expected_discharge_date,
            on_leave=spell.on_leave,
            sharing_objection=spell.patient.sharing_objection if spell.patient else False,
        )
    ends = [s.end for s in spell.stays if s.location.bed_id == bed_id and s.end is not None]
    if not ends:
        return None
    return Departure.model_construct(spell_id=spell.spell_id, left=max(ends, key=Stamp.order))


def _holds(bed: Bed, spell_id: str, part: Occupant | Departure | None) -> bool:
    """Whether the bed already reflects this part of the spell."""
    occupant = next((o for o in bed.occupants if o.spell_id == spell_id), None)
    departure = next((d for d in bed.departures if d.spell_id == spell_id), None)
    if isinstance(part, Occupant):
        return occupant == part and departure is None
    if occupant is not None:
        return False
    if isinstance(part, Departure) and departure is None:
        # settle() drops a departure older than the bed's status: it has nothing to add.
        return bed.status is not None and part.left.order() <= bed.status.stamp.order()
    return departure == part


def _place(bed: Bed, spell_id: str, part: Occupant | Departure | None) -> Bed:
    """The bed with the spell's part in it replaced by ``part``."""
    occupants = [occupant for occupant in bed.occupants if occupant.spell_id != spell_id]
    departures = [leaving for leaving in bed.departures if leaving.spell_id != spell_id]
    if isinstance(part, Occupant):
        occupants.append(part)
    elif isinstance(part, Departure):
        departures.append(part)
    return bed.model_copy(
        update={
            "occupants": tuple(sorted(occupants, key=lambda o: o.spell_id)),
            "departures": tuple(sorted(departures, key=lambda d: d.spell_id)),
        }
    )


def settle(bed: Bed) -> Bed:
    """Derive what the bed shows from its occupants, status and departures.

    Occupied beats everything; otherwise a departure after the latest status means the
    bed needs cleaning; otherwise the status decides. Departures older than the status
    can never matter again and are dropped, which keeps the record small.
    """
    status = bed.status
    departures = bed.departures
    if status is not None:
        departures = tuple(d for d in departures if d.left.order() > status.stamp.order())
    latest_departure = max((d.left for d in departures), key=Stamp.order, default=None)
    state: BedState
    since: Stamp | None
    if bed.occupants:
        state = BedState.OCCUPIED
        since = max((o.arrived for o in bed.occupants), key=Stamp.order)
    elif latest_departure is not None:
        state, since = BedState.AWAITING_CLEAN, latest_departure
    elif status is not None:
        state, since = state_of_status(status.status), status.stamp
    else:
        state, since = BedState.AVAILABLE, bed.registration
    return bed.model_copy(update={"departures": departures, "state": state, "since": since})


@_apply.register(AlertRuleSaved)
@_apply.register(AlertRuleDeleted)
def _(event: RuleEvent, state: State) -> Change:
    key = event.payload.id if isinstance(event, AlertRuleSaved) else event.payload.rule_id
    before = state.rules.get(key)
    after = alert_history.fold_rule(before, event)
    return Change() if after == before else Change(rules={key: after})


@_apply.register(AlertRaised)
@_apply.register(AlertEscalated)
@_apply.register(AlertAcknowledged)
@_apply.register(AlertResolved)
def _(event: AlertEvent, state: State) -> Change:
    key = event.payload.alert_id
    before = state.alerts.get(key)
    after = alert_history.fold_alert(before, event)
    return Change() if after == before else Change(alerts={key: after})


@_apply.register
def _(event: ClockTicked, state: State) -> Change:
    key = event.payload.clock
    before = state.clocks.get(key)
    after = alert_history.clock_ticked(before, event)
    return Change() if after == before else Change(clocks={key: after})


@_apply.register
def _(event: OpelReadingRecorded, state: State) -> Change:
    key = reading_key(event.payload.site_id, event.payload.parameter)
    before = state.readings.get(key)
    after = opel_history.reading_recorded(before, event)
    return Change() if after == before else Change(readings={key: after})


@_apply.register
def _(event: OpelAssessed, state: State) -> Change:
    key = place_key(event.payload)
    before = state.opel.get(key)
    after = opel_history.assessed(before, event)
    return Change() if after == before else Change(opel={key: after})

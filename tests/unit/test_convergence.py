"""Any interleaving and duplication of a valid history folds to the clean history's state.

This is the property the live view rests on: the log is delivered at least once, feeds
reorder and repeat messages, and a rebuild replays partitions in a different interleaving
from the live worker; all of them must end in the same picture.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from flowcentre.domain.apply import State, apply, needs
from flowcentre.domain.discharge import triage
from flowcentre.domain.events import EventBase, RedGreenDayMarked
from flowcentre.domain.triage import load_rules
from flowcentre.store.keyspace import Record, dump
from tests.builders import (
    admitted,
    answers,
    bed,
    bed_status,
    capacity_declared,
    day_marked,
    discharged,
    event,
    fold,
    referral_cancelled,
    referred,
    released,
    request_cancelled,
    requested,
    reserved,
    reside_reviewed,
    task_updated,
    transferred,
    triaged,
    ward,
    where,
)

RULES = load_rules()
ANSWERS = answers(lives_alone=True, mobility="with_aid", daily_living="some_help")

BEDS = ("B1", "B2", "B3", "B4")


@st.composite
def histories(draw: Any) -> list[EventBase]:
    """A plausible ward's day: a model of who is where keeps every step valid."""
    history: list[EventBase] = [ward("W1"), ward("W2", minute=-50)]
    history += [bed(bed_id, "W1" if bed_id < "B3" else "W2") for bed_id in BEDS]
    ward_of = {bed_id: "W1" if bed_id < "B3" else "W2" for bed_id in BEDS}
    free = set(BEDS)
    bed_of: dict[str, str] = {}
    moved_from: dict[str, list[tuple[str, str]]] = {}
    gone: dict[str, str] = {}
    waiting: list[str] = []
    minute = 0.0
    spells = 0
    for _ in range(draw(st.integers(min_value=3, max_value=30))):
        minute += draw(st.sampled_from([0, 1, 5, 30]))
        action = draw(
            st.sampled_from(
                [
                    "admit",
                    "move",
                    "discharge",
                    "clean",
                    "cancel",
                    "undo",
                    "update",
                    "leave",
                    "swap",
                    "plan",
                    "plan",
                    "capacity",
                    "request",
                    "request",
                ]
            )
        )
        here = sorted(bed_of)
        if action == "admit" and free:
            if waiting and draw(st.booleans()):
                spell = waiting.pop(draw(st.integers(0, len(waiting) - 1)))
            else:
                spells += 1
                spell = f"S{spells}"
            target = draw(st.sampled_from(sorted(free)))
            history.append(admitted(spell, target, minute, ward_of[target]))
            free.discard(target)
            bed_of[spell] = target
        elif action == "move" and here and free:
            spell, target = draw(st.sampled_from(here)), draw(st.sampled_from(sorted(free)))
            history.append(transferred(spell, target, minute, ward_of[target]))
            moved_from.setdefault(spell, []).append((bed_of[spell], "transfer"))
            free.add(bed_of[spell])
            free.discard(target)
            bed_of[spell] = target
        elif action == "discharge" and here:
            spell = draw(st.sampled_from(here))
            history.append(discharged(spell, minute, draw(st.sampled_from(["care_home", "died"]))))
            gone[spell] = bed_of.pop(spell)
        elif action == "clean":
            target = draw(st.sampled_from(BEDS))
            history.append(bed_status(target, draw(st.sampled_from(["cleaning", "clean"])), minute))
        elif action == "cancel" and here:
            spell = draw(st.sampled_from(here))
            previous = moved_from.get(spell, [])
            # Only a transfer can be cancelled, and only back into a bed still free.
            if previous and previous[-1][1] == "transfer" and previous[-1][0] in free:
                history.append(event("TransferCancelled", {"spell_id": spell}, minute))
                free.add(bed_of[spell])
                bed_of[spell] = previous.pop()[0]
                free.discard(bed_of[spell])
            elif not previous:
                history.append(event("AdmissionCancelled", {"spell_id": spell}, minute))
                free.add(bed_of.pop(spell))
        elif action == "undo" and gone:
            spell = draw(st.sampled_from(sorted(gone)))
            if gone[spell] in free:
                history.append(event("DischargeCancelled", {"spell_id": spell}, minute))
                bed_of[spell] = gone.pop(spell)
                free.discard(bed_of[spell])
        elif action == "update" and here:
            spell = draw(st.sampled_from(here))
            day = draw(st.integers(min_value=3, max_value=9))
            payload = {"spell_id": spell, "expected_discharge_date": f"2026-11-0{day}"}
            history.append(event("SpellUpdated", payload, minute))
        elif action == "leave" and here:
            spell = draw(st.sampled_from(here))
            kind = draw(st.sampled_from(["PatientWentOnLeave", "PatientReturnedFromLeave"]))
            history.append(event(kind, {"spell_id": spell}, minute))
        elif action == "request":
            # A decision to admit someone new, a cancel of one, or a request the feed
            # repeats for a patient who already has a bed.
            step = draw(st.sampled_from(["new", "new", "cancel", "repeat"]))
            if step == "new":
                spells += 1
                waiting.append(f"S{spells}")
                place = draw(st.sampled_from([{}, {"ward_id": "W1"}, {"specialty": "surgery"}]))
                history.append(requested(f"S{spells}", minute, **place))
            elif step == "cancel" and waiting:
                spell = waiting.pop(draw(st.integers(0, len(waiting) - 1)))
                history.append(request_cancelled(spell, minute))
            elif step == "repeat" and here:
                history.append(requested(draw(st.sampled_from(here)), minute, "ALX"))
        elif action == "capacity":
            history.append(capacity_declared(draw(st.integers(0, 3)), minute))
        elif action == "plan" and here:
            spell = draw(st.sampled_from(here))
            referral = draw(st.sampled_from(["R1", "R2"]))
            step = draw(
                st.sampled_from(
                    ["refer", "unrefer", "triage", "task", "hold", "free", "ctr", "day"]
                )
            )
            if step == "refer":
                history.append(referred(spell, minute, referral))
            elif step == "unrefer":
                history.append(referral_cancelled(spell, minute, referral))
            elif step == "triage":
                outcome = triage(RULES, spell, referral, ANSWERS)
                history.append(triaged(spell, minute, outcome))
            elif step == "task":
                status = draw(st.sampled_from(["started", "done"]))
                history.append(task_updated(spell, "transport", status, minute))
            elif step == "hold":
                hours = draw(st.sampled_from([0.1, 2]))
                history.append(reserved(spell, minute, hours, reservation_id=referral))
            elif step == "free":
                history.append(released(spell, minute, reservation_id=referral))
            elif step == "day":
                green = draw(st.booleans())
                day = draw(st.sampled_from(["2026-11-02", "2026-11-03"]))
                reason = None if green else draw(st.sampled_from([None, "Awaiting reablement"]))
                history.append(day_marked(spell, minute, day, green=green, reason=reason))
            else:
                history.append(reside_reviewed(spell, minute, meets=draw(st.booleans())))
        elif action == "swap" and len(here) >= 2:
            first, second = draw(st.permutations(here))[:2]
            payload = {
                "spell_id": first,
                "location": where(bed_of[second], ward_of[bed_of[second]]),
                "other_spell_id": second,
                "other_location": where(bed_of[first], ward_of[bed_of[first]]),
            }
            history.append(event("BedsSwapped", payload, minute))
            moved_from.setdefault(first, []).append((bed_of[first], "swap"))
            moved_from.setdefault(second, []).append((bed_of[second], "swap"))
            bed_of[first], bed_of[second] = bed_of[second], bed_of[first]
    return history


@settings(max_examples=300, deadline=None)
@given(history=histories(), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_scrambled_and_duplicated_history_converges(history: list[EventBase], seed: int) -> None:
    shuffle = random.Random(seed)
    scrambled = history + shuffle.choices(history, k=len(history) // 2)
    shuffle.shuffle(scrambled)
    clean = fold(history)
    assert not any(b.conflict for b in clean.beds.values())
    assert fold(scrambled) == clean


@settings(max_examples=100, deadline=None)
@given(history=histories())
def test_replaying_a_history_onto_its_own_result_changes_nothing(
    history: list[EventBase],
) -> None:
    state = fold(history)
    assert fold(history, fold(history)) == state


@settings(max_examples=100, deadline=None)
@given(history=histories(), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_those_waiting_for_a_bed_were_asked_for_and_neither_admitted_nor_cancelled(
    history: list[EventBase], seed: int
) -> None:
    def spells_of(kind: str) -> set[str]:
        return {e.payload.spell_id for e in history if e.type == kind}  # type: ignore[attr-defined]

    asked = spells_of("AdmissionRequested")
    expected = asked - spells_of("PatientAdmitted") - spells_of("AdmissionRequestCancelled")
    scrambled = list(history)
    random.Random(seed).shuffle(scrambled)

    waits = fold(scrambled).pending
    assert set(waits) == asked
    assert {spell for spell, wait in waits.items() if wait.waiting} == expected


def stored(record: Record) -> Record:
    """The record as it reads back from its stored bytes, parsed afresh."""
    return type(record).model_validate(orjson.loads(dump(record)))


def through_storage(state: State) -> State:
    """The state as the Redis view would hand it back: every record dumped and parsed."""
    return State(
        organisations={k: stored(v) for k, v in state.organisations.items()},
        sites={k: stored(v) for k, v in state.sites.items()},
        wards={k: stored(v) for k, v in state.wards.items()},
        beds={k: stored(v) for k, v in state.beds.items()},
        spells={k: stored(v) for k, v in state.spells.items()},
        capacity={k: stored(v) for k, v in state.capacity.items()},
        pending={k: stored(v) for k, v in state.pending.items()},
    )


@settings(max_examples=100, deadline=None)
@given(history=histories())
def test_records_read_back_from_storage_fold_the_same(history: list[EventBase]) -> None:
    stored = State()
    for one in history:
        stored = through_storage(stored)
        stored.absorb(apply(stored, one))
    assert stored == fold(history)


def loaded_for(event: EventBase, state: State) -> State:
    """Only the records the worker would load for this event, as ``needs`` names them."""
    spells = {k: v for k, v in state.spells.items() if k in needs(event, State()).spell_ids}
    wanted = needs(event, State(spells=spells))
    return State(
        organisations=dict(state.organisations),
        sites=dict(state.sites),
        wards=dict(state.wards),
        beds={k: v for k, v in state.beds.items() if k in wanted.bed_ids},
        spells=spells,
        capacity={k: v for k, v in state.capacity.items() if k in wanted.capacity_keys},
    )


@settings(max_examples=200, deadline=None)
@given(history=histories(), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_applying_over_only_the_records_needs_names_loses_nothing(
    history: list[EventBase], seed: int
) -> None:
    scrambled = list(history)
    random.Random(seed).shuffle(scrambled)
    state = State()
    for one in scrambled:
        state.absorb(apply(loaded_for(one, state), one))
    assert state == fold(history)


#: A day's marks: (minute, day, green); the minutes repeat so that ties are broken by id.
MARKS = st.lists(
    st.tuples(
        st.sampled_from([10, 20, 20, 30, 1500]),
        st.sampled_from(["2026-11-02", "2026-11-03", "2026-11-04"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(marks=MARKS, seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_each_day_keeps_its_latest_mark_however_the_marks_arrive(
    marks: list[tuple[int, str, bool]], seed: int
) -> None:
    history = [ward("W1"), bed("B1", "W1"), admitted("S1", "B1", 0, "W1")]
    marked = [
        day_marked("S1", minute, day, green=green, reason=None if green else f"red at {minute}")
        for minute, day, green in marks
    ]
    shuffle = random.Random(seed)
    scrambled = history + marked + shuffle.choices(marked, k=len(marked))
    shuffle.shuffle(scrambled)
    latest: dict[date, EventBase] = {}
    for mark in sorted(marked, key=EventBase.order):
        assert isinstance(mark, RedGreenDayMarked)
        latest[mark.payload.day] = mark

    spell = fold(scrambled).spells["S1"]

    assert [marked.stamp.event_id for marked in spell.marked_days] == [
        latest[day].event_id for day in sorted(latest)
    ]
    assert spell == fold(history + marked).spells["S1"]

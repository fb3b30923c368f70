"""The rules of a spell's life: admissions, moves, discharges and their cancels."""

from __future__ import annotations

from flowcentre.domain.apply import apply
from flowcentre.domain.beds import BedState
from flowcentre.domain.events import EventBase
from flowcentre.domain.model import SpellStatus
from tests.builders import (
    admitted,
    bed,
    bed_status,
    discharged,
    event,
    fold,
    transferred,
    ward,
    where,
)

REGISTRY = [ward(), bed("B1"), bed("B2"), bed("B3")]


def swapped(spell: str, to: str, other: str, other_to: str, minute: float) -> EventBase:
    payload = {
        "spell_id": spell,
        "location": where(to),
        "other_spell_id": other,
        "other_location": where(other_to),
    }
    return event("BedsSwapped", payload, minute)


def test_admission_puts_the_patient_in_the_bed_and_shows_initials_only() -> None:
    state = fold([*REGISTRY, admitted("S1", "B1", 0)])
    b1 = state.beds["B1"]
    assert b1.state is BedState.OCCUPIED
    assert [o.initials for o in b1.occupants] == ["AL"]
    assert state.spells["S1"].status is SpellStatus.ADMITTED


def test_transfer_frees_the_old_bed_for_cleaning() -> None:
    state = fold([*REGISTRY, admitted("S1", "B1", 0), transferred("S1", "B2", 30)])
    assert state.beds["B1"].state is BedState.AWAITING_CLEAN
    assert state.beds["B2"].state is BedState.OCCUPIED


def test_discharge_leaves_the_bed_awaiting_clean_until_cleaned() -> None:
    history = [*REGISTRY, admitted("S1", "B1", 0), discharged("S1", 60)]
    assert fold(history).beds["B1"].state is BedState.AWAITING_CLEAN
    cleaning = fold([*history, bed_status("B1", "cleaning", 70)])
    assert cleaning.beds["B1"].state is BedState.CLEANING
    clean = fold([*history, bed_status("B1", "cleaning", 70), bed_status("B1", "clean", 95)])
    assert clean.beds["B1"].state is BedState.AVAILABLE
    assert clean.beds["B1"].departures == ()


def test_a_status_set_before_the_patient_left_does_not_make_the_bed_available() -> None:
    state = fold(
        [*REGISTRY, admitted("S1", "B1", 0), bed_status("B1", "clean", 30), discharged("S1", 60)]
    )
    assert state.beds["B1"].state is BedState.AWAITING_CLEAN


def test_cancelled_admission_empties_the_bed_without_needing_a_clean() -> None:
    cancel = event("AdmissionCancelled", {"spell_id": "S1"}, 10)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), cancel])
    assert state.beds["B1"].state is BedState.AVAILABLE
    assert state.spells["S1"].status is SpellStatus.CANCELLED


def test_cancelled_transfer_returns_the_patient_as_if_never_moved() -> None:
    cancel = event("TransferCancelled", {"spell_id": "S1"}, 40)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), transferred("S1", "B2", 30), cancel])
    assert state.beds["B1"].state is BedState.OCCUPIED
    assert state.beds["B2"].state is BedState.AVAILABLE
    assert [stay.location.bed_id for stay in state.spells["S1"].stays] == ["B1"]


def test_cancel_transfer_names_which_transfer_when_it_can() -> None:
    cancel = event("TransferCancelled", {"spell_id": "S1", "location": where("B2")}, 50)
    state = fold(
        [
            *REGISTRY,
            admitted("S1", "B1", 0),
            transferred("S1", "B2", 10),
            transferred("S1", "B3", 20),
            cancel,
        ]
    )
    assert [stay.location.bed_id for stay in state.spells["S1"].stays] == ["B1", "B3"]


def test_cancel_of_a_transfer_that_never_happened_changes_nothing() -> None:
    cancel = event("TransferCancelled", {"spell_id": "S1"}, 40)
    admission = admitted("S1", "B1", 0)
    before = fold([*REGISTRY, admission])
    after = fold([*REGISTRY, admission, cancel])
    assert after.beds == before.beds
    assert after.spells["S1"].stays == before.spells["S1"].stays


def test_cancelled_discharge_puts_the_patient_back_in_their_bed() -> None:
    cancel = event("DischargeCancelled", {"spell_id": "S1"}, 70)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), discharged("S1", 60), cancel])
    assert state.beds["B1"].state is BedState.OCCUPIED
    assert state.spells["S1"].status is SpellStatus.ADMITTED
    assert state.spells["S1"].discharged is None


def test_transfer_before_its_admission_arrives_is_folded_in_event_time() -> None:
    late_admission = admitted("S1", "B1", 0)
    early_transfer = transferred("S1", "B2", 30)
    state = fold([*REGISTRY, early_transfer, late_admission])
    assert state.beds["B1"].state is BedState.AWAITING_CLEAN
    assert state.beds["B2"].state is BedState.OCCUPIED
    assert state.spells["S1"].admitted is not None


def test_transfer_without_any_admission_means_the_feed_started_mid_stay() -> None:
    state = fold([*REGISTRY, transferred("S1", "B2", 30)])
    assert state.spells["S1"].status is SpellStatus.ADMITTED
    assert state.spells["S1"].admitted is None
    assert state.beds["B2"].state is BedState.OCCUPIED


def test_a_transfer_after_discharge_is_ignored() -> None:
    state = fold(
        [*REGISTRY, admitted("S1", "B1", 0), discharged("S1", 60), transferred("S1", "B2", 90)]
    )
    assert state.beds["B2"].state is BedState.AVAILABLE
    assert state.spells["S1"].status is SpellStatus.DISCHARGED


def test_duplicate_event_changes_nothing_the_second_time() -> None:
    admission = admitted("S1", "B1", 0)
    state = fold([*REGISTRY, admission])
    assert not apply(state, admission)


def test_admission_into_an_occupied_bed_is_kept_and_flagged_as_a_conflict() -> None:
    state = fold([*REGISTRY, admitted("S1", "B1", 0), admitted("S2", "B1", 10)])
    assert state.beds["B1"].conflict
    assert {o.spell_id for o in state.beds["B1"].occupants} == {"S1", "S2"}
    resolved = fold([transferred("S1", "B2", 20)], state)
    assert not resolved.beds["B1"].conflict


def test_patient_named_in_an_unknown_ward_and_bed_is_kept_until_the_registry_names_it() -> None:
    state = fold([admitted("S1", "X9", 0, ward_id="NEW")])
    assert state.beds["X9"].ward_id == "NEW"
    assert not state.beds["X9"].registered
    registered = fold([ward("NEW"), bed("X9", "NEW")], state)
    assert registered.beds["X9"].registered
    assert registered.beds["X9"].state is BedState.OCCUPIED


def test_leave_keeps_the_bed_for_the_patient() -> None:
    leave = event("PatientWentOnLeave", {"spell_id": "S1"}, 10)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), leave])
    assert state.beds["B1"].state is BedState.OCCUPIED
    assert state.beds["B1"].occupants[0].on_leave
    back = fold([event("PatientReturnedFromLeave", {"spell_id": "S1"}, 20)], state)
    assert not back.beds["B1"].occupants[0].on_leave


def test_bed_swap_moves_both_patients() -> None:
    swap = swapped("S1", "B2", "S2", "B1", 30)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), admitted("S2", "B2", 5), swap])
    assert [o.spell_id for o in state.beds["B1"].occupants] == ["S2"]
    assert [o.spell_id for o in state.beds["B2"].occupants] == ["S1"]


def test_spell_update_changes_only_the_fields_it_names() -> None:
    edd = event("SpellUpdated", {"spell_id": "S1", "expected_discharge_date": "2026-11-05"}, 10)
    dest = event("SpellUpdated", {"spell_id": "S1", "expected_destination": "care_home"}, 20)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), edd, dest])
    spell = state.spells["S1"]
    assert str(spell.expected_discharge_date) == "2026-11-05"
    assert spell.expected_destination == "care_home"
    assert str(state.beds["B1"].occupants[0].expected_discharge_date) == "2026-11-05"


def test_bed_status_keeps_the_latest_in_event_time() -> None:
    state = fold([*REGISTRY, bed_status("B1", "closed", 20), bed_status("B1", "clean", 10)])
    assert state.beds["B1"].state is BedState.CLOSED


def test_every_bed_state_records_who_caused_it() -> None:
    housekeeping = {"kind": "device", "id": "hk-7"}
    clean = event(
        "BedStatusChanged", {"bed_id": "B1", "status": "clean"}, 5, caused_by=housekeeping
    )
    state = fold([*REGISTRY, clean])
    since = state.beds["B1"].since
    assert since is not None
    assert since.by.id == "hk-7"


def test_cancel_transfer_never_undoes_half_of_a_swap() -> None:
    swap = swapped("S1", "B2", "S2", "B1", 10)
    cancel = event("TransferCancelled", {"spell_id": "S1"}, 20)
    state = fold([*REGISTRY, admitted("S1", "B1", 0), admitted("S2", "B2", 1), swap, cancel])
    assert [o.spell_id for o in state.beds["B1"].occupants] == ["S2"]
    assert [o.spell_id for o in state.beds["B2"].occupants] == ["S1"]


def test_cancel_transfer_without_a_location_only_looks_at_the_latest_move() -> None:
    swap = swapped("S1", "B3", "S2", "B2", 20)
    cancel = event("TransferCancelled", {"spell_id": "S1"}, 30)
    history = [
        *REGISTRY,
        admitted("S1", "B1", 0),
        transferred("S1", "B2", 10),
        admitted("S2", "B3", 15),
        swap,
        cancel,
    ]
    state = fold(history)
    assert [o.spell_id for o in state.beds["B3"].occupants] == ["S1"]
    assert [o.spell_id for o in state.beds["B2"].occupants] == ["S2"]
    assert not state.beds["B1"].occupants


def test_admission_after_a_discharge_reopens_the_spell_and_the_left_bed_needs_a_clean() -> None:
    state = fold(
        [*REGISTRY, admitted("S1", "B1", 0), discharged("S1", 60), admitted("S1", "B2", 90)]
    )
    assert state.spells["S1"].status is SpellStatus.ADMITTED
    assert state.beds["B2"].state is BedState.OCCUPIED
    assert state.beds["B1"].state is BedState.AWAITING_CLEAN

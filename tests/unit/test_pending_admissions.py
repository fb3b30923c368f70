"""The rules of a wait for a bed: requests to admit, their cancels, and the admission
that ends them, whatever order the feed delivers them in."""

from __future__ import annotations

from flowcentre.domain.apply import apply
from flowcentre.domain.events import EventBase
from flowcentre.domain.model import SpellStatus
from flowcentre.domain.pending_admissions import PendingAdmission, WaitOutcome
from tests.builders import (
    T0,
    admitted,
    bed,
    discharged,
    event,
    fold,
    request_cancelled,
    requested,
    reside_reviewed,
    transferred,
    ward,
)

REGISTRY = [ward(), bed("B1"), bed("B2")]


def wait(*history: EventBase, spell: str = "S1") -> PendingAdmission:
    return fold([*REGISTRY, *history]).pending[spell]


def cancelled_admission(minute: float) -> EventBase:
    return event("AdmissionCancelled", {"spell_id": "S1"}, minute)


def test_a_request_opens_a_wait_at_its_site_from_the_decision_and_says_who_asked() -> None:
    request = requested("S1", 10, ward_id="W1", specialty="cardiology", decided=5)

    state = fold([*REGISTRY, request])
    opened = state.pending["S1"]

    assert opened.waiting
    assert (opened.site_id, opened.ward_id, opened.specialty) == ("WRH", "W1", "cardiology")
    assert opened.decided_at == request.payload.decided_at  # type: ignore[attr-defined]
    assert opened.requested.event_id == request.event_id
    assert opened.requested.by == request.caused_by
    assert state.spells["S1"].status is SpellStatus.AWAITING_ADMISSION
    assert state.beds["B1"].occupants == (), "a patient waiting for a bed is in none"


def test_a_request_names_the_patient_until_an_admission_does() -> None:
    state = fold([*REGISTRY, requested("S1", 0)])
    patient = state.spells["S1"].patient
    assert patient is not None
    assert patient.family_name == "Hopper"

    admitted_later = fold([*REGISTRY, requested("S1", 0), admitted("S1", "B1", 30)])
    patient = admitted_later.spells["S1"].patient
    assert patient is not None
    assert patient.family_name == "Lovelace"


def test_a_duplicated_request_changes_nothing() -> None:
    request = requested("S1", 0)
    state = fold([*REGISTRY, request])

    assert not apply(state, request)


def test_the_admission_ends_the_wait_and_says_who_ended_it() -> None:
    admission = admitted("S1", "B1", 30)

    ended = wait(requested("S1", 0), admission)

    assert not ended.waiting
    assert ended.outcome is WaitOutcome.ADMITTED
    assert ended.ended is not None
    assert ended.ended.event_id == admission.event_id
    assert ended.ended.by == admission.caused_by


def test_a_request_delivered_after_the_admission_that_answered_it_opens_no_wait() -> None:
    history = [requested("S1", 0), admitted("S1", "B1", 30)]

    late = wait(*reversed(history))

    assert late == wait(*history)
    assert not late.waiting


def test_a_request_made_after_the_patient_was_admitted_opens_no_wait() -> None:
    admission = admitted("S1", "B1", 0)

    after = wait(admission, requested("S1", 30))

    assert not after.waiting
    assert after.outcome is WaitOutcome.ADMITTED
    assert after.ended is not None
    assert after.ended.event_id == admission.event_id


def test_a_request_repeated_after_the_admission_keeps_the_wait_the_admission_ended() -> None:
    answered = [requested("S1", 0), admitted("S1", "B1", 30)]

    assert wait(*answered, requested("S1", 60, "ALX", decided=60)) == wait(*answered)


def test_a_cancel_delivered_before_its_request_wins() -> None:
    history = [requested("S1", 0), request_cancelled("S1", 20)]

    early = wait(*reversed(history))

    assert early == wait(*history)
    assert not early.waiting
    assert early.outcome is WaitOutcome.CANCELLED


def test_a_cancelled_admission_does_not_bring_the_request_back() -> None:
    history = [requested("S1", 0), admitted("S1", "B1", 30), cancelled_admission(40)]

    for order in (history, list(reversed(history))):
        ended = wait(*order)
        assert not ended.waiting
        assert ended.outcome is WaitOutcome.ADMITTED


def test_a_new_request_after_a_cancel_opens_a_new_wait_from_its_own_decision() -> None:
    after_cancel = wait(requested("S1", 0), request_cancelled("S1", 20), requested("S1", 60))
    after_cancelled_admission = wait(
        requested("S1", 0), admitted("S1", "B1", 30), cancelled_admission(40), requested("S1", 60)
    )

    for reopened in (after_cancel, after_cancelled_admission):
        assert reopened.waiting
        assert reopened.decided_at == T0.replace(hour=9)


def test_a_request_sent_again_moves_the_wait_but_keeps_its_decision() -> None:
    first = requested("S1", 0, ward_id="W1")

    moved = wait(first, requested("S1", 45, "ALX", ward_id="W9", decided=45))

    assert moved.waiting
    assert (moved.site_id, moved.ward_id) == ("ALX", "W9")
    assert moved.decided_at == T0
    assert moved.requested.event_id == first.event_id


def test_a_move_into_a_bed_or_a_discharge_ends_the_wait() -> None:
    moved = wait(requested("S1", 0), transferred("S1", "B2", 30))
    left = wait(requested("S1", 0), discharged("S1", 30))

    assert (moved.waiting, moved.outcome) == (False, WaitOutcome.ADMITTED)
    assert (left.waiting, left.outcome) == (False, WaitOutcome.LEFT)


def test_events_that_cannot_move_a_wait_change_no_wait() -> None:
    state = fold([*REGISTRY, requested("S1", 0)])

    change = apply(state, reside_reviewed("S1", 10, meets=True))

    assert change.spells
    assert not change.pending


def test_spells_nobody_asked_a_bed_for_have_no_wait() -> None:
    state = fold([*REGISTRY, admitted("S1", "B1", 0), discharged("S1", 30)])

    assert state.pending == {}

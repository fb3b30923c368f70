"""Discharge planning in the simulated county: referral, triage, tasks, community capacity
and the criteria to reside, as a flow centre manager would check a week of them.

The county starts empty, so a first week fills its hospitals; the checks read the week
after it, and the fold of both.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest

from flowcentre.domain.apply import State
from flowcentre.domain.discharge import load_delay_reasons
from flowcentre.domain.events import (
    ActorKind,
    CapacityDeclared,
    CriteriaToResideReviewed,
    EventBase,
    PatientDischarged,
    PatientReferred,
    PatientTriaged,
    RedGreenDayMarked,
    ReferralCancelled,
    ReservationReleased,
    Service,
    Triage,
)
from flowcentre.domain.model import Spell, SpellStatus
from flowcentre.domain.triage import Pathway, TaskStatus, load_rules
from producers.county import County
from producers.simulator import simulate
from tests.builders import fold

START = datetime(2026, 3, 2, tzinfo=UTC)
WARM_UP = timedelta(days=7)
WEEK = timedelta(days=7)
END = START + WARM_UP + WEEK
SEED = 7
RULES = load_rules()
PROVIDERS = {"R1A": "community_trust", "E10000034": "local_authority"}


@pytest.fixture(scope="module")
def county() -> County:
    return County.load()


@pytest.fixture(scope="module")
def history(county: County) -> list[EventBase]:
    return list(simulate(county, START, SEED, until=END))


@pytest.fixture(scope="module")
def week(history: list[EventBase]) -> list[EventBase]:
    return [event for event in history if event.occurred_at >= START + WARM_UP]


@pytest.fixture(scope="module")
def state(history: list[EventBase]) -> State:
    return fold(history)


def _triages(events: Sequence[EventBase]) -> list[Triage]:
    return [event.payload for event in events if isinstance(event, PatientTriaged)]


def _left_through_the_flow_centre(state: State) -> list[Spell]:
    """Spells discharged at the end of a triaged referral."""
    return [
        spell
        for spell in state.spells.values()
        if spell.status is SpellStatus.DISCHARGED
        and spell.referral is not None
        and spell.referral.allocations
        and spell.referral.discharged == spell.discharged
    ]


# Referral and triage --------------------------------------------------------------------


def test_triage_proposes_the_pathways_in_their_planning_shares(week: list[EventBase]) -> None:
    triages = _triages(week)
    proposed = Counter(triage.proposed.pathway for triage in triages)
    share = {pathway: proposed[pathway] / len(triages) for pathway in Pathway}

    assert len(triages) > 200
    assert share[Pathway.HOME] == pytest.approx(0.50, abs=0.08)
    assert share[Pathway.HOME_WITH_SUPPORT] == pytest.approx(0.45, abs=0.08)
    assert 0.01 <= share[Pathway.BED_BASED_RECOVERY] + share[Pathway.LONG_TERM_CARE] <= 0.10
    assert share[Pathway.LONG_TERM_CARE] <= 0.03


def test_triage_follows_the_rules_and_an_override_says_why(week: list[EventBase]) -> None:
    triages = _triages(week)
    overridden = [triage for triage in triages if triage.pathway is not triage.proposed.pathway]
    staff = {
        event.caused_by.id
        for event in week
        if isinstance(event, PatientTriaged) and event.caused_by.kind is ActorKind.USER
    }

    for triage in triages:
        proposal = RULES.propose(triage.answers)
        assert (proposal.pathway, proposal.rule) == (triage.proposed.pathway, triage.proposed.rule)
        assert triage.tasks == RULES.tasks[triage.pathway]
    assert 0 < len(overridden) <= 0.08 * len(triages)
    assert all(triage.override_reason for triage in overridden)
    assert len(staff) > 1
    assert all(actor.startswith("flow-centre:") for actor in staff)


def test_patients_leave_on_the_pathway_allocated(state: State) -> None:
    left = _left_through_the_flow_centre(state)
    mismatched = []
    for spell in left:
        assert spell.referral is not None
        discharge = [event for event in spell.events if isinstance(event, PatientDischarged)][-1]
        pathway = spell.referral.pathway
        assert pathway is not None
        detail = discharge.payload.destination_detail or ""
        if not detail.startswith(f"Pathway {pathway.value}:"):
            mismatched.append((spell.spell_id, pathway, detail))

    assert len(left) > 200
    assert not mismatched


def test_every_referral_of_a_discharged_spell_was_triaged_or_cancelled(
    state: State, history: list[EventBase]
) -> None:
    discharged = [
        spell
        for spell in state.spells.values()
        if spell.status is SpellStatus.DISCHARGED and spell.referrals
    ]
    referrals = [referral for spell in discharged for referral in spell.referrals]
    waits = [
        (referral.allocations[0].stamp.at - referral.referred.at).total_seconds() / 3600
        for referral in referrals
        if referral.allocations
    ]
    referred = sum(isinstance(event, PatientReferred) for event in history)
    cancelled = sum(isinstance(event, ReferralCancelled) for event in history)

    assert len(discharged) > 200
    assert all(referral.allocations or referral.cancelled for referral in referrals)
    assert statistics.median(waits) < 6
    assert max(waits) < 24
    assert 0 < cancelled <= 0.05 * referred


# Tasks ----------------------------------------------------------------------------------


def test_tasks_are_done_before_the_discharge_in_most_cases(state: State, county: County) -> None:
    needed = done_before = 0
    # Spells with a task still outstanding when their day of discharge began.
    outstanding_on_the_day = set()
    for spell in _left_through_the_flow_centre(state):
        assert spell.discharged is not None
        left = spell.discharged.at
        day_began = datetime.combine(left.astimezone(county.zone).date(), time(), county.zone)
        for task in spell.tasks:
            needed += 1
            done_at = task.stamp.at if task.status is TaskStatus.DONE and task.stamp else None
            if done_at is not None and done_at <= left:
                done_before += 1
            if done_at is None or done_at >= day_began:
                outstanding_on_the_day.add(spell.spell_id)

    assert needed > 600
    assert done_before >= 0.9 * needed
    assert done_before < needed
    assert outstanding_on_the_day


# Capacity -------------------------------------------------------------------------------


def test_capacity_is_declared_every_morning_per_service_and_area(
    week: list[EventBase], county: County
) -> None:
    declared = [event for event in week if isinstance(event, CapacityDeclared)]
    pools = Counter(event.payload.capacity.key for event in declared)
    days = {event.payload.capacity.day for event in declared}
    services = {event.payload.capacity.service for event in declared}
    areas = {event.payload.capacity.area for event in declared}
    kinds = {org.id: org.kind.value for org in county.organisations}
    hours = {event.occurred_at.astimezone(county.zone).hour for event in declared}

    assert len(days) >= 7
    assert set(pools.values()) == {1}
    assert len(pools) >= 7 * len(services) * len(areas)
    assert len(areas) == 3
    assert {Service.REABLEMENT, Service.HOME_CARE, Service.COMMUNITY_HOSPITAL_BED} <= services
    assert {Service.CARE_HOME_NURSING, Service.CARE_HOME_RESIDENTIAL} <= services
    assert {kinds[event.payload.organisation_id] for event in declared} == set(PROVIDERS.values())
    assert all(event.caused_by.kind is ActorKind.USER for event in declared)
    assert hours == {7}


def test_capacity_runs_short_and_patients_wait_for_it(state: State, week: list[EventBase]) -> None:
    reasons = Counter(
        event.payload.delay_reason for event in week if isinstance(event, CriteriaToResideReviewed)
    )
    pools = list(state.capacity.values())
    used = {
        pool.key: sum(bool(held.reservation.used) for held in pool.reservations) for pool in pools
    }
    exhausted = [pool for pool in pools if pool.reservations and used[pool.key] >= pool.available]

    # Never more reserved than was free when the reservation was made.
    for pool in pools:
        for held in pool.reservations:
            assert pool.free_at(held.reservation.reserved.at) >= 0, pool.key
    assert len(exhausted) >= 5
    assert reasons["awaiting-reablement"] > 20
    assert reasons["awaiting-home-care"] > 10


def test_reservations_are_used_by_discharges_before_they_expire(
    state: State, county: County, history: list[EventBase]
) -> None:
    supported = [
        spell
        for spell in _left_through_the_flow_centre(state)
        if spell.referral is not None and spell.referral.pathway is not Pathway.HOME
    ]
    reservations = [held for spell in state.spells.values() for held in spell.reservations]
    released = sum(isinstance(event, ReservationReleased) for event in history)
    expired = [
        held
        for held in reservations
        if held.used is None and held.released is None and held.expires_at <= END
    ]

    assert len(supported) > 80
    for spell in supported:
        assert spell.discharged is not None
        assert spell.referral is not None
        [used] = [held for held in spell.reservations if held.used == spell.discharged]
        assert spell.discharged.at < used.expires_at
        assert spell.discharged.at.astimezone(county.zone).date() == used.capacity.day
        assert used.capacity.service.pathway is spell.referral.pathway
    assert released + len(expired) > 0
    assert released + len(expired) < 0.1 * len(reservations)


# Criteria to reside ---------------------------------------------------------------------


def test_patients_who_wait_without_criteria_to_reside_are_reviewed_every_morning(
    state: State, week: list[EventBase], county: County
) -> None:
    reviews = [event for event in week if isinstance(event, CriteriaToResideReviewed)]
    known = load_delay_reasons().reasons
    days: dict[str, list[datetime]] = {}
    for review in reviews:
        days.setdefault(review.payload.spell_id, []).append(review.occurred_at)
    gaps = [
        (later.astimezone(county.zone).date() - earlier.astimezone(county.zone).date()).days
        for moments in days.values()
        for earlier, later in pairwise(moments)
    ]
    after_discharge = [
        review
        for review in reviews
        if (left := state.spells[review.payload.spell_id].discharged) is not None
        and review.occurred_at >= left.at
    ]

    assert len(reviews) > 7 * 100
    assert all(not review.payload.meets_criteria for review in reviews)
    assert {review.payload.delay_reason for review in reviews} <= set(known)
    assert all(review.occurred_at.astimezone(county.zone).hour < 12 for review in reviews)
    assert all(review.caused_by.kind is ActorKind.USER for review in reviews)
    assert min(gaps) == 1
    assert Counter(gaps)[1] >= 0.95 * len(gaps)
    assert not after_discharge


# Red and green days ---------------------------------------------------------------------


def test_each_afternoon_the_nurse_in_charge_marks_each_patients_day(
    state: State, week: list[EventBase], county: County
) -> None:
    marks = [event for event in week if isinstance(event, RedGreenDayMarked)]
    per_day = Counter((mark.payload.spell_id, mark.payload.day) for mark in marks)
    # The days a morning review found the patient without criteria to reside.
    waiting = {
        (review.payload.spell_id, review.occurred_at.astimezone(county.zone).date())
        for review in week
        if isinstance(review, CriteriaToResideReviewed)
    }
    red = [mark for mark in marks if not mark.payload.green]
    red_waiting = [m for m in red if (m.payload.spell_id, m.payload.day) in waiting]
    marked_waiting = [m for m in marks if (m.payload.spell_id, m.payload.day) in waiting]
    labels = set(load_delay_reasons().reasons.values())

    assert len(marks) > 7 * 300
    assert set(per_day.values()) == {1}
    assert all(mark.caused_by.id.endswith(":nurse-in-charge") for mark in marks)
    assert all(
        mark.occurred_at.astimezone(county.zone).date() == mark.payload.day
        and 14 <= mark.occurred_at.astimezone(county.zone).hour < 17
        for mark in marks
    )
    assert 0.1 <= len(red) / len(marks) <= 0.4
    # Red days are common for patients without criteria to reside, and say why they wait.
    assert len(red_waiting) >= 0.5 * len(marked_waiting)
    assert len(red_waiting) >= 0.3 * len(red)
    assert sum(mark.payload.reason in labels for mark in red_waiting) >= 0.9 * len(red_waiting)
    assert all(mark.payload.reason for mark in red)
    for mark in marks:
        spell = state.spells[mark.payload.spell_id]
        assert spell.admitted is not None
        assert spell.admitted.at <= mark.occurred_at
        assert spell.discharged is None or mark.occurred_at < spell.discharged.at


# Validity for the core ------------------------------------------------------------------


def test_the_history_folds_with_no_bed_conflict(state: State) -> None:
    conflicts = [bed.bed_id for bed in state.beds.values() if bed.conflict]
    planned = [spell for spell in state.spells.values() if spell.referrals]

    assert not conflicts
    assert len(planned) > 300

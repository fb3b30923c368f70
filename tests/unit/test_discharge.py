"""Discharge planning folded from events: readiness, referral and triage, tasks by
pathway, reservations against community capacity, and each clock at its edges."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from flowcentre.domain import clocks, discharge_lists
from flowcentre.domain.discharge import (
    DayMarkInvalid,
    ReservationConflict,
    ReservationInvalid,
    day_mark,
    reservation_expiry,
    triage,
)
from flowcentre.domain.events import CapacityRef, EventRejected, Triage
from flowcentre.domain.model import Spell
from flowcentre.domain.triage import (
    OverrideRefused,
    Pathway,
    TaskKind,
    TaskStatus,
    TriageAnswers,
    load_rules,
)
from tests.builders import (
    T0,
    WELL,
    admitted,
    capacity_declared,
    day_marked,
    discharged,
    event,
    fold,
    pool,
    referral_cancelled,
    referred,
    released,
    reserved,
    reside_reviewed,
    task_updated,
    triaged,
    triaged_onto,
)

RULES = load_rules()
NEEDS_HELP = {**WELL, "mobility": "one_to_assist"}
LONDON = ZoneInfo("Europe/London")


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def allocation(
    answers: dict[str, Any], chosen: Pathway | None = None, why: str | None = None
) -> Triage:
    return triage(RULES, "S1", "R1", TriageAnswers.model_validate(answers), chosen, why)


def spell_after(*events: Any) -> Spell:
    return fold([admitted("S1", "B1", 0), *events]).spells["S1"]


# Readiness ---------------------------------------------------------------------------


def test_every_change_of_the_expected_date_is_kept() -> None:
    spell = spell_after(
        event("SpellUpdated", {"spell_id": "S1", "expected_discharge_date": "2026-11-04"}, 10),
        event("SpellUpdated", {"spell_id": "S1", "expected_discharge_date": "2026-11-04"}, 20),
        event("SpellUpdated", {"spell_id": "S1", "expected_discharge_date": "2026-11-06"}, 30),
    )
    assert spell.expected_discharge_date == date(2026, 11, 6)
    history = [(change.date, change.stamp.at) for change in spell.expected_discharge_dates]
    assert history == [(date(2026, 11, 4), at(10)), (date(2026, 11, 6), at(30))]


def test_criteria_to_reside_remembers_when_they_stopped_being_met() -> None:
    spell = spell_after(
        reside_reviewed("S1", 60, meets=True),
        reside_reviewed("S1", 1440, meets=False, delay_reason="awaiting-reablement"),
        reside_reviewed("S1", 2880, meets=False, delay_reason="awaiting-transport"),
    )
    assert spell.reside is not None
    assert spell.reside.not_met_since is not None
    assert spell.reside.not_met_since.at == at(1440)
    assert spell.reside.delay_reason == "awaiting-transport"
    met_again = spell_after(
        reside_reviewed("S1", 1440, meets=False), reside_reviewed("S1", 2880, meets=True)
    )
    assert met_again.reside is not None
    assert met_again.reside.not_met_since is None


def test_a_delay_reason_for_a_patient_who_meets_the_criteria_is_refused() -> None:
    with pytest.raises(EventRejected, match="delay_reason"):
        reside_reviewed("S1", 0, meets=True, delay_reason="awaiting-transport")


# Red and green days ------------------------------------------------------------------


def test_each_day_keeps_its_latest_mark_and_the_item_shows_the_latest_day() -> None:
    spell = spell_after(
        day_marked("S1", 60, "2026-11-02", green=True),
        day_marked("S1", 1500, "2026-11-03", green=False, reason="Awaiting reablement"),
        day_marked("S1", 420, "2026-11-02", green=False, reason="No senior review"),
        # Arrives after the correction of its day, but came before it: it changes nothing.
        day_marked("S1", 1450, "2026-11-03", green=True),
    )
    assert [(m.day, m.green, m.reason) for m in spell.marked_days] == [
        (date(2026, 11, 2), False, "No senior review"),
        (date(2026, 11, 3), False, "Awaiting reablement"),
    ]
    assert discharge_lists.discharge_item(spell)["day"] == {
        "date": "2026-11-03",
        "green": False,
        "reason": "Awaiting reablement",
        "marked_at": at(1500).isoformat(),
        "marked_by": {"kind": "system", "id": "pas-feed"},
    }
    # A day marked late for an earlier day is kept, but the item shows the latest day.
    earlier = spell_after(
        day_marked("S1", 1500, "2026-11-03", green=True),
        day_marked("S1", 1600, "2026-11-02", green=False),
    )
    assert discharge_lists.discharge_item(earlier)["day"]["date"] == "2026-11-03"


def test_a_patient_never_marked_has_no_day_and_a_red_day_is_not_a_blocker() -> None:
    assert discharge_lists.discharge_item(spell_after())["day"] is None
    red = spell_after(day_marked("S1", 60, "2026-11-02", green=False, reason="Awaiting MRI"))
    assert discharge_lists.blockers(red, at(90), date(2026, 11, 2)) == []


def test_a_day_of_a_stay_that_has_ended_can_still_be_marked() -> None:
    spell = spell_after(discharged("S1", 600), day_marked("S1", 700, "2026-11-02", green=True))
    assert [m.day for m in spell.marked_days] == [date(2026, 11, 2)]
    assert not discharge_lists.discharge_item(spell)["listed"]


def test_a_reason_for_a_green_day_is_refused() -> None:
    with pytest.raises(EventRejected, match="reason"):
        day_marked("S1", 0, "2026-11-02", green=True, reason="Good day")


@pytest.mark.parametrize(
    ("day", "green", "reason", "problem"),
    [
        (date(2026, 11, 4), True, None, "day: 2026-11-04 is still to come"),
        (date(2026, 11, 1), True, None, "day: 2026-11-01 is before the admission (2026-11-02)"),
        (date(2026, 11, 3), True, "Good day", "reason: only a red day gives a reason"),
    ],
)
def test_a_day_no_stay_could_have_is_refused_naming_the_field(
    day: date, green: bool, reason: str | None, problem: str
) -> None:
    now = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
    with pytest.raises(DayMarkInvalid, match=f"^{re.escape(problem)}"):
        day_mark(spell_after(), day, green, reason, now, LONDON)


def test_the_day_of_admission_and_today_can_be_marked_today_being_the_hospitals() -> None:
    now = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
    for day in (date(2026, 11, 2), date(2026, 11, 3)):
        mark = day_mark(spell_after(), day, False, "Awaiting transport", now, LONDON)
        assert (mark.spell_id, mark.day, mark.green) == ("S1", day, False)
    # Already the 4th in Auckland, while it is still the 3rd in UTC.
    auckland = day_mark(
        spell_after(), date(2026, 11, 4), True, None, now, ZoneInfo("Pacific/Auckland")
    )
    assert auckland.day == date(2026, 11, 4)


def test_long_stays_are_flagged_at_seven_and_twenty_one_days() -> None:
    spell = spell_after()
    assert clocks.long_stay(spell, at(0) + timedelta(days=6, hours=23)) is None
    assert clocks.long_stay(spell, at(0) + timedelta(days=7)) == "stranded"
    assert clocks.long_stay(spell, at(0) + timedelta(days=21)) == "super_stranded"


# Referral, triage and tasks ---------------------------------------------------------


def test_triage_allocates_the_proposed_pathway_and_sets_its_tasks() -> None:
    spell = spell_after(referred("S1", 10), triaged("S1", 40, allocation(NEEDS_HELP)))
    referral = spell.referral
    assert referral is not None
    assert referral.pathway is Pathway.HOME_WITH_SUPPORT
    assert referral.allocations[-1].triage.proposed.rule == "needs-hands-on-help"
    assert [task.task for task in spell.tasks] == list(RULES.tasks[Pathway.HOME_WITH_SUPPORT])
    assert {task.status for task in spell.tasks} == {TaskStatus.PENDING}


def test_an_override_needs_a_reason_and_keeps_the_proposal() -> None:
    with pytest.raises(OverrideRefused):
        allocation(WELL, Pathway.BED_BASED_RECOVERY)
    override = allocation(WELL, Pathway.BED_BASED_RECOVERY, "falls at home twice this month")
    assert override.proposed.pathway is Pathway.HOME
    assert override.pathway is Pathway.BED_BASED_RECOVERY
    assert override.tasks == RULES.tasks[Pathway.BED_BASED_RECOVERY]
    with pytest.raises(EventRejected, match="override_reason"):
        event(
            "PatientTriaged",
            {**override.model_dump(mode="json"), "override_reason": None},
        )


def test_tasks_started_before_triage_are_kept_and_others_join_them() -> None:
    spell = spell_after(
        task_updated("S1", "transport", "started", 5),
        task_updated("S1", "family_informed", "done", 6),
        referred("S1", 10),
        triaged("S1", 40, allocation(WELL)),
    )
    statuses = {task.task: task.status for task in spell.tasks}
    assert statuses == {
        TaskKind.TRANSPORT: TaskStatus.STARTED,
        TaskKind.MEDICINES: TaskStatus.PENDING,
        TaskKind.FAMILY_INFORMED: TaskStatus.DONE,
    }


def test_a_change_of_pathway_changes_the_tasks_but_keeps_what_was_done() -> None:
    spell = spell_after(
        referred("S1", 10),
        triaged("S1", 40, allocation(NEEDS_HELP)),
        task_updated("S1", "equipment", "done", 50),
        triaged("S1", 90, allocation(WELL)),
    )
    assert [task.task for task in spell.tasks] == [
        TaskKind.TRANSPORT,
        TaskKind.MEDICINES,
        TaskKind.FAMILY_INFORMED,
        TaskKind.EQUIPMENT,
    ]


def test_outstanding_tasks_are_flagged_on_the_expected_day() -> None:
    spell = spell_after(
        event("SpellUpdated", {"spell_id": "S1", "expected_discharge_date": "2026-11-04"}, 1),
        referred("S1", 10),
        triaged("S1", 40, allocation(WELL)),
        task_updated("S1", "transport", "done", 50),
    )
    assert clocks.flagged_tasks(spell, date(2026, 11, 3)) == []
    flagged = [task.task for task in clocks.flagged_tasks(spell, date(2026, 11, 4))]
    assert flagged == [TaskKind.MEDICINES, TaskKind.FAMILY_INFORMED]


# Reservations ------------------------------------------------------------------------


def test_a_reservation_expires_unless_the_discharge_uses_it() -> None:
    state = fold(
        [
            capacity_declared(2, 0),
            admitted("S1", "B1", 0),
            admitted("S2", "B2", 0),
            reserved("S1", 60, hours=2, reservation_id="H1"),
            reserved("S2", 60, hours=2, reservation_id="H2"),
            discharged("S1", 120),
        ]
    )
    pool = state.capacity["reablement:north:2026-11-03"]
    assert pool.free_at(at(100)) == 0
    # S2's hold lapses at three hours; S1's was used by the discharge and stays taken.
    assert pool.free_at(at(180)) == 1
    assert state.spells["S1"].reservations[0].used is not None
    assert state.spells["S2"].reservations[0].used is None


def test_a_discharge_after_expiry_does_not_use_the_slot() -> None:
    spell = spell_after(reserved("S1", 60, hours=1), discharged("S1", 200))
    assert spell.reservations[0].used is None


def test_a_released_reservation_frees_the_slot_and_a_cancelled_discharge_holds_it() -> None:
    state = fold(
        [
            capacity_declared(1, 0),
            admitted("S1", "B1", 0),
            reserved("S1", 60, hours=8),
            discharged("S1", 120),
            event("DischargeCancelled", {"spell_id": "S1"}, 130),
        ]
    )
    pool = state.capacity["reablement:north:2026-11-03"]
    assert state.spells["S1"].reservations[0].used is None
    assert pool.free_at(at(140)) == 0
    fold([released("S1", 150)], state)
    assert state.capacity["reablement:north:2026-11-03"].free_at(at(160)) == 1


def test_capacity_declared_late_does_not_undo_a_newer_declaration() -> None:
    state = fold([capacity_declared(5, 30), capacity_declared(3, 10)])
    assert state.capacity["reablement:north:2026-11-03"].available == 5


HOLD = timedelta(hours=12)
RESERVED_AT = at(60)
REABLEMENT_TODAY = CapacityRef.model_validate(pool(day="2026-11-02"))


def expiry(
    spell: Spell,
    capacity: CapacityRef = REABLEMENT_TODAY,
    asked: datetime | None = None,
    now: datetime = RESERVED_AT,
    free: int = 1,
) -> datetime:
    """When a reservation made ``now`` would lapse, against a pool with ``free`` places."""
    declared = capacity_declared(free, 0, **capacity.model_dump(mode="json"))
    pools = fold([declared]).capacity
    return reservation_expiry(
        spell, pools.get(capacity.key), capacity, asked, now=now, zone=LONDON, hold=HOLD
    )


ON_PATHWAY_1 = (referred("S1", 10), triaged_onto("S1", Pathway.HOME_WITH_SUPPORT, 20))


def test_a_reservation_holds_for_the_configured_hours_but_not_past_the_pools_day() -> None:
    spell = spell_after(*ON_PATHWAY_1)
    assert expiry(spell, now=at(60)) == at(60) + HOLD
    # Made at 14:00 on the pool's day, twelve hours would run into the next day.
    assert expiry(spell, now=at(360)) == datetime(2026, 11, 3, tzinfo=UTC)
    asked = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    assert expiry(spell, asked=asked) == asked


@pytest.mark.parametrize(
    ("capacity", "asked", "field"),
    [
        (REABLEMENT_TODAY, at(59), "expires_at"),
        (REABLEMENT_TODAY, datetime(2026, 11, 3, 0, 1, tzinfo=UTC), "expires_at"),
        (CapacityRef.model_validate(pool(day="2026-11-01")), None, "capacity.day"),
        (
            CapacityRef.model_validate(pool(service="step_down_bed", day="2026-11-02")),
            None,
            "capacity.service",
        ),
    ],
)
def test_a_reservation_no_plan_could_mean_is_refused_naming_the_field(
    capacity: CapacityRef, asked: datetime | None, field: str
) -> None:
    with pytest.raises(ReservationInvalid, match=rf"^{re.escape(field)}: "):
        expiry(spell_after(*ON_PATHWAY_1), capacity, asked)


def test_a_reservation_needs_a_triaged_open_referral() -> None:
    untriaged = spell_after(referred("S1", 10))
    with pytest.raises(ReservationConflict, match="no open referral triaged"):
        expiry(untriaged)
    cancelled = spell_after(*ON_PATHWAY_1, referral_cancelled("S1", 30))
    with pytest.raises(ReservationConflict, match="no open referral triaged"):
        expiry(cancelled)
    # What is wrong with the request is said first: it needs correcting whatever the plan.
    with pytest.raises(ReservationInvalid, match=r"^expires_at: "):
        expiry(untriaged, asked=at(30))


def test_a_second_reservation_of_the_same_service_is_refused_while_the_first_holds() -> None:
    holding = spell_after(*ON_PATHWAY_1, reserved("S1", 30, hours=4, day="2026-11-02"))
    with pytest.raises(ReservationConflict, match="already holds reablement"):
        expiry(holding, free=2)
    home_care = CapacityRef.model_validate(pool(service="home_care", day="2026-11-02"))
    assert expiry(holding, home_care) == at(60) + HOLD
    lapsed = spell_after(*ON_PATHWAY_1, reserved("S1", 30, hours=0.25, day="2026-11-02"))
    assert expiry(lapsed) == at(60) + HOLD
    given_back = spell_after(
        *ON_PATHWAY_1, reserved("S1", 30, hours=4, day="2026-11-02"), released("S1", 40)
    )
    assert expiry(given_back) == at(60) + HOLD


def test_a_reservation_needs_a_declared_pool_with_a_place_left() -> None:
    spell = spell_after(*ON_PATHWAY_1)
    with pytest.raises(ReservationConflict, match="nothing left"):
        expiry(spell, free=0)
    with pytest.raises(ReservationConflict, match="declared none"):
        reservation_expiry(spell, None, REABLEMENT_TODAY, None, now=at(60), zone=LONDON, hold=HOLD)


def test_demand_counts_the_patients_still_waiting_for_their_pathways_capacity() -> None:
    now = at(120)
    state = fold(
        [
            capacity_declared(3, 0, day="2026-11-02"),
            *[admitted(spell, f"B{spell}", 0) for spell in ("S1", "S2", "S3", "S4", "S5")],
            *[referred(spell, 10) for spell in ("S1", "S2", "S3", "S4", "S5")],
            *[
                triaged_onto(spell, Pathway.HOME_WITH_SUPPORT, 20)
                for spell in ("S1", "S2", "S3", "S5")
            ],
            reserved("S1", 30, hours=4, day="2026-11-02"),
            reserved("S3", 30, hours=1, day="2026-11-02"),
            reserved("S5", 30, hours=4, day="2026-11-02"),
            triaged_onto("S5", Pathway.BED_BASED_RECOVERY, 40),
        ]
    )
    spells = list(state.spells.values())
    demand = discharge_lists.demand_and_capacity(
        spells, state.capacity.values(), now, date(2026, 11, 2)
    )
    # S1 holds its start; S2 has none, S3's lapsed, S5 was moved to pathway 2 holding a
    # start it no longer needs; S4 is not triaged yet.
    assert {pathway: row["waiting"] for pathway, row in demand.items()} == {
        "0": 0,
        "1": 2,
        "2": 1,
        "3": 0,
    }
    assert demand["1"]["free"] == 1
    waiting = {spell.spell_id: discharge_lists.waiting_for_capacity(spell, now) for spell in spells}
    assert waiting == {
        "S1": None,
        "S2": Pathway.HOME_WITH_SUPPORT,
        "S3": Pathway.HOME_WITH_SUPPORT,
        "S4": None,
        "S5": Pathway.BED_BASED_RECOVERY,
    }
    assert "no capacity reserved" in discharge_lists.blockers(state.spells["S5"], now, now.date())
    assert "no capacity reserved" not in discharge_lists.blockers(
        state.spells["S1"], now, now.date()
    )


def test_a_discharged_patient_no_longer_waits_for_capacity() -> None:
    spell = spell_after(*ON_PATHWAY_1, discharged("S1", 60))
    assert discharge_lists.waiting_for_capacity(spell, at(90)) is None


# Clocks ------------------------------------------------------------------------------


def test_a_local_day_ends_at_the_next_local_midnight() -> None:
    assert clocks.day_end(date(2026, 11, 2), LONDON) == datetime(2026, 11, 3, tzinfo=UTC)
    summer = clocks.day_end(date(2027, 7, 1), LONDON)
    assert summer == datetime(2027, 7, 1, 23, 0, tzinfo=UTC)
    # The day the clocks go back is 25 hours long.
    autumn = date(2026, 10, 25)
    start, end = clocks.day_start(autumn, LONDON), clocks.day_end(autumn, LONDON)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


def test_referral_to_discharge_runs_until_the_discharge() -> None:
    spell = spell_after(
        referred("S1", 60), triaged("S1", 90, allocation(WELL)), discharged("S1", 60 + 23 * 60)
    )
    assert spell.referrals[0].discharged is not None
    clock = clocks.referral_to_discharge(spell.referrals[0], at(10_000))
    assert clock is not None
    assert clock.interval.length_at(at(10_000)) == timedelta(hours=23)
    assert clock.within_target


def test_a_live_referral_clock_breaches_after_a_day() -> None:
    spell = spell_after(referred("S1", 0))
    clock = clocks.referral_to_discharge(spell.referrals[0], at(25 * 60))
    assert clock is not None
    assert clock.interval.end is None
    assert not clock.within_target


def test_a_cancelled_referral_has_no_clock_and_leaves_the_queue() -> None:
    spell = spell_after(referred("S1", 10), referral_cancelled("S1", 20))
    assert spell.referral is None
    assert clocks.referral_to_discharge(spell.referrals[0], at(30)) is None


def test_discharge_before_triage_stops_the_clock_with_no_pathway() -> None:
    spell = spell_after(referred("S1", 10), discharged("S1", 70))
    clock = clocks.referral_to_discharge(spell.referrals[0], at(500))
    assert clock is not None
    assert clock.interval.end == at(70)
    assert clocks.queue_waits(spell.referrals[0]) == []
    (day,) = clocks.discharges_per_day([spell], LONDON)
    assert day.by_pathway == {"none": 1}


def test_a_readmission_leaves_the_completed_clock_alone() -> None:
    spell = spell_after(
        referred("S1", 10),
        discharged("S1", 70),
        admitted("S1", "B1", 600),
        referred("S1", 700, referral_id="R2"),
    )
    first, second = spell.referrals
    assert first.discharged is not None
    assert first.discharged.at == at(70)
    assert second.open
    assert spell.referral is second


def test_a_change_of_pathway_splits_the_queue_wait() -> None:
    spell = spell_after(
        referred("S1", 10),
        triaged("S1", 20, allocation(NEEDS_HELP)),
        triaged("S1", 80, allocation(WELL)),
        discharged("S1", 200),
    )
    waits = [
        (wait.pathway, wait.interval.start, wait.interval.end)
        for wait in clocks.queue_waits(spell.referrals[0])
    ]
    assert waits == [
        (Pathway.HOME_WITH_SUPPORT, at(20), at(80)),
        (Pathway.HOME, at(80), at(200)),
    ]


def test_discharges_per_day_count_the_share_before_local_midday() -> None:
    # T0 is 08:00 UTC on 2 November, when London keeps GMT.
    morning = spell_after(
        referred("S1", 0), triaged("S1", 5, allocation(WELL)), discharged("S1", 200)
    )
    afternoon = fold(
        [admitted("S2", "B2", 0), discharged("S2", 300, destination="care_home")]
    ).spells["S2"]
    still_in = fold([admitted("S3", "B3", 0)]).spells["S3"]
    (day,) = clocks.discharges_per_day([morning, afternoon, still_in], LONDON)
    assert (day.day, day.total, day.before_midday) == (date(2026, 11, 2), 2, 1)
    assert day.by_pathway == {"0": 1, "none": 1}
    assert day.by_destination == {"usual_residence": 1, "care_home": 1}
    assert day.before_midday_share == 0.5


def test_a_late_discharge_is_counted_on_the_local_day() -> None:
    summer = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)
    spell = spell_after(discharged("S1", (summer - T0).total_seconds() / 60))
    (day,) = clocks.discharges_per_day([spell], LONDON)
    assert day.day == date(2027, 7, 1)


def test_a_referral_the_discharge_overtook_is_closed_by_it_and_holds_nothing() -> None:
    spell = spell_after(discharged("S1", 60), referred("S1", 70), reserved("S1", 75))
    assert spell.referral is not None
    assert not spell.referral.open
    assert not spell.reservations[0].holds_at(at(80))


def test_a_triage_naming_a_new_referral_replaces_the_open_one() -> None:
    spell = spell_after(
        referred("S1", 10),
        triaged("S1", 40, triage(RULES, "S1", "RX", TriageAnswers.model_validate(WELL))),
    )
    assert [r.referral_id for r in spell.referrals if r.open] == ["RX"]

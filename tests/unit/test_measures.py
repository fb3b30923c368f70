"""Each live measure's definition, at its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flowcentre.domain.alert_rules import BedFilter, Level, Measure, Scope
from flowcentre.domain.events import EventBase
from flowcentre.domain.measures import Picture, Reading, read, scope_key
from flowcentre.domain.places import SiteKind, WardSex
from flowcentre.domain.triage import Pathway, load_rules
from tests.builders import (
    T0,
    admitted,
    bed,
    bed_status,
    capacity_declared,
    discharged,
    event,
    fold,
    organisation,
    referral_cancelled,
    referred,
    request_cancelled,
    requested,
    reserved,
    reside_reviewed,
    site,
    task_updated,
    triaged_onto,
    ward,
)

LONDON = ZoneInfo("Europe/London")
SYSTEM = Scope(level=Level.SYSTEM)
ROYAL = Scope(level=Level.SITE, id="WRH")
DAY = 24 * 60


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def picture_of(*events: EventBase) -> Picture:
    picture = Picture(LONDON)
    picture.absorb(fold([organisation(), site(), ward(), *events]))
    return picture


def beds(*ids: str, ward_id: str = "W1", **details: Any) -> list[EventBase]:
    return [bed(bed_id, ward_id, **details) for bed_id in ids]


def value(
    picture: Picture, measure: Measure, scope: Scope = SYSTEM, minute: float = 0, **rule: Any
) -> float | None:
    return read(picture, measure, scope, at(minute), **rule).value


# Beds --------------------------------------------------------------------------------


def test_occupancy_is_occupied_beds_over_open_beds() -> None:
    eleven = beds(*(f"B{n}" for n in range(1, 12)), "B12")
    occupied = [admitted(f"S{n}", f"B{n}", 1) for n in range(1, 12)]
    picture = picture_of(*eleven, *occupied)

    assert value(picture, Measure.OCCUPANCY_PCT) == 91.7
    picture.absorb(fold([bed_status("B12", "closed", 2)], fold([*eleven, *occupied])))
    assert value(picture, Measure.OCCUPANCY_PCT) == 100.0, "a closed bed is not open"


def test_occupancy_of_no_open_bed_is_nothing_to_measure() -> None:
    picture = picture_of(*beds("B1"), bed_status("B1", "blocked", 1))

    assert read(picture, Measure.OCCUPANCY_PCT, SYSTEM, at(2)) == Reading(None, 0, 0)


def test_a_bed_filter_counts_side_rooms_or_a_designation_only() -> None:
    picture = picture_of(
        *beds("B1", "B2"),
        bed("SR1", "W1", side_room=True),
        ward("W2"),
        bed("F1", "W2"),
        admitted("S1", "SR1", 1),
    )
    picture.wards["W2"] = picture.wards["W2"].model_copy(update={"sex": WardSex.FEMALE})

    side_rooms = BedFilter(side_room=True)
    assert value(picture, Measure.AVAILABLE_BEDS, ROYAL, beds=side_rooms) == 0
    no_side_rooms = picture_of(*beds("B1", "B2"))
    assert value(no_side_rooms, Measure.AVAILABLE_BEDS, beds=side_rooms) is None, (
        "a site without side rooms has none to run out of"
    )
    assert value(picture, Measure.AVAILABLE_BEDS, ROYAL) == 3
    assert value(picture, Measure.AVAILABLE_BEDS, beds=BedFilter(sex=WardSex.FEMALE)) == 1


def test_escalation_beds_are_a_share_of_open_beds_and_closed_ones_do_not_count() -> None:
    usual = beds("B1", "B2", "B3")
    escalation = beds("E1", "E2", escalation=True)
    picture = picture_of(*usual, *escalation, bed_status("E2", "closed", 1))

    assert value(picture, Measure.ESCALATION_BEDS_PCT) == 25.0
    assert value(picture_of(*usual), Measure.ESCALATION_BEDS_PCT) == 0.0
    every_closed = [*escalation, bed_status("E1", "closed", 1), bed_status("E2", "closed", 1)]
    assert value(picture_of(*every_closed), Measure.ESCALATION_BEDS_PCT) is None


def test_a_ward_registered_after_a_reading_counts_in_the_next() -> None:
    story = [*beds("B1"), admitted("S1", "B1", 1)]
    picture = picture_of(*story)
    assert value(picture, Measure.OCCUPANCY_PCT, ROYAL) == 100.0
    assert [one.id for one in picture.instances(Scope(level=Level.WARD))] == ["W1"]

    picture.absorb(
        fold([ward("W2"), bed("C1", "W2")], fold([organisation(), site(), ward(), *story]))
    )

    assert value(picture, Measure.OCCUPANCY_PCT, ROYAL) == 50.0
    assert [one.id for one in picture.instances(Scope(level=Level.WARD))] == ["W1", "W2"]


def test_closed_beds_are_closed_or_blocked_and_only_registered_beds_count() -> None:
    picture = picture_of(
        *beds("B1", "B2", "B3"),
        bed_status("B1", "closed", 1),
        bed_status("B2", "blocked", 1),
        bed_status("UNREGISTERED", "closed", 1),
    )

    assert value(picture, Measure.CLOSED_BEDS) == 2


def test_a_site_kind_keeps_other_sites_out() -> None:
    community = event(
        "SiteRegistered",
        {
            "site_id": "MAL",
            "organisation_id": "RWP",
            "name": "Malvern",
            "kind": "community_hospital",
        },
        -80,
    )
    picture = picture_of(community, ward("C1", "MAL"), bed("C1-1", "C1"), *beds("B1"))

    acute = value(picture, Measure.AVAILABLE_BEDS, site_kind=SiteKind.ACUTE_HOSPITAL)
    assert (acute, value(picture, Measure.AVAILABLE_BEDS)) == (1, 2)


def test_each_site_organisation_and_specialty_is_an_instance_of_a_rule_naming_none() -> None:
    picture = picture_of(site("ALX"), ward("W2", "ALX"))

    assert [scope_key(s) for s in picture.instances(Scope(level=Level.SITE))] == [
        "site:ALX",
        "site:WRH",
    ]
    assert picture.instances(Scope(level=Level.ORGANISATION)) == [
        Scope(level=Level.ORGANISATION, id="RWP")
    ]
    assert [s.id for s in picture.instances(Scope(level=Level.PATHWAY))] == ["0", "1", "2", "3"]
    assert picture.instances(ROYAL) == [ROYAL]


# Patients ----------------------------------------------------------------------------


def test_no_criteria_to_reside_counts_the_latest_review_of_patients_in_hospital() -> None:
    story = [
        *beds("B1", "B2", "B3", "B4"),
        admitted("S1", "B1", 1),
        admitted("S2", "B2", 1),
        admitted("S3", "B3", 1),
        reside_reviewed("S1", 10, meets=False, delay_reason="awaiting-care-package"),
        reside_reviewed("S2", 10, meets=False, delay_reason="awaiting-care-package"),
        reside_reviewed("S2", 20, meets=True),
        reside_reviewed("S3", 10, meets=False, delay_reason="awaiting-care-package"),
        discharged("S3", 30),
    ]
    picture = picture_of(*story)

    assert read(picture, Measure.NO_CRITERIA_TO_RESIDE, SYSTEM, at(40)) == Reading(1, 1, 1)
    assert value(picture, Measure.NO_CRITERIA_TO_RESIDE_PCT, minute=40) == 50.0


def test_the_share_without_criteria_of_no_occupied_bed_is_nothing_to_measure() -> None:
    assert value(picture_of(*beds("B1")), Measure.NO_CRITERIA_TO_RESIDE_PCT) is None


def test_stranded_from_seven_whole_days_and_super_stranded_from_twenty_one() -> None:
    picture = picture_of(*beds("B1", "B2"), admitted("S1", "B1", 0), admitted("S2", "B2", 1))

    assert value(picture, Measure.STRANDED, minute=7 * DAY) == 1
    assert value(picture, Measure.STRANDED, minute=7 * DAY + 1) == 2
    assert value(picture, Measure.SUPER_STRANDED, minute=21 * DAY - 1) == 0
    assert value(picture, Measure.SUPER_STRANDED, minute=21 * DAY) == 1


def test_super_stranded_share_is_of_occupied_beds() -> None:
    picture = picture_of(
        *beds("B1", "B2", "B3", "B4"),
        admitted("S1", "B1", 0),
        admitted("S2", "B2", DAY),
        admitted("S3", "B3", DAY),
    )

    assert value(picture, Measure.SUPER_STRANDED_PCT, minute=21 * DAY - 1) == 0.0
    assert value(picture, Measure.SUPER_STRANDED_PCT, minute=21 * DAY) == 33.3
    assert value(picture_of(*beds("B1")), Measure.SUPER_STRANDED_PCT) is None


def test_discharges_against_admissions_count_the_last_twenty_four_hours() -> None:
    story = [
        *beds("B1", "B2", "B3", "B4"),
        admitted("S1", "B1", -2 * DAY),
        admitted("S2", "B2", -DAY),
        admitted("S3", "B3", -60),
        admitted("S4", "B4", -30),
        discharged("S1", -DAY),
        discharged("S2", -10),
    ]
    picture = picture_of(*story)

    # Admitted in the day to now: S2 (at its very start), S3, S4; discharged: S1, S2.
    assert value(picture, Measure.DISCHARGES_AGAINST_ADMISSIONS_PCT) == 66.7
    assert value(picture, Measure.DISCHARGES_AGAINST_ADMISSIONS_PCT, minute=1) == 50.0
    reading = read(picture, Measure.DISCHARGES_AGAINST_ADMISSIONS_PCT, SYSTEM, at(1))
    assert (reading.wards, reading.patients) == (1, 2)
    quiet = picture_of(*beds("B1"), admitted("S1", "B1", -2 * DAY))
    assert value(quiet, Measure.DISCHARGES_AGAINST_ADMISSIONS_PCT) is None


def test_tasks_outstanding_count_from_the_expected_day_until_the_patient_leaves() -> None:
    expected = event("SpellUpdated", {"spell_id": "S1", "expected_discharge_date": "2026-11-03"}, 2)
    story = [
        *beds("B1"),
        admitted("S1", "B1", 0),
        expected,
        referred("S1", 3),
        triaged_onto("S1", "1", 4),
        task_updated("S1", "transport", "done", 5),
    ]
    picture = picture_of(*story)

    assert value(picture, Measure.TASKS_OUTSTANDING, minute=DAY - 8 * 60 - 1) == 0
    pathway_one = load_rules().tasks[Pathway.HOME_WITH_SUPPORT]
    on_the_day = Reading(len(pathway_one) - 1, 1, 1)
    assert read(picture, Measure.TASKS_OUTSTANDING, SYSTEM, at(DAY)) == on_the_day
    picture.absorb(fold([discharged("S1", DAY)], fold(story)))
    assert value(picture, Measure.TASKS_OUTSTANDING, minute=DAY + 1) == 0


def test_discharges_today_count_from_local_midnight() -> None:
    # 2026-11-02 is in winter time: London's midnight is 00:00 UTC, 8 hours before T0.
    story = [*beds("B1", "B2"), admitted("S1", "B1", -DAY), admitted("S2", "B2", -DAY)]
    picture = picture_of(*story, discharged("S1", -8 * 60 - 1), discharged("S2", -8 * 60))

    assert value(picture, Measure.DISCHARGES_TODAY, ROYAL) == 1


def test_discharged_patients_of_earlier_days_are_forgotten() -> None:
    picture = picture_of(*beds("B1"), admitted("S1", "B1", -DAY), discharged("S1", -60))

    picture.forget_before(at(-30))

    assert picture.spells == {}


def test_capacity_pools_of_earlier_days_are_forgotten() -> None:
    # T0 is 08:00 on 2 November, London time as UTC in winter.
    picture = picture_of(
        capacity_declared(1, -3 * DAY, day="2026-10-31"),
        capacity_declared(1, -2 * DAY, day="2026-11-01"),
        capacity_declared(1, -DAY, day="2026-11-02"),
    )

    picture.forget_before(at(-8 * 60 - 1))

    assert sorted(pool.capacity.day.isoformat() for pool in picture.pools.values()) == [
        "2026-11-01",
        "2026-11-02",
    ]


# The flow centre's queues ------------------------------------------------------------


def queue_story() -> list[EventBase]:
    return [
        *beds("B1", "B2", "B3", "B4"),
        *(admitted(f"S{n}", f"B{n}", 0) for n in range(1, 5)),
        referred("S1", 60),
        triaged_onto("S1", "1", 120),
        referred("S2", 90),
        triaged_onto("S2", "1", 100),
        triaged_onto("S2", "2", 300),
        referred("S3", 30),
        referred("S4", 10),
        referral_cancelled("S4", 20),
    ]


def test_a_pathways_queue_holds_its_triaged_patients_and_the_whole_queue_every_referral() -> None:
    picture = picture_of(*queue_story())
    one, two = Scope(level=Level.PATHWAY, id="1"), Scope(level=Level.PATHWAY, id="2")

    assert value(picture, Measure.QUEUE_LENGTH, one, 400) == 1
    assert value(picture, Measure.QUEUE_LENGTH, two, 400) == 1
    assert value(picture, Measure.QUEUE_LENGTH, SYSTEM, 400) == 3, "untriaged counts; cancelled not"


def test_a_wait_runs_from_the_triage_in_a_pathway_and_from_the_referral_in_the_whole_queue() -> (
    None
):
    picture = picture_of(*queue_story())

    assert value(picture, Measure.OLDEST_WAIT_HOURS, Scope(level=Level.PATHWAY, id="1"), 420) == 5.0
    assert value(picture, Measure.OLDEST_WAIT_HOURS, Scope(level=Level.PATHWAY, id="2"), 420) == 2.0
    assert value(picture, Measure.OLDEST_WAIT_HOURS, SYSTEM, 420) == 6.5
    assert (
        value(picture, Measure.OLDEST_WAIT_HOURS, Scope(level=Level.PATHWAY, id="3"), 420) is None
    )


def test_demand_over_capacity_is_those_waiting_less_capacity_free() -> None:
    one = Scope(level=Level.PATHWAY, id="1")
    story = [
        *queue_story(),
        capacity_declared(1, 130, day="2026-11-02"),
        capacity_declared(1, 130, day="2026-11-02", service="community_hospital_bed"),
    ]

    assert value(picture_of(*story), Measure.DEMAND_OVER_CAPACITY, one, 400) == 0
    assert value(picture_of(*story[:-2]), Measure.DEMAND_OVER_CAPACITY, one, 400) == 1
    assert value(picture_of(*story), Measure.DEMAND_OVER_CAPACITY, SYSTEM, 400) == 0
    home = Scope(level=Level.PATHWAY, id="0")
    assert value(picture_of(*story), Measure.DEMAND_OVER_CAPACITY, home, 400) is None


def test_a_patient_holding_a_reservation_no_longer_counts_as_demand() -> None:
    one = Scope(level=Level.PATHWAY, id="1")
    story = [*queue_story(), capacity_declared(1, 130, day="2026-11-02")]
    held = [*story, reserved("S1", 140, hours=12, day="2026-11-02")]

    assert value(picture_of(*held), Measure.DEMAND_OVER_CAPACITY, one, 400) == 0


def test_a_reading_names_how_many_wards_and_patients_made_it() -> None:
    story = [
        *queue_story(),
        ward("W2"),
        bed("X1", "W2"),
        admitted("S9", "X1", 0, ward_id="W2"),
        referred("S9", 5),
    ]

    assert read(picture_of(*story), Measure.QUEUE_LENGTH, SYSTEM, at(400)) == Reading(4, 2, 4)


def test_times_are_the_clocks_not_the_machines() -> None:
    picture = picture_of(*beds("B1"), admitted("S1", "B1", 0))
    long_ago = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)

    assert read(picture, Measure.STRANDED, SYSTEM, long_ago).value == 1
    assert read(picture, Measure.STRANDED, SYSTEM, long_ago - timedelta(seconds=1)).value == 0


def test_opel_level_is_the_places_last_assessment_and_unknown_before_one() -> None:
    picture = picture_of(*beds("B1"))

    assert value(picture, Measure.OPEL_LEVEL, ROYAL) is None
    picture.opel.update({"WRH": 3, "system": 2})
    assert value(picture, Measure.OPEL_LEVEL, ROYAL) == 3
    assert value(picture, Measure.OPEL_LEVEL, SYSTEM) == 2


# Patients waiting for a bed ----------------------------------------------------------


def waits_story() -> list[EventBase]:
    """Five decisions to admit: two waiting at the Royal (one for its ward W1, one for
    cardiology), one at the Alexandra, one cancelled and one admitted."""
    return [
        site("ALX"),
        ward("W2", "ALX"),
        *beds("B1"),
        requested("S1", 0, ward_id="W1"),
        requested("S2", 30, specialty="cardiology"),
        requested("S3", 60, "ALX"),
        requested("S4", 0),
        request_cancelled("S4", 10),
        requested("S5", 0),
        admitted("S5", "B1", 20),
    ]


def test_pending_admissions_count_those_still_waiting_where_their_requests_name() -> None:
    picture = picture_of(*waits_story())

    assert value(picture, Measure.PENDING_ADMISSIONS) == 3
    assert value(picture, Measure.PENDING_ADMISSIONS, ROYAL) == 2
    assert value(picture, Measure.PENDING_ADMISSIONS, Scope(level=Level.SITE, id="ALX")) == 1
    rwp = Scope(level=Level.ORGANISATION, id="RWP")
    assert value(picture, Measure.PENDING_ADMISSIONS, rwp) == 3
    assert value(picture, Measure.PENDING_ADMISSIONS, Scope(level=Level.WARD, id="W1")) == 1
    assert value(picture, Measure.PENDING_ADMISSIONS, Scope(level=Level.WARD, id="W2")) == 0
    cardiology = Scope(level=Level.SPECIALTY, id="cardiology")
    assert value(picture, Measure.PENDING_ADMISSIONS, cardiology) == 1
    general = Scope(level=Level.SPECIALTY, id="general")
    assert value(picture, Measure.PENDING_ADMISSIONS, general) == 1, "the named ward's"


def test_a_pending_admissions_reading_counts_the_patients_and_the_wards_they_name() -> None:
    picture = picture_of(*waits_story())

    assert read(picture, Measure.PENDING_ADMISSIONS, SYSTEM, at(90)) == Reading(3, 1, 3)
    assert read(picture, Measure.PENDING_ADMISSIONS, ROYAL, at(90)) == Reading(2, 1, 2)


def test_pending_admissions_keep_to_sites_of_the_kind_a_rule_names() -> None:
    community = event(
        "SiteRegistered",
        {
            "site_id": "MAL",
            "organisation_id": "R1A",
            "name": "Malvern",
            "kind": "community_hospital",
        },
        -80,
    )
    picture = picture_of(
        community, ward("C1", "MAL"), requested("S1", 0), requested("S2", 0, "MAL")
    )

    acute = value(picture, Measure.PENDING_ADMISSIONS, site_kind=SiteKind.ACUTE_HOSPITAL)
    assert (acute, value(picture, Measure.PENDING_ADMISSIONS)) == (1, 2)


def test_an_ended_wait_leaves_the_count() -> None:
    story = [*beds("B1"), requested("S1", 0)]
    picture = picture_of(*story)
    assert value(picture, Measure.PENDING_ADMISSIONS) == 1

    picture.absorb(fold([admitted("S1", "B1", 30)], fold([organisation(), site(), ward(), *story])))

    assert value(picture, Measure.PENDING_ADMISSIONS) == 0
    assert picture.pending == {}


def test_the_longest_wait_runs_from_the_decision_to_admit() -> None:
    picture = picture_of(*waits_story())

    assert value(picture, Measure.LONGEST_PENDING_HOURS, minute=12 * 60 + 6) == 12.1
    assert value(picture, Measure.LONGEST_PENDING_HOURS, ROYAL, 12 * 60 + 6) == 12.1
    alexandra = Scope(level=Level.SITE, id="ALX")
    assert read(picture, Measure.LONGEST_PENDING_HOURS, alexandra, at(12 * 60 + 6)) == Reading(
        11.1, 0, 1
    )


def test_the_longest_wait_of_nobody_is_nothing_to_measure_and_none_runs_before_its_decision() -> (
    None
):
    assert value(picture_of(*beds("B1")), Measure.LONGEST_PENDING_HOURS) is None
    booked = picture_of(requested("S1", 0, decided=120))

    assert value(booked, Measure.LONGEST_PENDING_HOURS, minute=60) == 0

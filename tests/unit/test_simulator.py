"""The county simulator: reproducible, valid for the core, and shaped like a real county.

A simulated month is generated and folded through the core once for the module; the
checks on it read like the questions a flow centre manager would ask of real data.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path

import pytest

from flowcentre.config import Settings
from flowcentre.domain.apply import State, apply
from flowcentre.domain.beds import BedState, BedStatus
from flowcentre.domain.events import (
    ActorKind,
    AdmissionCancelled,
    BedRegistered,
    BedsSwapped,
    BedStatusChanged,
    ClockTicked,
    DischargeCancelled,
    DischargeDestination,
    EventBase,
    OrganisationRegistered,
    PatientAdmitted,
    PatientDischarged,
    PatientReturnedFromLeave,
    PatientTransferred,
    PatientWentOnLeave,
    SiteRegistered,
    SpellUpdated,
    TransferCancelled,
    decode_event,
    encode_event,
)
from flowcentre.domain.model import Bed, SpellStatus
from flowcentre.publisher import EventPublisher
from producers.county import County
from producers.run import run_simulator
from producers.simulator import registry_events, simulate

# A Monday; the month crosses the change to British Summer Time on 29 March.
START = datetime(2026, 3, 2, tzinfo=UTC)
WEEK = timedelta(days=7)
MONTH = timedelta(days=30)
WARM_UP_DAYS = 21
SEED = 7
ACUTE = "RWP"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def county() -> County:
    return County.load()


@pytest.fixture(scope="module")
def month(county: County) -> list[EventBase]:
    return list(simulate(county, START, SEED, until=START + MONTH))


@dataclass
class Replay:
    """The month folded through the core, with what was seen on the way."""

    state: State = field(default_factory=State)
    # Local midnight -> (acute occupancy, community occupancy), over open beds.
    occupancy: dict[date, tuple[float, float]] = field(default_factory=dict)
    bay_sexes: list[tuple[str, set[str]]] = field(default_factory=list)
    # What each bed a patient was admitted or moved into showed just before.
    entered: list[BedState] = field(default_factory=list)
    turnaround_minutes: list[float] = field(default_factory=list)
    conflicts: set[str] = field(default_factory=set)


def _occupancy(beds: Iterable[Bed]) -> float:
    states = Counter(bed.state for bed in beds if bed.registered)
    open_beds = sum(states.values()) - states[BedState.CLOSED] - states[BedState.BLOCKED]
    return states[BedState.OCCUPIED] / open_beds


def _organisation_of(bed: Bed, state: State) -> str:
    site_id = state.wards[bed.ward_id].payload.site_id
    return state.sites[site_id].payload.organisation_id


def _snapshot(replay: Replay, day: date) -> None:
    state = replay.state
    beds = state.beds.values()
    acute = [bed for bed in beds if _organisation_of(bed, state) == ACUTE]
    community = [bed for bed in beds if _organisation_of(bed, state) != ACUTE]
    replay.occupancy[day] = (_occupancy(acute), _occupancy(community))
    bays: dict[tuple[str, str], set[str]] = {}
    for bed in beds:
        if bed.details and bed.details.room and not bed.details.side_room:
            sexes = bays.setdefault((bed.ward_id, bed.details.room), set())
            sexes.update(occupant.sex.value for occupant in bed.occupants)
    replay.bay_sexes += [(f"{ward} {room}", sexes) for (ward, room), sexes in bays.items()]


@pytest.fixture(scope="module")
def replay(county: County, month: list[EventBase]) -> Replay:
    replay = Replay()
    state = replay.state
    zone = county.zone
    first_day = START.astimezone(zone).date() + timedelta(days=1)
    next_midnight = datetime.combine(first_day, datetime.min.time(), zone)
    departed: dict[str, datetime] = {}
    for event in month:
        while event.occurred_at >= next_midnight:
            _snapshot(replay, next_midnight.date())
            next_midnight = datetime.combine(
                next_midnight.date() + timedelta(days=1), datetime.min.time(), zone
            )
        if (
            isinstance(event, PatientAdmitted | PatientTransferred)
            and event.payload.location.bed_id
        ):
            replay.entered.append(state.beds[event.payload.location.bed_id].state)
        if isinstance(event, BedStatusChanged):
            before = state.beds[event.payload.bed_id]
            if before.state is BedState.AWAITING_CLEAN and before.since is not None:
                departed[before.bed_id] = before.since.at
            if event.payload.status is BedStatus.CLEAN and event.caused_by.kind is ActorKind.DEVICE:
                left = departed.pop(before.bed_id)
                replay.turnaround_minutes.append((event.occurred_at - left).total_seconds() / 60)
        change = apply(state, event)
        state.absorb(change)
        replay.conflicts.update(bed_id for bed_id, bed in change.beds.items() if bed.conflict)
    return replay


def _local_day(event: EventBase, county: County) -> date:
    return event.occurred_at.astimezone(county.zone).date()


def _digest(events: Iterable[EventBase]) -> str:
    digest = hashlib.sha256()
    for event in events:
        digest.update(encode_event(event))
    return digest.hexdigest()


# Reproducibility ------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_events(county: County) -> None:
    until = START + timedelta(days=2)
    first = [encode_event(e) for e in simulate(county, START, SEED, until=until)]
    again = [encode_event(e) for e in simulate(county, START, SEED, until=until)]
    other = [encode_event(e) for e in simulate(county, START, SEED + 1, until=until)]

    assert first == again
    assert other != first


def test_another_process_with_other_string_hashing_gives_the_same_events(
    county: County,
) -> None:
    script = (
        "import hashlib, sys\n"
        "from datetime import datetime, timedelta\n"
        "from flowcentre.domain.events import encode_event\n"
        "from producers.county import County\n"
        "from producers.simulator import simulate\n"
        "start = datetime.fromisoformat(sys.argv[1])\n"
        "digest = hashlib.sha256()\n"
        "for event in simulate(County.load(), start, int(sys.argv[2]),\n"
        "                      until=start + timedelta(days=1)):\n"
        "    digest.update(encode_event(event))\n"
        "print(digest.hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, START.isoformat(), str(SEED)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    here = _digest(simulate(county, START, SEED, until=START + timedelta(days=1)))

    assert result.stdout.strip() == here


def test_a_shorter_run_is_a_prefix_of_a_longer_one(county: County, month: list[EventBase]) -> None:
    week = list(simulate(county, START, SEED, until=START + WEEK))

    assert [e.event_id for e in week] == [e.event_id for e in month[: len(week)]]
    assert month[len(week)].occurred_at >= START + WEEK


def test_runs_from_another_start_share_no_event_spell_or_patient_ids(county: County) -> None:
    """Two runs on one topic must not fold into each other's spells."""
    runs = [
        list(simulate(county, start, SEED, until=START + timedelta(days=1)))
        for start in (START, START + timedelta(hours=1))
    ]
    registry = len(registry_events(county, START))
    event_ids = [{event.event_id for event in run[registry:]} for run in runs]
    admissions = [[e for e in run if isinstance(e, PatientAdmitted)] for run in runs]
    spell_ids = [{e.payload.spell_id for e in found} for found in admissions]
    patient_ids = [{e.payload.patient.patient_id for e in found} for found in admissions]

    assert not event_ids[0] & event_ids[1]
    assert not spell_ids[0] & spell_ids[1]
    assert not patient_ids[0] & patient_ids[1]


# The contract ---------------------------------------------------------------------------


def test_events_are_valid_unique_and_in_event_time_order(month: list[EventBase]) -> None:
    assert all(decode_event(encode_event(event)) == event for event in islice(month, 0, None, 7))
    assert len({event.event_id for event in month}) == len(month)
    assert all(a.order() < b.order() for a, b in pairwise(month))
    assert all(event.recorded_at >= event.occurred_at for event in month)


def test_the_registry_comes_first_and_describes_the_county(
    county: County, month: list[EventBase]
) -> None:
    registry = registry_events(county, START)
    state = State()
    for event in registry:
        state.absorb(apply(state, event))
    beds = [event for event in registry if isinstance(event, BedRegistered)]
    by_organisation = Counter(_organisation_of(bed, state) for bed in state.beds.values())
    sites = [event.payload for event in registry if isinstance(event, SiteRegistered)]
    organisations = {
        event.payload.organisation_id: event.payload.kind.value
        for event in registry
        if isinstance(event, OrganisationRegistered)
    }

    assert month[: len(registry)] == registry
    assert 950 <= by_organisation[ACUTE] <= 1050
    assert 130 <= by_organisation["R1A"] <= 170
    assert sorted(site.site_id for site in sites if site.organisation_id == ACUTE) == [
        "ALX",
        "KTC",
        "WRH",
    ]
    assert len([site for site in sites if site.organisation_id == "R1A"]) == 5
    assert sorted(organisations.values()) == ["acute_trust", "community_trust", "local_authority"]
    assert "WRH-AVON4-B03-2" in {event.payload.bed_id for event in beds}
    assert any(event.payload.side_room for event in beds)


def test_every_event_names_a_realistic_source_and_cause(month: list[EventBase]) -> None:
    traffic = [event for event in month if not isinstance(event, BedRegistered)]
    systems = {(event.source.organisation, event.source.system) for event in traffic}
    feeds = {
        e.caused_by.kind for e in traffic if isinstance(e, PatientAdmitted | PatientDischarged)
    }
    cleaners = {
        event.caused_by.kind
        for event in traffic
        if isinstance(event, BedStatusChanged) and event.payload.status is BedStatus.CLEANING
    }
    updaters = {e.caused_by.id.split(":")[-1] for e in traffic if isinstance(e, SpellUpdated)}

    assert ("RWP", "RWP PAS") in systems
    assert ("R1A", "R1A community EPR") in systems
    assert ("RWP", "RWP housekeeping") in systems
    assert feeds == {ActorKind.SYSTEM}
    assert cleaners == {ActorKind.DEVICE}
    assert updaters == {"discharge-coordinator"}


# Validity for the core ------------------------------------------------------------------


def test_a_simulated_week_folds_with_no_conflict_and_no_spell_ending_anywhere_odd(
    county: County,
) -> None:
    state = State()
    conflicts: set[str] = set()
    for event in simulate(county, START, SEED + 3, until=START + WEEK):
        change = apply(state, event)
        state.absorb(change)
        conflicts.update(bed_id for bed_id, bed in change.beds.items() if bed.conflict)

    assert not conflicts
    _assert_every_spell_ends_where_it_should(state)


def test_the_month_folds_with_no_conflict(replay: Replay) -> None:
    assert not replay.conflicts
    _assert_every_spell_ends_where_it_should(replay.state)


def _assert_every_spell_ends_where_it_should(state: State) -> None:
    occupants = {
        occupant.spell_id: bed_id
        for bed_id, bed in state.beds.items()
        for occupant in bed.occupants
    }
    for spell in state.spells.values():
        if spell.status is SpellStatus.ADMITTED:
            location = spell.location
            assert location is not None
            assert location.bed_id is not None
            bed = state.beds[location.bed_id]
            assert bed.registered
            assert bed.ward_id == location.ward_id
            assert occupants[spell.spell_id] == location.bed_id
            assert spell.stays[-1].end is None
        elif spell.status is SpellStatus.DISCHARGED:
            assert spell.spell_id not in occupants
            assert spell.stays
            assert spell.stays[-1].end == spell.discharged
        else:
            assert spell.status is SpellStatus.CANCELLED
            assert spell.spell_id not in occupants
            assert not spell.stays
        for stay, following in pairwise(spell.stays):
            assert stay.end == following.start
    for bed in state.beds.values():
        assert len(bed.occupants) <= 1
        for occupant in bed.occupants:
            assert state.spells[occupant.spell_id].status is SpellStatus.ADMITTED


def test_patients_only_enter_beds_that_are_ready_for_them(replay: Replay) -> None:
    states = Counter(replay.entered)

    assert set(states) <= {BedState.AVAILABLE, BedState.RESERVED}
    assert states[BedState.RESERVED] > 0


def test_single_sex_accommodation_is_kept(county: County, replay: Replay) -> None:
    sex_of_ward = {ward.ward_id: ward.spec.sex.value for ward in county.wards}
    mixed_bays = [bay for bay, sexes in replay.bay_sexes if len(sexes) > 1]
    wrong_ward = [
        occupant.spell_id
        for bed in replay.state.beds.values()
        for occupant in bed.occupants
        if sex_of_ward[bed.ward_id] not in ("mixed", occupant.sex.value)
    ]

    assert not mixed_bays
    assert not wrong_ward


# The shape of the traffic ---------------------------------------------------------------


def _acute_admissions(events: Sequence[EventBase]) -> list[PatientAdmitted]:
    return [
        event
        for event in events
        if isinstance(event, PatientAdmitted) and event.source.organisation == ACUTE
    ]


def test_about_a_hundred_emergency_admissions_a_day(county: County, month: list[EventBase]) -> None:
    per_day = Counter(_local_day(event, county) for event in _acute_admissions(month))
    days = sorted(per_day)[1:-1]
    weekends = [per_day[day] for day in days if day.weekday() >= 5]
    weekdays = [per_day[day] for day in days if day.weekday() < 5]
    mondays = [per_day[day] for day in days if day.weekday() == 0]
    sundays = [per_day[day] for day in days if day.weekday() == 6]

    # Weekends have no elective lists, so their admissions are the emergency ones.
    assert 85 <= statistics.mean(weekends) <= 105
    assert 100 <= statistics.mean(weekdays) <= 130
    assert statistics.mean(mondays) > statistics.mean(sundays)


def test_admissions_peak_from_late_morning_to_evening(
    county: County, month: list[EventBase]
) -> None:
    hours = Counter(
        event.occurred_at.astimezone(county.zone).hour for event in _acute_admissions(month)
    )
    peak = statistics.mean(hours[hour] for hour in range(11, 20))
    night = statistics.mean(hours[hour] for hour in range(1, 7))

    assert peak > 3 * night


def _acute_discharges(events: Sequence[EventBase]) -> list[PatientDischarged]:
    return [
        event
        for event in events
        if isinstance(event, PatientDischarged) and event.source.organisation == ACUTE
    ]


def test_discharge_destinations_follow_the_pathway_shares(month: list[EventBase]) -> None:
    discharges = _acute_discharges(month)
    pathways = Counter((d.payload.destination_detail or "").split(":")[0] for d in discharges)
    shares = {name: count / len(discharges) for name, count in pathways.items()}
    destinations = Counter(d.payload.destination for d in discharges)

    assert len(discharges) > 2500
    assert shares["Pathway 0"] == pytest.approx(0.50, abs=0.04)
    assert shares["Pathway 1"] == pytest.approx(0.45, abs=0.04)
    assert shares["Pathway 2"] == pytest.approx(0.04, abs=0.015)
    assert shares["Pathway 3"] == pytest.approx(0.01, abs=0.008)
    assert set(destinations) == {
        DischargeDestination.USUAL_RESIDENCE,
        DischargeDestination.COMMUNITY_HOSPITAL,
        DischargeDestination.CARE_HOME,
    }


def test_a_third_of_discharges_before_midday_and_fewer_at_weekends(
    county: County, month: list[EventBase]
) -> None:
    discharges = _acute_discharges(month)
    local = [event.occurred_at.astimezone(county.zone) for event in discharges]
    per_day = Counter(moment.date() for moment in local)
    days = sorted(per_day)[WARM_UP_DAYS:-1]
    weekend = statistics.mean(per_day[day] for day in days if day.weekday() >= 5)
    weekday = statistics.mean(per_day[day] for day in days if day.weekday() < 5)

    assert sum(moment.hour < 12 for moment in local) / len(local) == pytest.approx(0.33, abs=0.05)
    assert weekend < 0.75 * weekday


def test_pathway_two_continues_in_a_community_hospital(month: list[EventBase]) -> None:
    to_community = [
        d
        for d in _acute_discharges(month)
        if d.payload.destination is DischargeDestination.COMMUNITY_HOSPITAL
    ]
    admitted = {
        event.payload.patient.nhs_number: event
        for event in month
        if isinstance(event, PatientAdmitted) and event.source.organisation == "R1A"
    }
    acute_patients = {
        event.payload.spell_id: event.payload.patient.nhs_number
        for event in _acute_admissions(month)
    }
    arrivals = [admitted.get(acute_patients[d.payload.spell_id]) for d in to_community]
    arrived = [(d, a) for d, a in zip(to_community, arrivals, strict=True) if a is not None]

    assert len(arrived) >= 0.9 * len(to_community) - 3
    assert all(
        timedelta(0) < a.occurred_at - d.occurred_at < timedelta(hours=12) for d, a in arrived
    )


def test_stays_are_skewed_with_stranded_and_super_stranded_patients(replay: Replay) -> None:
    stays = [
        (spell.discharged.at - spell.admitted.at).total_seconds() / 86400
        for spell in replay.state.spells.values()
        if spell.spell_id.startswith(ACUTE) and spell.discharged and spell.admitted
    ]

    assert 1 <= statistics.median(stays) <= 6
    assert statistics.mean(stays) > statistics.median(stays)
    assert sum(days >= 7 for days in stays) > 0.1 * len(stays)
    assert sum(days >= 21 for days in stays) > 0


def test_corrections_and_ward_events_happen_every_so_often(month: list[EventBase]) -> None:
    kinds = Counter(type(event) for event in month)
    statuses = Counter(e.payload.status for e in month if isinstance(e, BedStatusChanged))
    days = MONTH.days

    for correction in (AdmissionCancelled, TransferCancelled, DischargeCancelled):
        assert days / 3 <= kinds[correction] <= days * 4
    for occasional in (BedsSwapped, PatientWentOnLeave, PatientReturnedFromLeave):
        assert kinds[occasional] >= days / 2
    assert kinds[SpellUpdated] > kinds[PatientAdmitted]
    assert statuses[BedStatus.CLOSED] >= days
    assert statuses[BedStatus.CONTAMINATED] > 0
    assert statuses[BedStatus.AWAITING_CLEAN] == 0


def test_cancelled_admissions_leave_no_trace_in_a_bed(replay: Replay) -> None:
    cancelled = [s for s in replay.state.spells.values() if s.status is SpellStatus.CANCELLED]

    assert cancelled
    assert all(not spell.stays for spell in cancelled)


def test_beds_are_cleaned_within_the_hour_mostly_and_sometimes_later(replay: Replay) -> None:
    minutes = replay.turnaround_minutes

    assert len(minutes) > 3000
    assert statistics.median(minutes) < 60
    assert 0.05 < sum(m > 60 for m in minutes) / len(minutes) < 0.5


def test_occupancy_stays_plausible_after_warm_up(county: County, replay: Replay) -> None:
    first = min(replay.occupancy)
    settled = {
        day: shares
        for day, shares in replay.occupancy.items()
        if (day - first).days >= WARM_UP_DAYS
    }

    assert settled
    assert all(0.70 < acute < 1.0 for acute, _ in settled.values()), settled
    assert all(community < 1.0 for _, community in settled.values()), settled


# Publishing -----------------------------------------------------------------------------


class _RecordingPublisher(EventPublisher):
    def __init__(self, stop: threading.Event, enough: int) -> None:
        self.events: list[EventBase] = []
        self.closed = False
        self._stop = stop
        self._enough = enough

    def publish(self, events: Sequence[EventBase]) -> None:
        self.events.extend(events)
        if len(self.events) >= self._enough:
            self._stop.set()

    def close(self) -> None:
        self.closed = True


def test_run_publishes_the_registry_then_the_warm_up_then_paced_traffic(
    county: County,
) -> None:
    stop = threading.Event()
    registry = registry_events(county, START - timedelta(days=2))
    publisher = _RecordingPublisher(stop, enough=len(registry) + 3000)
    runner = threading.Thread(
        target=run_simulator,
        args=(Settings(),),
        kwargs={
            "speed": 86_400.0,
            "seed": SEED,
            "start": START,
            "stop": stop,
            "warm_up": timedelta(days=2),
            "county": county,
            "publisher": publisher,
        },
    )
    runner.start()
    runner.join(timeout=60)

    published = publisher.events
    assert not runner.is_alive()
    assert published[: len(registry)] == registry
    traffic = published[len(registry) :]
    assert traffic
    assert all(event.occurred_at >= START - timedelta(days=2) for event in traffic)
    assert max(event.recorded_at for event in traffic) > START
    assert all(a.recorded_at <= b.recorded_at for a, b in pairwise(traffic))
    # The clock on the log ticks each simulated minute from the start, not during the
    # warm-up, so alerts keep simulated time.
    ticks = [event for event in traffic if isinstance(event, ClockTicked)]
    assert [tick.occurred_at for tick in ticks[:3]] == [
        START + timedelta(minutes=n) for n in range(3)
    ]
    assert {tick.payload.clock for tick in ticks} == {Settings().clock}


def test_run_refuses_a_speed_that_is_not_positive(county: County) -> None:
    publisher = _RecordingPublisher(threading.Event(), enough=1)

    with pytest.raises(ValueError, match="speed"):
        run_simulator(Settings(), speed=0, seed=SEED, county=county, publisher=publisher)

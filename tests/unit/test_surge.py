"""The surge scenario against the default alert rules and OPEL configuration: the
simulated county folded as the view folds it, and read by the alert watch as the watch
process feeds it, in runs of changes between the clock's ticks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from flowcentre.domain.alert_rules import load_alerts
from flowcentre.domain.alert_watch import AlertWatch
from flowcentre.domain.apply import Change, State, apply
from flowcentre.domain.beds import BedStatus
from flowcentre.domain.events import (
    Actor,
    ActorKind,
    AlertRaised,
    AlertResolved,
    AlertRuleSaved,
    BedStatusChanged,
    ClockTicked,
    EventBase,
    OpelAssessed,
    OpelReadingRecorded,
    PatientAdmitted,
    Source,
    Tick,
)
from flowcentre.domain.measures import Picture
from flowcentre.domain.opel import load_opel
from flowcentre.domain.opel_watch import OpelWatch
from producers.county import County
from producers.simulator import simulate
from producers.surge import Phases

#: Live traffic starts on a weekday morning; the surge ten simulated minutes later.
START = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
WARM_UP = timedelta(days=28)
WATCHED = timedelta(hours=12)
TICK = timedelta(minutes=5)
CLOCK = "county"
SITE = "WRH"
SOURCE = Source(system="flow-centre", organisation="FLOWCENTRE")
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="test-clock")
SITE_RULES = ("acute-occupancy-high", "acute-occupancy-critical", "opel-3-site", "opel-4-site")


@dataclass
class Run:
    phases: Phases
    events: list[EventBase]
    published: list[EventBase]
    watch: AlertWatch

    def during(self, event: EventBase, start: int, end: int) -> bool:
        return start <= event.occurred_at.timestamp() < end


def envelope(at: datetime, event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "occurred_at": at,
        "recorded_at": at,
        "source": SOURCE,
        "caused_by": SYSTEM,
    }


@pytest.fixture(scope="module")
def run() -> Run:
    county = County.load()
    surge_at = START + timedelta(minutes=county.surge.begins_after_minutes)
    events = list(simulate(county, START - WARM_UP, 3, until=START + WATCHED, surge=surge_at))
    state = State()
    for one in events:
        if one.occurred_at < START:
            state.absorb(apply(state, one))
    configuration = load_alerts()
    watch = AlertWatch(
        configuration, Picture(county.zone), CLOCK, "FLOWCENTRE", opel=OpelWatch(load_opel())
    )
    for rule in configuration.rules:
        saved = AlertRuleSaved(**envelope(START, f"rule/{rule.id}"), payload=rule)  # type: ignore[arg-type]
        state.absorb(apply(state, saved))
    watch.take(state)
    ticks = [
        ClockTicked(**envelope(START + n * TICK, f"tick/{n}"), payload=Tick(clock=CLOCK))  # type: ignore[arg-type]
        for n in range(WATCHED // TICK)
    ]
    live = [one for one in events if one.occurred_at >= START]
    # Released by recorded time, as the simulator publishes, a tick after what it follows.
    stream = sorted(
        [*live, *ticks], key=lambda one: (one.recorded_at, isinstance(one, ClockTicked))
    )
    published: list[EventBase] = []
    run_of_changes = Change()
    for one in stream:
        change = apply(state, one)
        state.absorb(change)
        run_of_changes.absorb(change)
        if isinstance(one, ClockTicked):
            taken = watch.take(run_of_changes)
            while taken:
                published += taken
                changes = Change()
                for out in taken:
                    changes.absorb(apply(state, out))
                state.absorb(changes)
                taken = watch.take(changes)
            run_of_changes = Change()
    return Run(Phases.of(county.surge, int(surge_at.timestamp())), events, published, watch)


def raised(run: Run, rule: str) -> list[AlertRaised]:
    return [
        one
        for one in run.published
        if isinstance(one, AlertRaised)
        and one.payload.rule.id == rule
        and one.payload.scope.id == SITE
    ]


def test_the_site_passes_its_occupancy_thresholds_and_reaches_opel_4_before_the_recovery(
    run: Run,
) -> None:
    phases = run.phases
    for rule in SITE_RULES:
        assert any(
            run.during(one, phases.begins, phases.recovery_from) for one in raised(run, rule)
        ), rule
    fours = [
        one
        for one in run.published
        if isinstance(one, OpelAssessed) and one.payload.scope.id == SITE and one.payload.level == 4
    ]
    assert fours
    assert run.during(fours[0], phases.begins, phases.recovery_from)


def test_every_alert_the_surge_raised_at_the_site_is_resolved_after_it(run: Run) -> None:
    phases = run.phases
    resolved = {
        one.payload.alert_id: one for one in run.published if isinstance(one, AlertResolved)
    }
    surge_alerts = [
        one
        for rule in SITE_RULES
        for one in raised(run, rule)
        if run.during(one, phases.begins, phases.recovery_from)
    ]
    assert surge_alerts
    for one in surge_alerts:
        ended = resolved.get(one.payload.alert_id)
        assert ended is not None, f"{one.payload.alert_id} is still open"
        assert ended.occurred_at.timestamp() > phases.recovery_from, one.payload.alert_id
    assert not [key for key in run.watch.alerts if key.split("@")[0] in SITE_RULES and SITE in key]


def test_the_department_reports_its_figures_worsening_then_back_to_usual(run: Run) -> None:
    phases = run.phases
    four_hours = [
        one
        for one in run.events
        if isinstance(one, OpelReadingRecorded)
        and one.payload.site_id == SITE
        and one.payload.parameter == "ed_four_hour_pct"
    ]
    before = [
        one.payload.value for one in four_hours if one.occurred_at.timestamp() <= phases.begins
    ]
    height = [
        one.payload.value
        for one in four_hours
        if run.during(one, phases.plateau_from, phases.recovery_from)
    ]
    after = [one.payload.value for one in four_hours if one.occurred_at.timestamp() >= phases.ends]
    assert before
    assert height
    assert after
    assert min(before) > 75
    assert max(height) < 56
    assert min(after) > 75
    assert min(one.occurred_at.timestamp() for one in four_hours) == phases.begins - 3600


def test_the_escalation_area_opens_at_the_height_and_closes_once_the_surge_is_over(
    run: Run,
) -> None:
    phases = run.phases
    changes = [
        one
        for one in run.events
        if isinstance(one, BedStatusChanged) and one.payload.bed_id.startswith("WRH-DCU-")
    ]
    opened = [one for one in changes if one.payload.reason == "Opened for escalation"]
    closed = [one for one in changes if one.payload.reason == "Escalation area closed"]

    assert len(opened) == 12
    assert {one.occurred_at.timestamp() for one in opened} == {phases.plateau_from}
    assert {one.payload.bed_id for one in closed} == {one.payload.bed_id for one in opened}
    assert all(one.payload.status is BedStatus.CLOSED for one in closed)
    assert min(one.occurred_at.timestamp() for one in closed) >= phases.ends
    placed = {
        one.payload.location.bed_id
        for one in run.events
        if isinstance(one, PatientAdmitted) and one.payload.location.ward_id == "WRH-DCU"
    }
    assert placed, "those still waiting at the height are placed in the escalation area"


@pytest.mark.parametrize(
    ("hours", "intensity"),
    [(-1, 0.0), (0, 0.0), (1, 0.5), (2, 1.0), (4, 1.0), (5.5, 0.5), (7, 0.0), (8, 0.0)],
)
def test_the_surge_rises_over_two_hours_holds_two_and_recovers_over_three(
    hours: float, intensity: float
) -> None:
    begins = int(START.timestamp())
    phases = Phases.of(County.load().surge, begins)
    assert phases.intensity(begins + int(hours * 3600)) == pytest.approx(intensity)

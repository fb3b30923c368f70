"""OPEL assessed live: readings and assessments folded in any order, each acute site and
the system assessed at a tick, and a new assessment when a reading goes stale."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flowcentre.domain.alert_rules import load_alerts
from flowcentre.domain.alert_watch import AlertWatch
from flowcentre.domain.apply import State, apply
from flowcentre.domain.events import EventBase, OpelAssessed
from flowcentre.domain.measures import Picture
from flowcentre.domain.opel import load_opel
from flowcentre.domain.opel_watch import OpelWatch
from tests.builders import T0, admitted, bed, event, fold, organisation, site, ward

CLOCK = "county"


def tick(minute: float) -> EventBase:
    return event("ClockTicked", {"clock": CLOCK}, minute)


def handover(minutes: float, at: float, site_id: str | None = "WRH") -> EventBase:
    payload = {"site_id": site_id, "parameter": "ambulance_handover_mean_minutes", "value": minutes}
    return event("OpelReadingRecorded", payload, at)


def assessed(story: list[EventBase]) -> tuple[State, list[OpelAssessed]]:
    state = State()
    watch = AlertWatch(load_alerts(), Picture(ZoneInfo("Europe/London")), CLOCK, "FC")
    watch.opel = OpelWatch(load_opel())
    published: list[OpelAssessed] = []
    queue = list(story)
    while queue:
        change = apply(state, queue.pop(0))
        state.absorb(change)
        out = watch.take(change)
        published += [one for one in out if isinstance(one, OpelAssessed)]
        queue[:0] = out
    return state, published


def full_ward() -> list[EventBase]:
    beds = [bed(f"B{n}") for n in range(10)]
    return [
        organisation(),
        site(),
        ward(),
        *beds,
        *(admitted(f"S{n}", f"B{n}", -1) for n in range(10)),
    ]


def test_each_acute_site_and_the_system_is_assessed_at_a_tick_and_again_only_on_change() -> None:
    state, published = assessed([*full_ward(), tick(0), tick(1)])

    assert [one.payload.scope.id for one in published] == ["WRH", None]
    wrh = published[0].payload
    # Occupancy 100% scores 4 and no criteria to reside 0% scores 1, each weighing 2;
    # discharges against admissions (none of ten) 4, escalation beds and long stays 1,
    # each weighing 1; nothing else has a value: (2 * 3 + 3) / (3 * 7) = 42.9%.
    assert (wrh.level, wrh.share, wrh.previous) == (2, 42.9, None)
    assert wrh.drivers == ("general_acute_occupancy_pct", "discharges_against_admissions_pct")
    assert state.opel["WRH"].current is not None


def test_a_reading_that_goes_stale_is_shown_so_in_a_new_assessment() -> None:
    story = [*full_ward(), handover(70, -1), tick(0), tick(100), tick(130)]

    _, published = assessed(story)

    wrh = [one.payload for one in published if one.payload.scope.id == "WRH"]
    # With the handover's 4: (3 + 9) / 24 = 50%, level 3; stale, 9 / 21 = 42.9%, level 2.
    assert [(one.level, one.share) for one in wrh] == [(3, 50.0), (2, 42.9)]
    handovers = [
        next(p for p in one.parameters if p.parameter == "ambulance_handover_mean_minutes")
        for one in wrh
    ]
    assert [(p.value, p.score, p.stale) for p in handovers] == [
        (70.0, 4, False),
        (None, None, True),
    ]
    assert handovers[1].measured_at == T0 - timedelta(minutes=1)


def test_readings_and_assessments_fold_in_any_order() -> None:
    readings = [handover(20, 5), handover(40, 10), handover(20, 5)]

    assert fold(readings).readings == fold(readings[::-1]).readings
    assert fold(readings).readings["WRH:ambulance_handover_mean_minutes"].value == 40
    assert (
        fold([handover(25, 3, site_id=None)])
        .readings["system:ambulance_handover_mean_minutes"]
        .value
        == 25
    )


def test_a_rise_of_a_sites_opel_raises_an_alert_at_the_same_tick() -> None:
    rule = {
        "id": "opel-2-site",
        "name": "An acute site at OPEL 2 or above",
        "measure": "opel_level",
        "scope": {"level": "site"},
        "comparison": ">=",
        "threshold": 2,
    }
    story = [*full_ward(), event("AlertRuleSaved", rule, -1), tick(0)]

    state, _ = assessed(story)

    [alert] = state.alerts.values()
    assert alert.details is not None
    assert (alert.details.value, alert.details.scope.id) == (2.0, "WRH")
    assert alert.raised is not None
    assert alert.raised.at == tick(0).occurred_at

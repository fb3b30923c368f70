"""Raising and clearing alerts on the log's clock: hold times, hysteresis, times of day,
resolving by hand, and the escalation ladder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flowcentre.domain.alert_rules import AlertRule, Ladder
from flowcentre.domain.alerts import Clear, Raise, Watch, due_steps, observe, resolved_by_hand
from flowcentre.domain.measures import Reading
from tests.builders import OCCUPANCY_RULE

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SITE = "site:WRH"


def rule(**changes: Any) -> AlertRule:
    return AlertRule.model_validate({**OCCUPANCY_RULE, **changes})


def run(
    watched: AlertRule, readings: Sequence[tuple[float, float | None]], watch: Watch | None = None
) -> tuple[Watch, list[tuple[float, str]]]:
    """Feeds (minute, value) readings in turn; returns the watch and what each raised or
    cleared, by minute."""
    watch = watch or Watch()
    happened: list[tuple[float, str]] = []
    for minute, value in readings:
        watch, outcome = observe(
            watched, SITE, Reading(value, 1, 1), watch, T0 + timedelta(minutes=minute), LONDON
        )
        if isinstance(outcome, Raise):
            happened.append((minute, "raised"))
        elif isinstance(outcome, Clear):
            happened.append((minute, "cleared"))
    return watch, happened


def test_at_the_threshold_nothing_is_raised_and_past_it_at_once() -> None:
    assert run(rule(), [(0, 92.0)])[1] == []
    assert run(rule(), [(0, 92.1)])[1] == [(0, "raised")]
    assert run(rule(comparison=">="), [(0, 92.0)])[1] == [(0, "raised")]


def test_an_alert_waits_until_the_condition_has_held_for_the_hold_time() -> None:
    held = rule(hold_minutes=15)

    assert run(held, [(0, 93), (14, 94)])[1] == []
    assert run(held, [(0, 93), (14, 94), (15, 93)])[1] == [(15, "raised")]
    assert run(held, [(0, 93), (10, 91), (14, 93), (28, 93)])[1] == [], "the dip restarts it"
    assert run(held, [(0, 93), (10, 91), (14, 93), (29, 93)])[1] == [(29, "raised")]


def test_a_measure_hovering_at_the_threshold_raises_once_with_a_clear_threshold() -> None:
    hovering = [(minute, 92.5 if minute % 2 else 91.5) for minute in range(10)]

    flapping = run(rule(), hovering)[1]
    assert [what for _, what in flapping].count("raised") == 5, "no gap: it flaps"
    assert run(rule(clear=90), hovering)[1] == [(1, "raised")]
    assert run(rule(clear=90), [*hovering, (10, 90.0)])[1] == [(1, "raised"), (10, "cleared")]


def test_an_alert_clears_only_once_the_clear_condition_has_held_for_its_time() -> None:
    slow = rule(clear=90, clear_minutes=30)
    readings = [(0, 95), (10, 89), (39, 89), (40, 91), (45, 89), (74, 89), (75, 88)]

    assert run(slow, readings)[1] == [(0, "raised"), (75, "cleared")]


def test_nothing_to_measure_clears_an_open_alert_and_raises_none() -> None:
    assert run(rule(), [(0, 95), (5, None)])[1] == [(0, "raised"), (5, "cleared")]
    assert run(rule(), [(0, None)])[1] == []


def test_a_disabled_rule_clears_its_open_alert() -> None:
    watch, _ = run(rule(), [(0, 95)])
    assert run(rule(enabled=False), [(1, 95)], watch)[1] == [(1, "cleared")]


def test_a_rule_with_a_time_of_day_judges_from_that_local_time_until_midnight() -> None:
    # T0 is 08:00 in London (winter time); the rule is judged from noon.
    by_noon = rule(
        measure="discharges_today",
        scope={"level": "system"},
        comparison="<",
        threshold=25,
        by=time(12),
    )
    readings = [(0, 3), (239, 20), (240, 20), (300, 26), (16 * 60 - 1, 26), (16 * 60, 0)]

    assert run(by_noon, readings)[1] == [(240, "raised"), (300, "cleared")]
    late = [(240, 20), (16 * 60, 20)]
    assert run(by_noon, late)[1] == [(240, "raised"), (960, "cleared")], "a new day"


def test_a_replay_names_the_alert_alike() -> None:
    readings: list[tuple[float, float | None]] = [(0, 95)]
    first = run(rule(), readings)[0].alert_id

    assert first == run(rule(), readings)[0].alert_id == "occupancy-high@site:WRH@20261102T080000Z"


def test_an_alert_resolved_by_hand_is_not_raised_again_until_the_condition_clears() -> None:
    watch, _ = run(rule(clear=90), [(0, 95)])
    handled = resolved_by_hand(watch)

    assert run(rule(clear=90), [(5, 95), (10, 91)], handled)[1] == []
    assert run(rule(clear=90), [(5, 95), (10, 89), (15, 95)], handled)[1] == [(15, "raised")]


LADDER = Ladder.model_validate(
    {
        "steps": [
            {"after_minutes": 0, "notify": ["nurse in charge"]},
            {"after_minutes": 15, "notify": ["site manager"]},
            {"after_minutes": 45, "notify": ["on-call director"]},
        ]
    }
)


def test_an_unacknowledged_alert_climbs_each_step_at_its_time() -> None:
    def due(minute: float, climbed: int) -> list[int]:
        return due_steps(LADDER, T0, climbed, T0 + timedelta(minutes=minute))

    assert due(0, 0) == [0]
    assert due(14, 1) == []
    assert due(15, 1) == [1]
    assert due(44, 2) == []
    assert due(45, 2) == [2], "escalated again, to the next step"
    assert due(60, 3) == []
    assert due(50, 0) == [0, 1, 2], "steps missed meanwhile are all climbed"

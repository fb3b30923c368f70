"""The alert watch over a story of events, as the worker runs it: each change the view
applies is taken, and what the watch publishes is applied in turn."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flowcentre.domain.alert_rules import load_alerts
from flowcentre.domain.alert_watch import AlertWatch, resumed
from flowcentre.domain.alerts import Watch
from flowcentre.domain.apply import State, apply
from flowcentre.domain.events import (
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    EventBase,
)
from flowcentre.domain.measures import Picture
from tests.builders import (
    OCCUPANCY_RULE,
    admitted,
    bed,
    discharged,
    event,
    organisation,
    request_cancelled,
    requested,
    site,
    ward,
)

LONDON = ZoneInfo("Europe/London")
CLOCK = "county"
RULE: dict[str, Any] = {**OCCUPANCY_RULE, "clear": 90, "hold_minutes": 15, "ladder": "site"}
MANAGER = {"caused_by": {"kind": "user", "id": "mgr-1"}}


def tick(minute: float) -> EventBase:
    return event("ClockTicked", {"clock": CLOCK}, minute)


def ward_of_ten() -> list[EventBase]:
    return [organisation(), site(), ward(), *(bed(f"B{n}") for n in range(10))]


def run(story: list[EventBase]) -> tuple[State, list[EventBase]]:
    """Applies the story as the view would, feeding the watch each change and applying
    what it publishes; returns the state and everything the watch published."""
    state = State()
    watch = AlertWatch(load_alerts(), Picture(LONDON), CLOCK, "FLOWCENTRE")
    published: list[EventBase] = []
    queue = list(story)
    while queue:
        change = apply(state, queue.pop(0))
        state.absorb(change)
        out = watch.take(change)
        published += out
        queue[:0] = out
    return state, published


def kinds(published: list[EventBase]) -> list[tuple[str, float]]:
    start = published[0].occurred_at if published else None
    return [
        (one.type, (one.occurred_at - start).total_seconds() / 60)  # type: ignore[attr-defined, operator]
        for one in published
    ]


def occupancy_story() -> list[EventBase]:
    return [
        *ward_of_ten(),
        event("AlertRuleSaved", RULE, -1),
        tick(0),
        *(admitted(f"S{n}", f"B{n}", 1) for n in range(10)),
        tick(5),
        tick(16),
        tick(31),
    ]


def test_an_alert_is_raised_once_its_condition_has_held_and_climbs_its_ladder() -> None:
    state, published = run(occupancy_story())

    assert [type(one) for one in published] == [AlertRaised, AlertEscalated, AlertEscalated]
    raised = published[0]
    assert isinstance(raised, AlertRaised)
    assert raised.occurred_at == tick(16).occurred_at, "held 15 minutes from the first tick"
    assert raised.payload.value == 100.0
    assert (raised.payload.wards, raised.payload.patients) == (1, 10)
    assert raised.payload.scope.id == "WRH"
    assert raised.payload.rule_version == 1
    record = state.alerts[raised.payload.alert_id]
    assert record.climbed == 2, "nurse in charge at once, site manager 15 minutes on"


def test_an_acknowledged_alert_climbs_no_further_and_clears_when_the_measure_does() -> None:
    story = occupancy_story()
    _, first = run(story)
    alert_id = first[0].payload.alert_id  # type: ignore[attr-defined]
    acknowledged = event("AlertAcknowledged", {"alert_id": alert_id}, 32, **MANAGER)
    state, published = run([*story, acknowledged, tick(61), discharged("S0", 62)])

    assert [type(one) for one in published] == [
        AlertRaised,
        AlertEscalated,
        AlertEscalated,
        AlertResolved,
    ]
    resolved = published[-1]
    assert isinstance(resolved, AlertResolved)
    assert resolved.payload.value == 90.0, "back at the clear threshold"
    assert state.alerts[alert_id].status == "resolved"


def test_a_manager_resolving_an_alert_keeps_it_down_until_the_measure_clears() -> None:
    story = occupancy_story()
    alert_id = run(story)[1][0].payload.alert_id  # type: ignore[attr-defined]
    by_hand = event(
        "AlertResolved", {"alert_id": alert_id, "reason": "escalation ward opened"}, 32, **MANAGER
    )

    _, published = run([*story, by_hand, tick(60), tick(120)])

    assert [type(one) for one in published] == [AlertRaised, AlertEscalated, AlertEscalated]


def test_deleting_a_rule_resolves_its_open_alerts() -> None:
    deleted = event("AlertRuleDeleted", {"rule_id": "occupancy-high"}, 32, **MANAGER)

    _, published = run([*occupancy_story(), deleted])

    last = published[-1]
    assert isinstance(last, AlertResolved)
    assert last.payload.reason == "its rule was deleted"


def test_nothing_is_judged_before_the_first_tick_and_a_replay_publishes_the_same() -> None:
    story = occupancy_story()

    assert run([e for e in story if e.type != "ClockTicked"])[1] == []  # type: ignore[attr-defined]
    assert run(story)[1] == run(story)[1]


def test_an_alert_that_clears_is_not_raised_again_at_the_same_instant() -> None:
    at_once = {**RULE, "hold_minutes": 0, "clear": 92}
    story = [
        *ward_of_ten(),
        event("AlertRuleSaved", at_once, -1),
        tick(0),
        *(admitted(f"S{n}", f"B{n}", 1) for n in range(10)),
        discharged("S0", 2),
        admitted("S10", "B0", 3),
        tick(1),
    ]

    _, published = run(story)

    raised = [one for one in published if isinstance(one, AlertRaised)]
    assert [one.occurred_at for one in raised] == [tick(0).occurred_at, tick(1).occurred_at]
    assert len({one.payload.alert_id for one in raised}) == 2


def test_an_alert_whose_scope_the_rule_no_longer_watches_resolves() -> None:
    by_ward = {**RULE, "scope": {"level": "ward"}}

    _, published = run([*occupancy_story(), event("AlertRuleSaved", by_ward, 32, **MANAGER)])

    resolved = [one for one in published if isinstance(one, AlertResolved)]
    assert [one.payload.reason for one in resolved] == ["its scope no longer applies"]


def test_a_disabled_rule_resolves_its_alert_at_once_whatever_its_clear_time() -> None:
    off = {**RULE, "clear_minutes": 60, "enabled": False}

    _, published = run([*occupancy_story(), event("AlertRuleSaved", off, 32, **MANAGER)])

    last = published[-1]
    assert isinstance(last, AlertResolved)
    assert (last.payload.reason, last.occurred_at) == (
        "the rule was disabled",
        tick(31).occurred_at,
    )


def test_a_restarted_watch_takes_each_scopes_open_alert_from_the_view() -> None:
    state, published = run(occupancy_story())
    alert_id = published[0].payload.alert_id  # type: ignore[attr-defined]
    key = ("occupancy-high", "site:WRH")
    held_since = tick(0).occurred_at

    forgotten = resumed({}, state.alerts.values())
    kept = resumed({key: Watch(breached_since=held_since, alert_id="gone")}, state.alerts.values())
    closed = resumed({key: Watch(breached_since=held_since, alert_id=alert_id)}, [])

    assert forgotten[key].alert_id == alert_id, "raised just before a stop: taken up"
    assert kept[key] == Watch(breached_since=held_since, alert_id=alert_id)
    assert closed[key] == Watch(breached_since=held_since), "resolved meanwhile: no longer held"


def waits_rule(rule_id: str, scope: dict[str, Any]) -> EventBase:
    rule = {
        "id": rule_id,
        "name": "Patients waiting for a bed",
        "measure": "pending_admissions",
        "scope": scope,
        "comparison": ">=",
        "threshold": 2,
    }
    return event("AlertRuleSaved", rule, -1)


def test_a_change_of_a_wait_for_a_bed_re_reads_the_rules_over_its_site_at_once() -> None:
    story = [
        *ward_of_ten(),
        waits_rule("waits-by-site", {"level": "site"}),
        tick(0),
        requested("S1", 1, ward_id="W1"),
        requested("S2", 2),
        request_cancelled("S1", 3),
    ]

    _, published = run(story)

    raised, cleared = published
    assert isinstance(raised, AlertRaised)
    assert isinstance(cleared, AlertResolved)
    assert raised.payload.scope.id == "WRH"
    assert (raised.payload.value, raised.payload.patients, raised.payload.wards) == (2, 2, 1)
    assert cleared.payload.value == 1, "the cancel ended a wait: judged before any tick"


def test_waits_at_a_site_the_registry_does_not_know_count_in_the_system_at_once() -> None:
    story = [
        *ward_of_ten(),
        waits_rule("waits-in-the-system", {"level": "system"}),
        tick(0),
        requested("S1", 1, "NOWHERE"),
        requested("S2", 2, "NOWHERE"),
    ]

    _, published = run(story)

    [raised] = published
    assert isinstance(raised, AlertRaised)
    assert raised.payload.value == 2

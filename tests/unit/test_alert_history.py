"""Rules, alerts and clocks folded from their events: in any order, once each."""

from __future__ import annotations

import itertools
from typing import Any

from flowcentre.domain.alert_history import (
    AlertRecord,
    AlertStatus,
    RuleRecord,
    clock_ticked,
    fold_alert,
    fold_rule,
)
from flowcentre.domain.alert_views import notices, told
from flowcentre.domain.events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    AlertRuleDeleted,
    AlertRuleSaved,
    ClockTicked,
    EventBase,
)
from tests.builders import OCCUPANCY_RULE as RULE
from tests.builders import event

ALERT = "occupancy-high@site:WRH@20261102T080000Z"


def saved(minute: float, **changes: Any) -> AlertRuleSaved:
    built = event("AlertRuleSaved", {**RULE, **changes}, minute)
    assert isinstance(built, AlertRuleSaved)
    return built


def rule_after(*events: EventBase) -> RuleRecord | None:
    record: RuleRecord | None = None
    for one in events:
        assert isinstance(one, AlertRuleSaved | AlertRuleDeleted)
        record = fold_rule(record, one)
    return record


def test_each_save_is_a_version_in_event_time_whatever_the_arrival() -> None:
    first, second = saved(0), saved(5, threshold=95)

    for order in ([first, second], [second, first], [first, second, first]):
        record = rule_after(*order)
        assert record is not None
        assert record.version == 2
        assert record.current is not None
        assert record.current.rule.threshold == 95


def test_a_deleted_rule_has_no_current_version_until_saved_again() -> None:
    deleted = event("AlertRuleDeleted", {"rule_id": "occupancy-high", "reason": "merged"}, 10)

    gone = rule_after(saved(0), deleted)
    assert gone is not None
    assert gone.current is None
    assert gone.delete_reason == "merged"
    back = rule_after(saved(0), deleted, saved(20, threshold=90))
    assert back is not None
    assert back.current is not None
    assert back.version == 2


def alert_story() -> list[EventBase]:
    details = {
        "alert_id": ALERT,
        "rule": RULE,
        "rule_version": 1,
        "scope": {"level": "site", "id": "WRH"},
        "value": 93.4,
        "wards": 12,
        "patients": 310,
    }
    return [
        event("AlertRaised", details, 0),
        event("AlertEscalated", {"alert_id": ALERT, "step": 0, "notify": ["nurse in charge"]}, 0),
        event("AlertEscalated", {"alert_id": ALERT, "step": 1, "notify": ["site manager"]}, 15),
        event(
            "AlertAcknowledged",
            {"alert_id": ALERT, "note": "escalation beds open"},
            20,
            caused_by={"kind": "user", "id": "mgr-1"},
        ),
        event("AlertResolved", {"alert_id": ALERT, "value": 89.5}, 90),
    ]


def alert_after(events: list[EventBase]) -> AlertRecord | None:
    record: AlertRecord | None = None
    for one in events:
        assert isinstance(one, AlertRaised | AlertEscalated | AlertAcknowledged | AlertResolved)
        record = fold_alert(record, one)
    return record


def test_an_alerts_history_is_the_same_in_every_order_and_with_repeats() -> None:
    story = alert_story()
    expected = alert_after(story)
    assert expected is not None
    assert expected.status is AlertStatus.RESOLVED
    assert expected.climbed == 2
    assert expected.acknowledged is not None
    assert expected.acknowledged.by.id == "mgr-1"
    assert expected.cleared_at_value == 89.5

    for order in itertools.permutations(story):
        assert alert_after([*order, order[0]]) == expected


def test_an_alert_is_open_until_acknowledged_and_the_earliest_resolution_stands() -> None:
    story = alert_story()

    raised = alert_after(story[:3])
    assert raised is not None
    assert raised.status is AlertStatus.OPEN
    acknowledged = alert_after(story[:4])
    assert acknowledged is not None
    assert acknowledged.status is AlertStatus.ACKNOWLEDGED
    by_hand = event(
        "AlertResolved", {"alert_id": ALERT, "reason": "handled at the bed meeting"}, 60
    )
    record = alert_after([*story, by_hand])
    assert record is not None
    assert (record.reason, record.cleared_at_value) == ("handled at the bed meeting", None)


def test_a_clock_never_runs_back() -> None:
    ticks = [event("ClockTicked", {"clock": "county"}, minute) for minute in (0, 2, 1)]
    record = None
    for tick in ticks:
        assert isinstance(tick, ClockTicked)
        record = clock_ticked(record, tick)

    assert record is not None
    assert record.at == ticks[1].occurred_at


def test_outside_systems_are_told_each_change_of_an_alert_once() -> None:
    story = alert_story()
    raised = alert_after(story[:1])
    climbed = alert_after(story[:3])
    acknowledged = alert_after(story[:4])
    resolved = alert_after(story)
    assert raised
    assert climbed
    assert acknowledged
    assert resolved

    def kinds(before: tuple[str, int] | None, after: AlertRecord) -> list[str]:
        return [notice["delivery_id"].rsplit("/", 1)[1] for notice in notices(before, after)]

    assert kinds(None, raised) == ["raised"]
    assert kinds(told(raised), climbed) == ["escalated-0", "escalated-1"]
    assert kinds(told(climbed), acknowledged) == ["acknowledged"]
    assert kinds(told(acknowledged), resolved) == ["resolved"]
    assert kinds(None, resolved) == [
        "raised",
        "escalated-0",
        "escalated-1",
        "acknowledged",
        "resolved",
    ], "all at once after a restart"
    assert kinds(told(resolved), resolved) == []
    second = notices(told(raised), climbed)[1]
    assert (second["type"], second["step"], second["notify"]) == (
        "alert.escalated",
        1,
        ["site manager"],
    )
    first = notices(None, raised)[0]
    assert (first["type"], first["alert"]["alert_id"]) == ("alert.raised", ALERT)

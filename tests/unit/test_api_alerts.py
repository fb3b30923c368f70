"""The alert and rule routes over an in-memory view: who may read and act, the events
published, and refusals that name what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from flowcentre.api.deps import get_reads
from flowcentre.domain.access import Principal, Role
from flowcentre.domain.events import (
    AlertAcknowledged,
    AlertResolved,
    AlertRuleDeleted,
    AlertRuleSaved,
    EventBase,
    OpelReadingRecorded,
)
from tests.api_app import HISTORY, StateReads, app_over, signed_in
from tests.builders import OCCUPANCY_RULE, event, fold
from tests.unit.conftest import RecordingPublisher

RULE: dict[str, Any] = {**OCCUPANCY_RULE, "clear": 90, "ladder": "site"}
WARNING = "occupancy-high@site:WRH@20261102T081600Z"
CRITICAL = "occupancy-critical@site:WRH@20261102T090000Z"


def raised(alert_id: str, minute: float, **rule: Any) -> EventBase:
    details = {
        "alert_id": alert_id,
        "rule": {**RULE, **rule},
        "rule_version": 1,
        "scope": {"level": "site", "id": "WRH"},
        "value": 95.0,
        "wards": 3,
        "patients": 80,
    }
    return event("AlertRaised", details, minute)


ALERTS = [
    event("AlertRuleSaved", RULE, 0),
    raised(WARNING, 16),
    raised(CRITICAL, 60, id="occupancy-critical", severity="critical", threshold=97, clear=95),
]


@asynccontextmanager
async def api(
    principal: Principal, publisher: RecordingPublisher, *extra: EventBase
) -> AsyncIterator[httpx.AsyncClient]:
    app = app_over(publisher, principal)
    state = fold([*HISTORY, *ALERTS, *extra])
    app.dependency_overrides[get_reads] = lambda: StateReads(state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


MANAGER = signed_in(Role.MANAGER)


async def test_open_alerts_come_most_severe_first_to_managers_and_the_flow_centre() -> None:
    for who in (MANAGER, signed_in(Role.FLOW_CENTRE)):
        async with api(who, RecordingPublisher()) as client:
            answer = await client.get("/api/v1/alerts")
        assert answer.status_code == 200, answer.text
        assert [one["alert_id"] for one in answer.json()] == [CRITICAL, WARNING]
        assert answer.json()[1]["value"] == 95.0
    async with api(signed_in(Role.WARD_STAFF, "AVON4"), RecordingPublisher()) as client:
        assert (await client.get("/api/v1/alerts")).status_code == 403


async def test_a_manager_acknowledges_an_open_alert_once() -> None:
    publisher = RecordingPublisher()
    async with api(MANAGER, publisher) as client:
        answer = await client.post(f"/api/v1/alerts/{WARNING}/acknowledge", json={"note": "on it"})
    assert answer.status_code == 202, answer.text
    [published] = publisher.published
    assert isinstance(published, AlertAcknowledged)
    assert published.payload.note == "on it"
    assert published.caused_by == MANAGER.actor
    assert published.occurred_at > ALERTS[1].occurred_at

    async with api(MANAGER, RecordingPublisher()) as client:
        no_note = await client.post(f"/api/v1/alerts/{WARNING}/acknowledge")
    assert no_note.status_code == 202, "the note is optional"

    acknowledged = event("AlertAcknowledged", {"alert_id": WARNING}, 20)
    async with api(MANAGER, RecordingPublisher(), acknowledged) as client:
        again = await client.post(f"/api/v1/alerts/{WARNING}/acknowledge", json={})
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]


async def test_only_managers_act_on_alerts() -> None:
    async with api(signed_in(Role.FLOW_CENTRE), RecordingPublisher()) as client:
        answer = await client.post(f"/api/v1/alerts/{WARNING}/acknowledge", json={})
    assert answer.status_code == 403


async def test_resolving_by_hand_needs_a_reason_and_an_alert_still_open() -> None:
    publisher = RecordingPublisher()
    async with api(MANAGER, publisher) as client:
        no_reason = await client.post(f"/api/v1/alerts/{WARNING}/resolve", json={})
        unknown = await client.post("/api/v1/alerts/nothing@here@now/resolve", json={"reason": "x"})
        done = await client.post(
            f"/api/v1/alerts/{WARNING}/resolve", json={"reason": "ward opened"}
        )
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    assert unknown.status_code == 404
    assert done.status_code == 202
    [published] = publisher.published
    assert isinstance(published, AlertResolved)
    assert published.payload.reason == "ward opened"

    cleared = event("AlertResolved", {"alert_id": WARNING, "value": 89.0}, 30)
    async with api(MANAGER, RecordingPublisher(), cleared) as client:
        late = await client.post(f"/api/v1/alerts/{WARNING}/resolve", json={"reason": "x"})
    assert late.status_code == 409


async def test_the_history_is_a_time_range_of_at_most_a_month() -> None:
    async with api(MANAGER, RecordingPublisher()) as client:
        day = await client.get(
            "/api/v1/alerts",
            params={
                "status": "all",
                "since": "2026-11-02T00:00:00Z",
                "until": "2026-11-03T00:00:00Z",
            },
        )
        too_long = await client.get(
            "/api/v1/alerts",
            params={
                "status": "all",
                "since": "2026-09-01T00:00:00Z",
                "until": "2026-11-03T00:00:00Z",
            },
        )
    assert [one["alert_id"] for one in day.json()] == [WARNING, CRITICAL]
    assert too_long.status_code == 422
    assert too_long.json()["detail"].startswith("since:")


async def test_a_manager_saves_a_rule_as_a_new_version_and_deletes_it() -> None:
    publisher = RecordingPublisher()
    changed = {**RULE, "threshold": 94}
    async with api(MANAGER, publisher) as client:
        listed = await client.get("/api/v1/alert-rules")
        saved = await client.put("/api/v1/alert-rules/occupancy-high", json=changed)
        deleted = await client.request(
            "DELETE", "/api/v1/alert-rules/occupancy-high", json={"reason": "merged"}
        )
        missing = await client.delete("/api/v1/alert-rules/no-such-rule")
        one = await client.get("/api/v1/alert-rules/occupancy-high")
    assert [rule["rule_id"] for rule in listed.json()] == ["occupancy-high"]
    assert listed.json()[0]["version"] == 1
    assert (saved.status_code, deleted.status_code, missing.status_code) == (202, 202, 404)
    save, delete = publisher.published
    assert isinstance(save, AlertRuleSaved)
    assert save.payload.threshold == 94
    assert isinstance(delete, AlertRuleDeleted)
    assert delete.payload.reason == "merged"
    assert [version["version"] for version in one.json()["versions"]] == [1]


async def test_a_rule_that_cannot_work_is_refused_naming_the_field() -> None:
    publisher = RecordingPublisher()
    async with api(MANAGER, publisher) as client:
        wrong_side = await client.put(
            "/api/v1/alert-rules/occupancy-high", json={**RULE, "clear": 95}
        )
        other_id = await client.put("/api/v1/alert-rules/another", json=RULE)
        no_ladder = await client.put(
            "/api/v1/alert-rules/occupancy-high", json={**RULE, "ladder": "nobody"}
        )
    assert wrong_side.status_code == 422
    assert wrong_side.json()["detail"][0]["loc"] == ["body", "clear"]
    assert other_id.status_code == 422
    assert other_id.json()["detail"].startswith("id:")
    assert no_ladder.status_code == 422
    assert no_ladder.json()["detail"].startswith("ladder:")
    assert publisher.published == []


async def test_only_managers_change_rules() -> None:
    async with api(signed_in(Role.FLOW_CENTRE), RecordingPublisher()) as client:
        read = await client.get("/api/v1/alert-rules")
        change = await client.put("/api/v1/alert-rules/occupancy-high", json=RULE)
    assert (read.status_code, change.status_code) == (200, 403)


async def test_the_history_ends_at_the_clock_on_the_log_when_it_runs_ahead() -> None:
    far_ahead = event("ClockTicked", {"clock": "flowcentre"}, 60 * 24 * 400)
    late = raised("late@site:WRH@20271207T080000Z", 60 * 24 * 400 - 5)
    async with api(MANAGER, RecordingPublisher(), far_ahead, late) as client:
        found = await client.get("/api/v1/alerts", params={"status": "all"})
    assert [one["alert_id"] for one in found.json()] == ["late@site:WRH@20271207T080000Z"]


async def test_a_manager_records_a_reported_opel_reading_refused_naming_what_is_wrong() -> None:
    publisher = RecordingPublisher()
    reading = {"site_id": "WRH", "parameter": "ambulance_handover_mean_minutes", "value": 42}
    async with api(MANAGER, publisher) as client:
        taken = await client.post(
            "/api/v1/opel/readings", json={**reading, "measured_at": "2026-11-02T09:00:00Z"}
        )
        derived = await client.post(
            "/api/v1/opel/readings", json={**reading, "parameter": "general_acute_occupancy_pct"}
        )
        nowhere = await client.post("/api/v1/opel/readings", json={**reading, "site_id": "MAL"})
        ahead = await client.post(
            "/api/v1/opel/readings", json={**reading, "measured_at": "2999-01-01T00:00:00Z"}
        )
        opel = await client.get("/api/v1/opel")
    assert taken.status_code == 202, taken.text
    [published] = publisher.published
    assert isinstance(published, OpelReadingRecorded)
    assert published.occurred_at.isoformat() == "2026-11-02T09:00:00+00:00"
    assert published.caused_by == MANAGER.actor
    assert derived.json()["detail"].startswith("parameter:")
    assert nowhere.json()["detail"].startswith("site_id:")
    assert ahead.json()["detail"].startswith("measured_at:")
    assert opel.status_code == 200
    assert opel.json()["version"] == "flowcentre-2026-1"
    handover = next(
        one for one in opel.json()["parameters"] if one["id"] == "ambulance_handover_mean_minutes"
    )
    assert handover["name"] == "Mean ambulance handover time (minutes)"
    assert handover["source"] == "reported"
    async with api(signed_in(Role.FLOW_CENTRE), RecordingPublisher()) as client:
        refused = await client.post("/api/v1/opel/readings", json=reading)
    assert refused.status_code == 403

"""Feeds publishing events through the API: who may, for which organisation, in what shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from flowcentre.domain.access import Principal, Role
from flowcentre.domain.events import encode_event
from tests.api_app import app_over, signed_in
from tests.builders import T0, admitted, bed_status, event
from tests.unit.conftest import RecordingPublisher

T0_MINUTES = T0.timestamp() / 60


RLQ = {"system": "PAS", "organisation": "RLQ"}


def waiting_for_a_bed(**place: str) -> dict[str, Any]:
    return {
        "spell_id": "S9",
        "patient": {"patient_id": "P9", "given_name": "Ada", "family_name": "Byron"},
        "site_id": "WRH",
        "decided_at": T0.isoformat(),
        **place,
    }


def documents(*events: Any) -> list[Any]:
    return [orjson.loads(encode_event(one)) for one in events]


async def client_as(
    publisher: RecordingPublisher, principal: Principal
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_over(publisher, principal))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def feed(publisher: RecordingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_as(publisher, signed_in(Role.INTEGRATION)):
        yield client


async def test_a_feed_publishes_its_organisations_events_in_order(
    feed: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    sent = [admitted("S9", "B2", 5, "AVON4"), bed_status("SR1", "awaiting_clean", 6)]

    answer = await feed.post("/api/v1/events", json=documents(*sent))

    assert answer.status_code == 202, answer.text
    assert answer.json()["event_ids"] == [one.event_id for one in sent]
    account = signed_in(Role.INTEGRATION).actor
    assert publisher.published == [one.model_copy(update={"caused_by": account}) for one in sent]


async def test_an_event_of_another_organisation_is_refused_and_none_is_published(
    feed: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    theirs = event(
        "BedStatusChanged",
        {"bed_id": "SR1", "status": "clean"},
        7,
        source={"system": "PAS", "organisation": "RLQ"},
    )

    ours = bed_status("B2", "awaiting_clean", 6)
    answer = await feed.post("/api/v1/events", json=documents(ours, theirs))

    assert answer.status_code == 403
    assert "event 1" in answer.json()["detail"]
    assert "'RLQ'" in answer.json()["detail"]
    assert publisher.published == []


async def test_an_event_breaking_the_contract_is_422_naming_the_field(
    feed: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    [broken] = documents(bed_status("B2", "awaiting_clean", 6))
    broken["payload"]["status"] = "sparkling"

    answer = await feed.post("/api/v1/events", json=[broken])

    assert answer.status_code == 422
    assert "status" in answer.text
    assert publisher.published == []


@pytest.mark.parametrize("role", [Role.FLOW_CENTRE, Role.ADMINISTRATOR, Role.MANAGER])
async def test_only_integration_accounts_publish(role: Role, publisher: RecordingPublisher) -> None:
    async for client in client_as(publisher, signed_in(role)):
        sent = documents(bed_status("B2", "awaiting_clean", 6))
        answer = await client.post("/api/v1/events", json=sent)

        assert answer.status_code == 403
        assert "events.publish" in answer.json()["detail"]
    assert publisher.published == []


async def test_a_wait_for_another_organisations_bed_is_not_the_feeds_to_cancel(
    publisher: RecordingPublisher,
) -> None:
    # W1 waits for a bed at WRH, RWP's site, and is in no bed yet.
    outsider = replace(signed_in(Role.INTEGRATION), organisation_id="RLQ")
    minute = datetime.now(UTC).timestamp() / 60 - T0_MINUTES
    sent = event("AdmissionRequestCancelled", {"spell_id": "W1"}, minute, source=RLQ)

    async for feed in client_as(publisher, outsider):
        answer = await feed.post("/api/v1/events", json=documents(sent))

    assert answer.status_code == 403, answer.text
    assert "patient W1" in answer.json()["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("kind", "payload", "minute", "why"),
    [
        (
            "SiteRegistered",
            {"site_id": "WRH", "organisation_id": "RLQ", "name": "Moved", "kind": "other"},
            0,
            "organisation RLQ",
        ),
        ("BedStatusChanged", {"bed_id": "ELSEWHERE-B1", "status": "clean"}, 0, "bed ELSEWHERE"),
        (
            "PatientTransferred",
            {"spell_id": "S1", "location": {"ward_id": "NOT-OURS", "bed_id": None}},
            0,
            "ward NOT-OURS",
        ),
        ("BedStatusChanged", {"bed_id": "B2", "status": "clean"}, 60 * 24 * 365, "future"),
        ("AdmissionRequested", waiting_for_a_bed(site_id="ELSEWHERE"), 0, "site ELSEWHERE"),
        ("AdmissionRequested", waiting_for_a_bed(ward_id="NOT-OURS"), 0, "ward NOT-OURS"),
        (
            "OpelReadingRecorded",
            {"site_id": "ELSEWHERE", "parameter": "ed_four_hour_pct", "value": 71},
            0,
            "site ELSEWHERE",
        ),
    ],
)
async def test_an_event_naming_what_is_not_the_organisations_is_refused(
    feed: httpx.AsyncClient,
    publisher: RecordingPublisher,
    kind: str,
    payload: dict[str, object],
    minute: float,
    why: str,
) -> None:
    sent = event(kind, payload, datetime.now(UTC).timestamp() / 60 - T0_MINUTES + minute)

    answer = await feed.post("/api/v1/events", json=documents(sent))

    assert answer.status_code == 403, answer.text
    assert why in answer.json()["detail"]
    assert publisher.published == []

"""The discharge planning routes over an in-memory view: the event each change publishes,
and the refusals that name what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from flowcentre.domain.access import Role
from flowcentre.domain.events import (
    CriteriaToResideReviewed,
    DischargeTaskUpdated,
    PatientReferred,
    SpellUpdated,
)
from flowcentre.domain.triage import Pathway
from tests.api_app import app_over, signed_in
from tests.builders import WELL
from tests.unit.conftest import RecordingPublisher

PLAN = "/api/v1/discharges/S1"


@pytest_asyncio.fixture
async def client(publisher: RecordingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    app = app_over(publisher, signed_in(Role.WARD_STAFF, "AVON4"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_the_plan_of_a_patient_on_the_ward_is_read_with_its_clocks(
    client: httpx.AsyncClient,
) -> None:
    plan = (await client.get(PLAN)).json()
    assert plan["initials"] == "AL"
    assert plan["bed_id"] == "B1"
    assert plan["long_stay"] in ("stranded", "super_stranded")
    assert plan["referral"] is None


async def test_readiness_changes_only_what_is_sent(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    answer = await client.patch(f"{PLAN}/readiness", json={"expected_discharge_date": None})
    assert answer.status_code == 202, answer.text
    [published] = publisher.published
    assert isinstance(published, SpellUpdated)
    assert published.payload.model_fields_set == {"spell_id", "expected_discharge_date"}
    assert published.caused_by.id == "rn-042"


async def test_a_delay_reason_must_be_one_of_the_configured_codes(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    review = {"meets_criteria": False, "delay_reason": "waiting-for-godot"}
    answer = await client.post(f"{PLAN}/reside-reviews", json=review)
    assert answer.status_code == 422
    assert "delay_reason" in answer.json()["detail"]
    review["delay_reason"] = "awaiting-reablement"
    answer = await client.post(f"{PLAN}/reside-reviews", json=review)
    assert answer.status_code == 202, answer.text
    assert isinstance(publisher.published[-1], CriteriaToResideReviewed)
    met = {"meets_criteria": True, "delay_reason": "awaiting-reablement"}
    answer = await client.post(f"{PLAN}/reside-reviews", json=met)
    assert answer.status_code == 422
    assert "delay_reason" in answer.text


async def test_a_referral_then_triage_needs_the_referral_to_be_open(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    answer = await client.post(f"{PLAN}/referrals", json={})
    assert answer.status_code == 202, answer.text
    [referral] = publisher.published
    assert isinstance(referral, PatientReferred)
    # The in-memory view does not follow the log: the referral is not open in it yet.
    triage = await client.post(
        f"{PLAN}/referrals/{referral.payload.referral_id}/triage", json={"answers": WELL}
    )
    assert triage.status_code == 409
    assert "not the spell's open referral" in triage.text


async def test_the_proposal_is_offered_and_a_bad_answer_is_named(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/api/v1/discharges/triage-proposal", json={**WELL, "mobility": "one_to_assist"}
    )
    assert answer.json()["pathway"] == Pathway.HOME_WITH_SUPPORT.value
    bad = await client.post("/api/v1/discharges/triage-proposal", json={**WELL, "mobility": 3})
    assert bad.status_code == 422
    assert "mobility" in bad.text


async def test_a_task_update_is_published_and_an_unknown_task_refused(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    answer = await client.put(f"{PLAN}/tasks/transport", json={"status": "started"})
    assert answer.status_code == 202, answer.text
    assert isinstance(publisher.published[-1], DischargeTaskUpdated)
    unknown = await client.put(f"{PLAN}/tasks/teleport", json={"status": "started"})
    assert unknown.status_code == 422


async def test_capacity_nobody_declared_cannot_be_reserved(client: httpx.AsyncClient) -> None:
    capacity = {"service": "reablement", "area": "north", "day": "2026-11-03"}
    answer = await client.post(f"{PLAN}/reservations", json={"capacity": capacity})
    assert answer.status_code == 409
    assert "declared none" in answer.text


@pytest.mark.parametrize(("role", "wards"), [(Role.WARD_STAFF, ("OTHER",)), (Role.MANAGER, ())])
async def test_planning_needs_discharge_plan_over_the_ward(
    role: Role, wards: tuple[str, ...], publisher: RecordingPublisher
) -> None:
    app = app_over(publisher, signed_in(role, *wards))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        assert (await other.get(PLAN)).status_code == 403
        assert (await other.post(f"{PLAN}/referrals", json={})).status_code == 403
    assert publisher.published == []

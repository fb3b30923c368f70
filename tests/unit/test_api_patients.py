"""Patients' details: who may read them, and the audit record each read leaves first."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from flowcentre.domain.access import Principal, Role
from flowcentre.domain.audit import PatientDetailsRead
from flowcentre.publisher import EventPublisher
from tests.api_app import app_over, signed_in
from tests.unit.conftest import RecordingPublisher, UnreachableLog


async def client_as(
    principal: Principal, audit: EventPublisher
) -> AsyncIterator[httpx.AsyncClient]:
    app = app_over(RecordingPublisher(), principal, audit=audit)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def read_as(principal: Principal, path: str, audit: EventPublisher) -> httpx.Response:
    async for client in client_as(principal, audit):
        return await client.get(path)
    raise AssertionError("no client")


async def test_ward_staff_read_their_patients_details_and_the_read_is_recorded_first() -> None:
    trail = RecordingPublisher()

    answer = await read_as(signed_in(Role.WARD_STAFF, "AVON4"), "/api/v1/beds/B1/patients", trail)

    assert answer.status_code == 200
    [patient] = answer.json()
    assert (patient["spell_id"], patient["given_name"], patient["family_name"]) == (
        "S1",
        "Ada",
        "Lovelace",
    )
    assert patient["withheld"] is False
    [read] = trail.published
    assert isinstance(read, PatientDetailsRead)
    assert read.caused_by.id == "rn-042"
    assert read.payload.subject == "B1"
    assert [shown.patient_id for shown in read.payload.patients] == ["P-S1"]


async def test_an_empty_bed_names_no_one_and_records_nothing() -> None:
    trail = RecordingPublisher()

    answer = await read_as(signed_in(Role.FLOW_CENTRE), "/api/v1/beds/B2/patients", trail)

    assert answer.json() == []
    assert trail.published == []


@pytest.mark.parametrize(
    "principal",
    [
        signed_in(Role.DISPLAY, "AVON4"),
        signed_in(Role.MANAGER),
        signed_in(Role.WARD_STAFF, "OTHER"),
        signed_in(Role.ADMINISTRATOR),
    ],
)
async def test_roles_without_patient_read_over_the_ward_are_refused(principal: Principal) -> None:
    trail = RecordingPublisher()

    answer = await read_as(principal, "/api/v1/beds/B1/patients", trail)

    assert answer.status_code == 403
    assert "patient.read" in answer.json()["detail"]
    assert trail.published == []


async def test_a_read_the_audit_trail_cannot_record_is_not_answered() -> None:
    answer = await read_as(
        signed_in(Role.FLOW_CENTRE), "/api/v1/beds/B1/patients", UnreachableLog()
    )

    assert answer.status_code == 503
    assert "audit trail" in answer.json()["detail"]
    assert "Lovelace" not in answer.text


async def test_only_administrators_search_the_audit_trail_and_must_name_whom() -> None:
    admin = signed_in(Role.ADMINISTRATOR)
    trail = RecordingPublisher()

    searched = await read_as(admin, "/api/v1/audit/reads?patient=P-S1", trail)
    unnamed = await read_as(admin, "/api/v1/audit/reads", trail)
    refused = await read_as(signed_in(Role.FLOW_CENTRE), "/api/v1/audit/reads?reader=x", trail)

    assert (searched.status_code, searched.json()) == (200, [])
    assert unnamed.status_code == 422
    assert refused.status_code == 403

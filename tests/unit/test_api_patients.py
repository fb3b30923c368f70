"""Patients' details: who may read them, and the audit record each read leaves first."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from flowcentre.api.deps import get_audit_index
from flowcentre.domain.access import Principal, Role
from flowcentre.domain.audit import DetailsRead, PatientDetailsRead, PatientShown
from flowcentre.domain.events import Actor, ActorKind, Source
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


async def test_the_csv_export_keeps_a_formula_typed_as_a_name_as_text() -> None:
    app = app_over(RecordingPublisher(), signed_in(Role.ADMINISTRATOR))
    index = app.dependency_overrides[get_audit_index]()
    read = access_read(reader_name='=HYPERLINK("https://example.invalid")')
    await index.add([read])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        exported = await client.get("/api/v1/audit/reads.csv?patient=P-S1")

    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["reader_name"] == '\'=HYPERLINK("https://example.invalid")'
    assert row["patient_id"] == "P-S1"


def access_read(reader_name: str) -> PatientDetailsRead:
    now = datetime.now(UTC)
    return PatientDetailsRead(
        event_id="read-1",
        occurred_at=now,
        recorded_at=now,
        source=Source(system="flowcentre-api", organisation="RWP"),
        caused_by=Actor(kind=ActorKind.USER, id="rn-042", name=reader_name),
        payload=DetailsRead(
            view="GET /api/v1/beds/{bed_id}/patients",
            subject="B1",
            patients=(PatientShown(patient_id="P-S1", spell_id="S1"),),
        ),
    )


async def test_searching_the_audit_trail_is_itself_on_the_trail() -> None:
    trail = RecordingPublisher()
    app = app_over(RecordingPublisher(), signed_in(Role.ADMINISTRATOR), audit=trail)
    await app.dependency_overrides[get_audit_index]().add([access_read(reader_name="A N")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        searched = await client.get("/api/v1/audit/reads?patient=P-S1")

    assert searched.status_code == 200
    [read] = trail.published
    assert isinstance(read, PatientDetailsRead)
    assert read.payload.view == "GET /api/v1/audit/reads"
    assert read.payload.subject == "patient=P-S1"
    assert [shown.patient_id for shown in read.payload.patients] == ["P-S1"]

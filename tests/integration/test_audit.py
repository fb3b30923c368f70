"""Reading a patient's details, through to the administrator's search of the audit trail:
the real API, audit topic, stream worker and Redis index."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from flowcentre.api.app import create_app
from flowcentre.config import Settings
from flowcentre.runtime import ensure_topics
from flowcentre.store.audit_index import RedisAuditIndex
from flowcentre.store.view import PositionedEvent, RedisView
from streams.worker import running_worker
from tests.accounts import account, record, sign_in
from tests.builders import admitted, bed, organisation, site, ward
from tests.fakes import InMemoryView
from tests.unit.conftest import RecordingPublisher

NHS_NUMBER = "9434765919"
DEADLINE_S = 30.0


@asynccontextmanager
async def county(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    """Two trusts' wards with a patient each, the API, and a worker indexing the audit."""
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    history = [
        organisation("RWP"),
        site("WRH", "RWP"),
        ward("WRH-AVON4", "WRH"),
        bed("WRH-AVON4-B1", "WRH-AVON4"),
        organisation("R1L"),
        site("EVE", "R1L"),
        ward("EVE-RIVER", "EVE"),
        bed("EVE-RIVER-B1", "EVE-RIVER"),
        admitted("S1", "WRH-AVON4-B1", 0, "WRH-AVON4", nhs_number=NHS_NUMBER),
        admitted(
            "S2", "EVE-RIVER-B1", 0, "EVE-RIVER", nhs_number="9434765870", sharing_objection=True
        ),
    ]
    await RedisView(redis, prefix=settings.redis_prefix).apply(
        "events", [PositionedEvent(0, offset, one) for offset, one in enumerate(history)]
    )
    record(settings, account("a-nurse", "nurse.jones", "ward_staff", "WRH-AVON4", "EVE-RIVER"))
    record(settings, account("a-admin", "it.admin", "administrator"))
    index = RedisAuditIndex(redis, settings.redis_prefix, settings.audit_index_days)
    app = create_app(settings, redis=redis, publisher=RecordingPublisher())
    async with (
        running_worker(
            settings, InMemoryView(), audit=index, app_id=f"{settings.audit_topic}.workers"
        ),
        app.router.lifespan_context(app),
    ):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            yield client


async def found(client: httpx.AsyncClient, query: str) -> httpx.Response:
    """The search's answer once it finds something: the worker indexes within moments."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            answer = await client.get(f"/api/v1/audit/reads?{query}")
            if answer.status_code != 200 or answer.json():
                return answer
            await asyncio.sleep(0.1)


async def test_reading_a_patients_details_is_found_by_patient_and_by_reader(
    settings: Settings, redis_client: Redis
) -> None:
    async with county(settings, redis_client) as client:
        assert (await sign_in(client, "nurse.jones")).status_code == 200
        details = await client.get("/api/v1/beds/WRH-AVON4-B1/patients")
        refused = await client.get("/api/v1/audit/reads?patient=P-S1")
        assert (await sign_in(client, "it.admin")).status_code == 200
        by_patient = await found(client, f"patient={NHS_NUMBER}")
        by_reader = await found(client, "reader=a-nurse")
        exported = await client.get("/api/v1/audit/reads.csv?patient=P-S1")
        nobody = await client.get("/api/v1/audit/reads")

    [patient] = details.json()
    assert (patient["nhs_number"], patient["family_name"]) == (NHS_NUMBER, "Lovelace")
    assert refused.status_code == 403, "ward staff cannot search the audit trail"
    # The administrator's own searches are on the trail too, as reads of the patient.
    [read] = [one for one in by_patient.json() if one["reader"]["id"] == "a-nurse"]
    searches = [one for one in by_patient.json() if one["reader"]["id"] == "a-admin"]
    assert {one["view"] for one in searches} <= {"GET /api/v1/audit/reads"}
    assert read["reader"]["id"] == "a-nurse"
    assert read["reader_organisation"] == "RWP"
    assert read["view"] == "GET /api/v1/beds/{bed_id}/patients"
    assert read["subject"] == "WRH-AVON4-B1"
    assert read["patients"] == [
        {
            "patient_id": "P-S1",
            "nhs_number": NHS_NUMBER,
            "spell_id": "S1",
            "withheld": False,
            "held_by": "RWP",
        }
    ]
    assert by_reader.json() == [read]
    assert exported.headers["content-type"].startswith("text/csv")
    [row] = [
        one for one in csv.DictReader(io.StringIO(exported.text)) if one["reader_id"] == "a-nurse"
    ]
    assert (row["reader_id"], row["nhs_number"], row["withheld"]) == ("a-nurse", NHS_NUMBER, "no")
    assert nobody.status_code == 422


async def test_a_patients_objection_withholds_them_from_another_organisations_staff(
    settings: Settings, redis_client: Redis
) -> None:
    async with county(settings, redis_client) as client:
        assert (await sign_in(client, "nurse.jones")).status_code == 200
        details = await client.get("/api/v1/beds/EVE-RIVER-B1/patients")
        board = await client.get("/api/v1/wards/EVE-RIVER")
        assert (await sign_in(client, "it.admin")).status_code == 200
        audited = await found(client, "patient=P-S2")

    [patient] = details.json()
    assert patient["withheld"] is True
    assert patient["sharing_objection"] is True
    for identifying in ("patient_id", "nhs_number", "given_name", "family_name", "birth_date"):
        assert patient[identifying] is None, identifying
    [bed_seen] = board.json()["beds"]
    assert bed_seen["occupants"][0]["initials"] is None
    [read] = [one for one in audited.json() if one["reader"]["id"] == "a-nurse"]
    [shown] = read["patients"]
    assert shown["withheld"] is True, "the withheld read is still on the trail"
    # The administrator works for the reader's trust, not the patient's.
    assert (shown["patient_id"], shown["nhs_number"], shown["held_by"]) == ("withheld", None, "R1L")

"""The live loop end to end: a plain Kafka client's admission reaches REST and WebSocket,
and a nurse's 'bed cleaned' goes through the API, the log and the worker back to boards."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from kafka import KafkaProducer
from websockets.asyncio.client import ClientConnection, connect

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics, free_port
from tests.accounts import account, record
from tests.builders import bed, discharged, ward
from tests.e2e.conftest import JSON, Processes, next_delta, rest_until, sign_in_when_up

# The admission docs/events.md shows, published as raw JSON (dated in the past, so the
# nurse's action below, stamped now, comes after it).
ADMISSION = (
    b'{"event_id":"RWP-PAS-000123","type":"PatientAdmitted","schema_version":1,'
    b'"occurred_at":"2026-11-02T09:14:00Z","recorded_at":"2026-11-02T09:14:02Z",'
    b'"source":{"system":"PAS","organisation":"RWP"},'
    b'"caused_by":{"kind":"system","id":"pas-adt-feed"},'
    b'"payload":{"spell_id":"S-000123","patient":{"patient_id":"MRN0042",'
    b'"given_name":"Ada","family_name":"Lovelace","sex":"female"},'
    b'"location":{"ward_id":"WRH-AVON4","bed_id":"WRH-AVON4-B01-1"}}}'
)
BED = "WRH-AVON4-B01-1"
NURSE = "acc-sister-jones"


async def next_bed_delta(socket: ClientConnection, bed_id: str, state: str) -> JSON:
    """The first delta that shows the bed in the given state."""
    return await next_delta(
        socket, "bed", lambda bed: bed.get("bed_id") == bed_id and bed.get("state") == state
    )


async def wait_for_bed(api: httpx.AsyncClient, bed_id: str, state: str) -> JSON:
    return dict(await rest_until(api, f"/api/v1/beds/{bed_id}", lambda bed: bed["state"] == state))


async def test_admission_and_bed_clean_flow_through_the_whole_loop(
    settings: Settings, processes: Processes
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    registry = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    registry.publish([ward("WRH-AVON4"), bed(BED, "WRH-AVON4", room="Bay 1")])
    record(settings, account(NURSE, "sister.jones", "ward_staff", "WRH-AVON4"))
    port = free_port()
    processes.start("worker")
    processes.start("api", FLOWCENTRE_API_PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        await sign_in_when_up(api, "sister.jones")
        await wait_for_bed(api, BED, "available")

        board = f"ws://127.0.0.1:{port}/ws/whiteboard"
        async with connect(board, additional_headers={"Cookie": api.headers["Cookie"]}) as socket:
            snapshot = orjson.loads(await asyncio.wait_for(socket.recv(), timeout=30))
            assert snapshot["type"] == "snapshot"
            assert BED in {b["bed_id"] for b in snapshot["data"]["beds"]}

            plain = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
            plain.send(settings.events_topic, key=b"S-000123", value=ADMISSION).get(timeout=30)
            plain.close()

            pushed = await next_bed_delta(socket, BED, "occupied")
            assert [o["initials"] for o in pushed["occupants"]] == ["AL"]
            assert "Lovelace" not in orjson.dumps(pushed).decode()
            rest = await wait_for_bed(api, BED, "occupied")
            assert rest["since"]["by"]["id"] == "pas-adt-feed"

            # 2026-11-02 10:30, after the admission above.
            registry.publish([discharged("S-000123", minute=150)])
            await next_bed_delta(socket, BED, "awaiting_clean")

            response = await api.post(f"/api/v1/beds/{BED}/status", json={"status": "clean"})
            assert response.status_code == 202, response.text
            cleaned = await next_bed_delta(socket, BED, "available")
            assert cleaned["since"]["by"] == {"kind": "user", "id": NURSE}
    registry.close()

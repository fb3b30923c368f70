"""One patient's way home, end to end over the broker: admitted, referred, triaged to
pathway 1, tasks done, a reablement start reserved, discharged; each step seen on the
REST API and on the whiteboard socket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from flowcentre.api.whiteboard import frame_messages
from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics, free_port
from tests.accounts import account, record
from tests.builders import T0, admitted, bed, event, organisation, site, ward
from tests.e2e.conftest import JSON, Processes, next_delta, rest_until, sign_in_when_up

WARD, BED, SPELL = "WRH-AVON4", "WRH-AVON4-B01-1", "RWP:V1001"
COORDINATOR = "acc-flow-coordinator"
#: Lives alone and needs some help with daily living: the rules propose pathway 1.
ANSWERS = {
    "residence": "own_home",
    "lives_alone": True,
    "previous_care": "none",
    "mobility": "with_aid",
    "daily_living": "some_help",
    "cognition": "intact",
    "rehabilitation_potential": "good",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with Redis keys of this test's own: the shared server is not
    emptied between tests, and other tests use this ward's and bed's ids."""
    return settings.model_copy(update={"redis_prefix": f"journey-{uuid.uuid4().hex[:12]}"})


def minutes_from_t0(moment: datetime) -> float:
    return (moment - T0).total_seconds() / 60


async def next_plan(socket: ClientConnection, holds: Callable[[JSON], bool]) -> JSON:
    """The first discharge plan the board is sent for the spell that ``holds``."""
    return await next_delta(
        socket, "discharge", lambda plan: plan["spell_id"] == SPELL and holds(plan)
    )


async def test_one_patient_from_admission_to_a_reablement_start(
    settings: Settings, processes: Processes
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    feed = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    reablement = {"service": "reablement", "area": "wyre-forest", "day": tomorrow}
    declared = event(
        "CapacityDeclared",
        {"organisation_id": "WCC", "capacity": reablement, "available": 1},
        minutes_from_t0(datetime.now(UTC)) - 5,
        source={"system": "care-brokerage", "organisation": "WCC"},
    )
    feed.publish(
        [
            organisation("RWP"),
            site("WRH", "RWP"),
            ward(WARD, "WRH"),
            bed(BED, WARD, room="Bay 1"),
            admitted(SPELL, BED, 0, WARD),
            declared,
        ]
    )
    record(settings, account(COORDINATOR, "flow.coordinator", "flow_centre"))
    port = free_port()
    processes.start("worker")
    processes.start("api", FLOWCENTRE_API_PORT=str(port))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
        await sign_in_when_up(api, "flow.coordinator")
        plans = f"/api/v1/discharges/{SPELL}"
        await rest_until(api, plans, lambda plan: plan["initials"] == "AL")
        await rest_until(api, "/api/v1/capacity/community", lambda c: len(c["pools"]) == 1)

        board = f"ws://127.0.0.1:{port}/ws/whiteboard"
        async with connect(board, additional_headers={"Cookie": api.headers["Cookie"]}) as socket:
            snapshot = frame_messages(await asyncio.wait_for(socket.recv(), timeout=30))[0]
            assert [p["spell_id"] for p in snapshot["data"]["discharges"]] == [SPELL]
            assert snapshot["data"]["capacity"][0]["available"] == 1

            # Referral: the patient joins the flow centre's queue, untriaged.
            referred = await api.post(f"{plans}/referrals", json={"note": "lives alone"})
            assert referred.status_code == 202, referred.text
            referral_id = referred.json()["id"]
            pushed = await next_plan(socket, lambda p: p["referral"] is not None)
            assert pushed["referral"]["referral_id"] == referral_id
            assert pushed["referral"]["referred_by"] == {"kind": "user", "id": COORDINATOR}
            queue = await rest_until(api, "/api/v1/discharges/queue", lambda q: len(q) == 1)
            assert queue[0]["blockers"] == ["not triaged"]
            assert queue[0]["within_target"] is True

            # Triage: the rules propose pathway 1 and set its tasks.
            triaged = await api.post(
                f"{plans}/referrals/{referral_id}/triage", json={"answers": ANSWERS}
            )
            assert triaged.status_code == 202, triaged.text
            pushed = await next_plan(socket, lambda p: p["referral"]["pathway"] == "1")
            assert pushed["referral"]["proposed"]["rule"] == "alone-and-needs-help"
            assert {t["task"] for t in pushed["tasks"]} >= {"transport", "care_start"}

            # Tasks brought forward, before the day.
            for task in ("transport", "medicines", "equipment", "care_start", "family_informed"):
                done = await api.put(f"{plans}/tasks/{task}", json={"status": "done"})
                assert done.status_code == 202, done.text
            pushed = await next_plan(
                socket, lambda p: all(t["status"] == "done" for t in p["tasks"])
            )

            # The reablement start, reserved: the pool has none left.
            held = await api.post(f"{plans}/reservations", json={"capacity": reablement})
            assert held.status_code == 202, held.text
            pushed = await next_plan(socket, lambda p: bool(p["reservations"]))
            assert pushed["reservations"][0]["reservation_id"] == held.json()["id"]
            community = await rest_until(
                api, "/api/v1/capacity/community", lambda c: c["pools"][0]["free"] == 0
            )
            assert community["pathways"]["1"]["waiting"] == 0, "holding a start, no longer waiting"
            again = await api.post(f"{plans}/reservations", json={"capacity": reablement})
            assert again.status_code == 409, again.text
            plan = await rest_until(api, plans, lambda p: p["blockers"] == [])
            assert plan["referral_to_discharge_hours"] is not None

            # Discharged home: the plan leaves the lists, the slot is used, the clock stops.
            left = datetime.now(UTC) + timedelta(seconds=1)
            payload = {"spell_id": SPELL, "destination": "usual_residence"}
            feed.publish([event("PatientDischarged", payload, minutes_from_t0(left))])
            pushed = await next_plan(socket, lambda p: not p["listed"])
            # Boards count the day's discharges, and are told nothing more of the patient.
            assert pushed["discharged_at"] is not None
            assert "initials" not in pushed
            assert "reservations" not in pushed
            await rest_until(api, "/api/v1/discharges/queue", lambda q: q == [])
            daily = await rest_until(api, "/api/v1/discharges/daily", lambda d: len(d) >= 1)
            assert sum(day["by_pathway"].get("1", 0) for day in daily) == 1
            community = (await api.get("/api/v1/capacity/community")).json()
            assert community["pools"][0]["free"] == 0
            assert community["pools"][0]["reservations"][0]["used"] is True
    feed.close()

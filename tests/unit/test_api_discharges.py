"""The discharge planning routes over an in-memory view: the event each change publishes,
and the refusals that name what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from flowcentre.api.deps import get_reads
from flowcentre.config import Settings
from flowcentre.domain import clocks
from flowcentre.domain.access import Principal, Role
from flowcentre.domain.discharge import triage
from flowcentre.domain.events import (
    CapacityReserved,
    CriteriaToResideReviewed,
    DischargeTaskUpdated,
    EventBase,
    PatientReferred,
    RedGreenDayMarked,
    SpellUpdated,
)
from flowcentre.domain.triage import Pathway, TriageAnswers, load_rules
from tests.api_app import HISTORY, StateReads, app_over, signed_in
from tests.builders import (
    WELL,
    admitted,
    bed,
    capacity_declared,
    event,
    fold,
    minutes_from_t0,
    pool,
    referred,
    triaged,
    ward,
)
from tests.unit.conftest import RecordingPublisher

PLAN = "/api/v1/discharges/S1"
LONDON = ZoneInfo("Europe/London")
NEEDS_HELP = TriageAnswers.model_validate({**WELL, "mobility": "one_to_assist"})


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


@asynccontextmanager
async def planning_as(
    publisher: RecordingPublisher, principal: Principal, *events: EventBase
) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as ``principal``, over HISTORY and then ``events``."""
    app = app_over(publisher, principal)
    state = fold([*HISTORY, *events])
    app.dependency_overrides[get_reads] = lambda: StateReads(state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def local_day(days_from_today: int = 0) -> date:
    return datetime.now(UTC).astimezone(LONDON).date() + timedelta(days=days_from_today)


def pool_on(day: date, service: str = "reablement") -> dict[str, str]:
    """The pool of the service in the north on ``day``."""
    capacity: dict[str, str] = pool(service=service, area="north", day=day.isoformat())
    return capacity


#: S1 referred and triaged onto pathway 1, with reablement starts declared for today and
#: tomorrow, and a step-down bed (pathway 2) for tomorrow.
ON_PATHWAY_1: tuple[EventBase, ...] = (
    referred("S1", 10),
    triaged("S1", 20, triage(load_rules(), "S1", "R1", NEEDS_HELP)),
    capacity_declared(2, 30, **pool_on(local_day())),
    capacity_declared(2, 30, **pool_on(local_day(1))),
    capacity_declared(2, 30, **pool_on(local_day(1), "step_down_bed")),
)


async def test_capacity_nobody_declared_cannot_be_reserved(publisher: RecordingPublisher) -> None:
    capacity = pool_on(local_day(1), "home_care")
    async with planning_as(publisher, signed_in(Role.FLOW_CENTRE), *ON_PATHWAY_1) as client:
        answer = await client.post(f"{PLAN}/reservations", json={"capacity": capacity})
    assert answer.status_code == 409
    assert "declared none" in answer.text


async def test_a_reservation_holds_at_most_until_the_pools_day_ends(
    publisher: RecordingPublisher,
) -> None:
    hold = timedelta(hours=Settings().reservation_hold_h)
    async with planning_as(publisher, signed_in(Role.FLOW_CENTRE), *ON_PATHWAY_1) as client:
        before = datetime.now(UTC)
        answer = await client.post(f"{PLAN}/reservations", json={"capacity": pool_on(local_day())})
        after = datetime.now(UTC)
    assert answer.status_code == 202, answer.text
    [published] = publisher.published
    assert isinstance(published, CapacityReserved)
    assert published.payload.reservation_id == answer.json()["id"]
    day_ends = clocks.day_end(local_day(), LONDON)
    expires_at = published.payload.expires_at
    assert min(before + hold, day_ends) <= expires_at <= min(after + hold, day_ends)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"capacity": pool_on(local_day(1)), "expires_at": "2026-01-01T00:00:00Z"},
            "expires_at",
        ),
        (
            {
                "capacity": pool_on(local_day(1)),
                "expires_at": (
                    clocks.day_end(local_day(1), LONDON) + timedelta(minutes=1)
                ).isoformat(),
            },
            "expires_at",
        ),
        ({"capacity": pool_on(local_day(-1))}, "capacity.day"),
        ({"capacity": pool_on(local_day(1), "step_down_bed")}, "capacity.service"),
    ],
)
async def test_a_reservation_no_plan_could_mean_is_refused_naming_the_field(
    body: dict[str, Any], field: str, publisher: RecordingPublisher
) -> None:
    async with planning_as(publisher, signed_in(Role.FLOW_CENTRE), *ON_PATHWAY_1) as client:
        answer = await client.post(f"{PLAN}/reservations", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"{field}: ")
    assert publisher.published == []


async def test_a_reservation_needs_a_triaged_referral_and_the_body_is_judged_first(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    capacity = pool_on(local_day(1))
    answer = await client.post(f"{PLAN}/reservations", json={"capacity": capacity})
    assert answer.status_code == 409
    assert "no open referral triaged" in answer.text
    past = await client.post(
        f"{PLAN}/reservations",
        json={"capacity": capacity, "expires_at": "2026-01-01T00:00:00Z"},
    )
    assert past.status_code == 422
    assert past.json()["detail"].startswith("expires_at: ")
    assert publisher.published == []


async def test_a_patient_holds_one_reservation_of_a_service_at_a_time(
    publisher: RecordingPublisher,
) -> None:
    now = datetime.now(UTC)
    holding = event(
        "CapacityReserved",
        {
            "spell_id": "S1",
            "reservation_id": "H1",
            "capacity": pool_on(local_day()),
            "expires_at": (now + timedelta(hours=1)).isoformat(),
        },
        minutes_from_t0(now - timedelta(minutes=5)),
    )
    async with planning_as(
        publisher, signed_in(Role.FLOW_CENTRE), *ON_PATHWAY_1, holding
    ) as client:
        again = await client.post(f"{PLAN}/reservations", json={"capacity": pool_on(local_day(1))})
    assert again.status_code == 409
    assert "already holds reablement (H1)" in again.text
    assert publisher.published == []


async def test_a_ward_list_of_a_ward_never_registered_is_not_found(
    publisher: RecordingPublisher,
) -> None:
    async with planning_as(publisher, signed_in(Role.FLOW_CENTRE)) as client:
        known = await client.get("/api/v1/discharges/wards/AVON4")
        unknown = await client.get("/api/v1/discharges/wards/NOWHERE")
    assert [plan["spell_id"] for plan in known.json()] == ["S1"]
    assert unknown.status_code == 404
    assert "NOWHERE" in unknown.json()["detail"]


async def test_a_ward_out_of_reach_is_refused_alike_whether_it_exists_or_not(
    publisher: RecordingPublisher,
) -> None:
    elsewhere = (ward("ELGAR", "WRH"), bed("E1", "ELGAR"), admitted("S2", "E1", 0, "ELGAR"))
    async with planning_as(publisher, signed_in(Role.WARD_STAFF, "AVON4"), *elsewhere) as client:
        registered = await client.get("/api/v1/discharges/wards/ELGAR")
        unknown = await client.get("/api/v1/discharges/wards/NOWHERE")
    assert (registered.status_code, unknown.status_code) == (403, 403)
    assert registered.json()["detail"].replace("ELGAR", "NOWHERE") == unknown.json()["detail"]


async def test_a_day_is_marked_red_with_its_reason_or_green(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    today = local_day().isoformat()
    red = await client.put(
        f"{PLAN}/days/{today}", json={"green": False, "reason": " Awaiting the MRI "}
    )
    green = await client.put(f"{PLAN}/days/{today}", json={"green": True, "reason": None})
    assert (red.status_code, green.status_code) == (202, 202), red.text
    marks = publisher.published
    assert [type(mark) for mark in marks] == [RedGreenDayMarked, RedGreenDayMarked]
    assert red.json()["event_id"] == marks[0].event_id
    assert [mark.payload.model_dump(mode="json") for mark in marks] == [  # type: ignore[attr-defined]
        {"spell_id": "S1", "day": today, "green": False, "reason": "Awaiting the MRI"},
        {"spell_id": "S1", "day": today, "green": True, "reason": None},
    ]
    assert marks[0].caused_by.id == "rn-042"


async def test_today_is_the_log_s_when_its_clock_runs_ahead(
    publisher: RecordingPublisher,
) -> None:
    # The simulator's clock runs days ahead of the server's: its today is the one to mark.
    ahead = datetime.now(UTC) + timedelta(days=2)
    tick = event("ClockTicked", {"clock": Settings().clock}, minutes_from_t0(ahead))
    app = app_over(publisher, signed_in(Role.WARD_STAFF, "AVON4"))
    app.dependency_overrides[get_reads] = lambda: StateReads(fold([*HISTORY, tick]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        marked = await client.put(
            f"{PLAN}/days/{ahead.astimezone(LONDON).date()}", json={"green": True}
        )
    assert marked.status_code == 202, marked.text


@pytest.mark.parametrize(
    ("day", "body", "field"),
    [
        (local_day(1).isoformat(), {"green": True}, "day"),
        ("2026-11-01", {"green": True}, "day"),
        (local_day().isoformat(), {"green": True, "reason": "A good day"}, "reason"),
    ],
)
async def test_a_day_no_stay_could_have_is_refused_naming_the_field(
    day: str,
    body: dict[str, Any],
    field: str,
    client: httpx.AsyncClient,
    publisher: RecordingPublisher,
) -> None:
    answer = await client.put(f"{PLAN}/days/{day}", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"{field}: ")
    assert publisher.published == []


async def test_a_day_mark_the_contract_forbids_is_refused_by_its_shape(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    today = local_day().isoformat()
    long_reason = await client.put(
        f"{PLAN}/days/{today}", json={"green": False, "reason": "x" * 201}
    )
    no_colour = await client.put(f"{PLAN}/days/{today}", json={"reason": "Awaiting transport"})
    not_a_day = await client.put(f"{PLAN}/days/yesterday", json={"green": True})
    assert [a.status_code for a in (long_reason, no_colour, not_a_day)] == [422, 422, 422]
    assert "reason" in long_reason.text
    assert "green" in no_colour.text
    assert "day" in not_a_day.text
    assert publisher.published == []


CHANGES = [
    ("GET", "", None),
    ("PATCH", "/readiness", {"expected_discharge_date": None}),
    ("POST", "/referrals", {}),
    ("PUT", "/tasks/transport", {"status": "started"}),
    ("POST", "/reservations", {"capacity": pool()}),
    ("PUT", f"/days/{local_day().isoformat()}", {"green": True}),
]


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
async def test_a_patient_out_of_reach_is_answered_as_one_not_in_hospital(
    method: str, path: str, body: dict[str, Any] | None, publisher: RecordingPublisher
) -> None:
    async with planning_as(publisher, signed_in(Role.WARD_STAFF, "OTHER")) as client:
        on_another_ward = await client.request(method, f"{PLAN}{path}", json=body)
        nobody = await client.request(method, f"/api/v1/discharges/NOBODY{path}", json=body)
    assert (on_another_ward.status_code, nobody.status_code) == (404, 404)
    assert on_another_ward.json()["detail"].replace("S1", "NOBODY") == nobody.json()["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
async def test_planning_needs_discharge_plan(
    method: str, path: str, body: dict[str, Any] | None, publisher: RecordingPublisher
) -> None:
    async with planning_as(publisher, signed_in(Role.MANAGER)) as client:
        existing = await client.request(method, f"{PLAN}{path}", json=body)
        nobody = await client.request(method, f"/api/v1/discharges/NOBODY{path}", json=body)
    assert (existing.status_code, nobody.status_code) == (403, 403)
    assert existing.json() == nobody.json()
    assert publisher.published == []

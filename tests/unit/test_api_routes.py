"""The read and write routes over an in-memory view: status codes, bodies, the event built."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from flowcentre.api.app import ROUTERS
from flowcentre.api.auth import current_principal, signed_in_as
from flowcentre.api.deps import get_publisher
from flowcentre.domain.access import Principal, Role
from flowcentre.domain.beds import BedStatus
from flowcentre.domain.events import ActorKind, BedStatusChanged
from tests.api_app import app_over, signed_in
from tests.unit.conftest import RecordingPublisher, UnreachableLog


@pytest.fixture
def app(publisher: RecordingPublisher) -> FastAPI:
    return app_over(publisher, signed_in(Role.WARD_STAFF, "AVON4"))


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The transport does not run the lifespan, so nothing connects anywhere.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_setting_a_status_publishes_one_attributed_event_and_answers_202(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    before = datetime.now(UTC)
    response = await client.post(
        "/api/v1/beds/B2/status",
        json={"status": "cleaning", "reason": "deep clean"},
    )

    assert response.status_code == 202
    [published] = publisher.published
    assert response.json() == {"status": "accepted", "event_id": published.event_id}
    assert isinstance(published, BedStatusChanged)
    assert published.payload.model_dump() == {
        "bed_id": "B2",
        "status": BedStatus.CLEANING,
        "reason": "deep clean",
    }
    assert published.caused_by.kind is ActorKind.USER
    # The signed-in account, whatever the request might have claimed.
    assert (published.caused_by.id, published.caused_by.name) == ("rn-042", "A N")
    assert published.source.system == "flowcentre-api"
    assert published.source.organisation == "RWP"
    assert before <= published.occurred_at == published.recorded_at <= datetime.now(UTC)


async def test_each_write_is_a_new_event(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = {"status": "clean"}
    first = (await client.post("/api/v1/beds/B2/status", json=body)).json()["event_id"]
    second = (await client.post("/api/v1/beds/B2/status", json=body)).json()["event_id"]
    assert first != second
    assert [e.event_id for e in publisher.published] == [first, second]


async def test_an_occupied_bed_takes_isolation_and_refuses_housekeeping_statuses(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    url = "/api/v1/beds/B1/status"
    refused = await client.post(url, json={"status": "clean"})
    assert refused.status_code == 409
    assert "occupied" in refused.json()["detail"]
    assert "isolated" in refused.json()["detail"]
    assert publisher.published == []

    taken = await client.post(url, json={"status": "isolated"})
    assert taken.status_code == 202


async def test_an_unknown_bed_is_404_naming_it(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = {"status": "clean"}
    response = await client.post("/api/v1/beds/B404/status", json=body)
    assert response.status_code == 404
    assert "B404" in response.json()["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "dirty"}, ["body", "status"]),
        ({"status": "clean", "by": {"id": "someone-else"}}, ["body", "by"]),
        ({"status": "clean", "reason": "x" * 201}, ["body", "reason"]),
        ({"status": "clean", "colour": "red"}, ["body", "colour"]),
    ],
)
async def test_an_invalid_body_is_422_naming_the_field(
    client: httpx.AsyncClient,
    publisher: RecordingPublisher,
    body: dict[str, object],
    field: list[str],
) -> None:
    response = await client.post("/api/v1/beds/B2/status", json=body)
    assert response.status_code == 422
    assert field in [problem["loc"] for problem in response.json()["detail"]]
    assert publisher.published == []


async def test_the_system_counts_beds_by_site_and_ward(client: httpx.AsyncClient) -> None:
    system = (await client.get("/api/v1/system")).json()

    assert system["counts"]["total"] == 3
    assert system["counts"]["occupied"] == 1
    [site] = system["sites"]
    assert site["site_id"] == "WRH"
    [avon] = site["wards"]
    assert (avon["ward_id"], avon["counts"]["available"]) == ("AVON4", 2)
    assert avon["counts"]["occupancy_pct"] == pytest.approx(33.3)


async def test_a_ward_lists_its_beds_with_initials_and_no_names(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/wards/AVON4")

    assert response.status_code == 200
    ward_view = response.json()
    assert ward_view["site"]["name"] == "Royal"
    beds = {b["bed_id"]: b for b in ward_view["beds"]}
    assert beds["B1"]["state"] == "occupied"
    assert beds["B1"]["occupants"][0]["initials"] == "AL"
    assert "Lovelace" not in response.text
    assert beds["SR1"]["side_room"] is True


async def test_a_site_and_a_bed_read_back(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/sites/WRH")).json()["counts"]["total"] == 3
    assert (await client.get("/api/v1/beds/B2")).json()["state"] == "available"


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/v1/sites/NOPE", "NOPE"), ("/api/v1/wards/W9", "W9"), ("/api/v1/beds/B9", "B9")],
)
async def test_missing_resources_are_404_naming_the_id(
    app: FastAPI, client: httpx.AsyncClient, path: str, name: str
) -> None:
    app.dependency_overrides[current_principal] = lambda: signed_in(Role.FLOW_CENTRE)
    response = await client.get(path)
    assert response.status_code == 404
    assert name in response.json()["detail"]


async def test_the_openapi_document_describes_the_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/healthz", "/api/v1/system", "/api/v1/beds/{bed_id}/status"} <= set(paths)
    assert (await client.get("/docs")).status_code == 200


async def test_a_write_the_log_does_not_take_is_503_saying_nothing_changed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.dependency_overrides[get_publisher] = UnreachableLog
    response = await client.post("/api/v1/beds/B2/status", json={"status": "clean"})
    assert response.status_code == 503
    assert "nothing changed" in response.json()["detail"]


async def test_every_read_and_write_needs_a_session(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    del app.dependency_overrides[current_principal]
    app.dependency_overrides[signed_in_as] = lambda: None

    for path in ("/api/v1/system", "/api/v1/sites/WRH", "/api/v1/wards/AVON4", "/api/v1/beds/B1"):
        assert (await client.get(path)).status_code == 401, path
    write = await client.post("/api/v1/beds/B2/status", json={"status": "clean"})
    assert write.status_code == 401


@pytest.mark.parametrize(
    ("principal", "path", "allowed"),
    [
        (signed_in(Role.WARD_STAFF, "OTHER"), "/api/v1/wards/AVON4", False),
        (signed_in(Role.WARD_STAFF, "OTHER"), "/api/v1/beds/B1", False),
        (signed_in(Role.WARD_STAFF, "OTHER"), "/api/v1/system", True),
        (signed_in(Role.MANAGER), "/api/v1/system", True),
        (signed_in(Role.MANAGER), "/api/v1/wards/AVON4", False),
        (signed_in(Role.DISPLAY, "AVON4"), "/api/v1/wards/AVON4", True),
        (signed_in(Role.DISPLAY, "AVON4"), "/api/v1/sites/WRH", False),
        (signed_in(Role.INTEGRATION), "/api/v1/beds/B1", False),
    ],
)
async def test_reads_are_limited_to_the_roles_and_wards_granted(
    app: FastAPI, client: httpx.AsyncClient, principal: Principal, path: str, allowed: bool
) -> None:
    app.dependency_overrides[current_principal] = lambda: principal

    response = await client.get(path)

    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize(
    "principal",
    [
        signed_in(Role.WARD_STAFF, "OTHER"),
        signed_in(Role.DISPLAY, "AVON4"),
        signed_in(Role.MANAGER),
    ],
)
async def test_only_staff_granted_the_beds_ward_may_set_its_status(
    app: FastAPI, client: httpx.AsyncClient, publisher: RecordingPublisher, principal: Principal
) -> None:
    app.dependency_overrides[current_principal] = lambda: principal

    response = await client.post("/api/v1/beds/B2/status", json={"status": "clean"})

    assert response.status_code == 403
    assert "bed.status.set" in response.json()["detail"]
    assert publisher.published == []


def depends_on(dependant: Dependant, wanted: Callable[..., object]) -> bool:
    return any(sub.call is wanted or depends_on(sub, wanted) for sub in dependant.dependencies)


def test_every_api_route_but_signing_in_needs_a_principal() -> None:
    # Signing in, pairing a screen, and signing out (which ends whatever session the
    # browser sends).
    open_routes = {
        ("POST", "/api/v1/session"),
        ("POST", "/api/v1/session/device"),
        # Single sign-on: a navigation away to the provider and back, and its name.
        ("GET", "/api/v1/session/sso"),
        ("GET", "/api/v1/session/sso/callback"),
        ("GET", "/api/v1/session/sso/provider"),
        ("DELETE", "/api/v1/session"),
    }
    guarded = {
        (method, route.path): depends_on(route.dependant, current_principal)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
        for method in route.methods or ()
    }

    assert len(guarded) > len(open_routes)
    assert {route for route, needs in guarded.items() if not needs} == open_routes


async def test_a_wall_display_reads_beds_states_and_initials_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.dependency_overrides[current_principal] = lambda: signed_in(Role.DISPLAY, "AVON4")

    ward_view = (await client.get("/api/v1/wards/AVON4")).json()
    one = (await client.get("/api/v1/beds/B1")).json()

    beds = {b["bed_id"]: b for b in ward_view["beds"]}
    assert beds["B1"]["occupants"] == [
        {
            "initials": "AL",
            "sharing_objection": None,
            "sex": None,
            "arrived_at": None,
            "admitted_at": None,
            "expected_discharge_date": None,
            "on_leave": None,
        }
    ]
    assert beds["B1"]["since"]["by"] is None
    assert one == beds["B1"]


async def test_ward_staff_read_their_beds_in_full(client: httpx.AsyncClient) -> None:
    one = (await client.get("/api/v1/beds/B1")).json()

    [occupant] = one["occupants"]
    assert occupant["initials"] == "AL"
    assert occupant["sex"] is not None
    assert occupant["arrived_at"] is not None
    assert one["since"]["by"]["kind"] == "system"

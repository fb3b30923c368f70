"""Security headers, cross-site refusal and body limits, over the app with stand-in adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from flowcentre.api.app import MAX_BODY_BYTES
from flowcentre.api.security import CONTENT_SECURITY_POLICY
from flowcentre.domain.access import Role
from tests.api_app import app_over, signed_in
from tests.unit.conftest import RecordingPublisher


@pytest.fixture
def app(publisher: RecordingPublisher) -> FastAPI:
    return app_over(publisher, signed_in(Role.FLOW_CENTRE))


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://flow.test") as client:
        yield client


async def test_pages_and_answers_carry_the_security_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    answer = await client.get("/api/v1/system")
    docs = await client.get("/docs")

    for response in (page, answer):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["strict-transport-security"].startswith("max-age=")
    assert answer.headers["cache-control"] == "no-store"
    assert "cache-control" not in page.headers
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"


async def test_plain_http_gets_no_transport_security_header(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://flow.test") as client:
        response = await client.get("/api/v1/system")

    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://elsewhere.test"},
    ],
)
async def test_a_write_from_another_sites_page_is_refused(
    client: httpx.AsyncClient, publisher: RecordingPublisher, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/beds/B2/status", json={"status": "clean"}, headers=headers
    )

    assert response.status_code == 403
    assert "another site" in response.json()["detail"]
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert publisher.published == []


@pytest.mark.parametrize(
    "headers",
    [{"sec-fetch-site": "same-origin"}, {"origin": "https://flow.test"}, {}],
)
async def test_a_write_from_this_origin_or_no_browser_page_goes_through(
    client: httpx.AsyncClient, publisher: RecordingPublisher, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/beds/B2/status", json={"status": "clean"}, headers=headers
    )

    assert response.status_code == 202
    assert len(publisher.published) == 1


@pytest.mark.parametrize("path", ["/api/v1/system", "/api/v1/beds/B1/patients"])
async def test_an_api_read_from_another_sites_page_is_refused(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"sec-fetch-site": "cross-site"})

    assert response.status_code == 403
    assert "another site" in response.json()["detail"]


async def test_the_pages_may_be_linked_to_from_another_site(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"sec-fetch-site": "cross-site"})

    assert page.status_code != 403


async def test_an_oversized_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    reason = "x" * (MAX_BODY_BYTES + 1)
    response = await client.post(
        "/api/v1/beds/B2/status", json={"status": "clean", "reason": reason}
    )

    assert response.status_code == 413
    assert publisher.published == []

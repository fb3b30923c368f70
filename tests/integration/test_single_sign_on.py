"""Signing in through a real OpenID Connect provider, to the real access log and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from flowcentre.api.app import create_app
from flowcentre.api.auth import SESSION_COOKIE
from flowcentre.config import Settings
from flowcentre.runtime import ensure_topics
from tests.accounts import account, record
from tests.builders import account_created, role_granted
from tests.oidc_provider import Provider, running_provider
from tests.unit.conftest import RecordingPublisher

CLIENT_ID = "flowcentre-test"
NURSE = {"preferred_username": "Nurse.Jones", "name": "Sam Jones", "email": "sam@nhs.test"}
STRANGER = {"preferred_username": "not.a.user", "name": "Someone Else"}
#: Someone whose username claim came to say the nurse's: a renamed or re-used account.
IMPOSTOR = {"preferred_username": "nurse.jones", "name": "Not Sam"}


@pytest.fixture
def provider() -> Iterator[Provider]:
    users = {"nurse-sub": NURSE, "stranger-sub": STRANGER, "impostor-sub": IMPOSTOR}
    with running_provider(users) as running:
        yield running


@asynccontextmanager
async def browser(
    settings: Settings, redis: Redis, provider: Provider
) -> AsyncIterator[httpx.AsyncClient]:
    """A client that reaches the app in-process at https://test and the provider by HTTP."""
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    record(
        settings,
        # An account with no password: it signs in through the provider only.
        [
            account_created("a-nurse", "nurse.jones", single_sign_on=True),
            role_granted("a-nurse", "flow_centre"),
            # The stranger's username, on an account that signs in with a password only.
            *account("a-local", "not.a.user", "flow_centre"),
        ],
    )
    with_sso = settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr("the-client-secret"),
        }
    )
    app = create_app(with_sso, redis=redis, publisher=RecordingPublisher())
    async with app.router.lifespan_context(app):
        mounts = {"https://test": httpx.ASGITransport(app=app)}
        async with httpx.AsyncClient(mounts=mounts, base_url="https://test") as client:
            yield client


async def through_provider(client: httpx.AsyncClient, sub: str) -> httpx.Response:
    """Start signing in, sign in at the provider as ``sub``, and come back."""
    begun = await client.get("/api/v1/session/sso")
    assert begun.status_code == 303, begun.text
    at_provider = await client.post(begun.headers["location"], data={"sub": sub})
    assert at_provider.status_code == 302, at_provider.text
    # A browser marks the provider's redirect back as coming from another site.
    return await client.get(
        at_provider.headers["location"], headers={"sec-fetch-site": "cross-site"}
    )


async def test_a_person_signs_in_through_the_provider_as_their_account(
    settings: Settings, redis_client: Redis, provider: Provider
) -> None:
    async with browser(settings, redis_client, provider) as client:
        named = await client.get("/api/v1/session/sso/provider")
        back = await through_provider(client, "nurse-sub")
        me = await client.get("/api/v1/session")

    assert named.json() == {"name": "your organisation's account"}
    assert back.status_code == 303
    assert back.headers["location"] == "/"
    assert SESSION_COOKIE in back.headers["set-cookie"]
    assert me.status_code == 200
    assert me.json()["account_id"] == "a-nurse"
    [exchange] = provider.pkce.exchanged
    assert exchange["code_verifier"], "the code was exchanged with its PKCE verifier"
    assert exchange["redirect_uri"] == "https://test/api/v1/session/sso/callback"


async def test_someone_with_no_account_here_is_sent_back_and_not_signed_in(
    settings: Settings, redis_client: Redis, provider: Provider
) -> None:
    async with browser(settings, redis_client, provider) as client:
        back = await through_provider(client, "stranger-sub")
        me = await client.get("/api/v1/session")

    assert back.headers["location"] == "/?sign-in=no-account"
    assert me.status_code == 401


async def test_a_replayed_or_forged_return_signs_no_one_in(
    settings: Settings, redis_client: Redis, provider: Provider
) -> None:
    async with browser(settings, redis_client, provider) as client:
        begun = await client.get("/api/v1/session/sso")
        at_provider = await client.post(begun.headers["location"], data={"sub": "nurse-sub"})
        callback = httpx.URL(at_provider.headers["location"])
        forged = await client.get(callback.copy_set_param("state", "a-guessed-state"))
        replayed = await through_provider(client, "nurse-sub")
        await client.delete("/api/v1/session")
        again = await client.get(replayed.request.url)
        me = await client.get("/api/v1/session")

    assert forged.headers["location"] == "/?sign-in=expired"
    assert replayed.headers["location"] == "/", "a sign-in after a forged return still works"
    assert again.headers["location"] == "/?sign-in=expired", "each return is taken once"
    assert me.status_code == 401


async def test_a_declined_sign_in_and_an_unreachable_provider_say_so(
    settings: Settings, redis_client: Redis, provider: Provider
) -> None:
    async with browser(settings, redis_client, provider) as client:
        begun = await client.get("/api/v1/session/sso")
        denied = await client.post(begun.headers["location"], data={"action": "deny"})
        declined = await client.get(denied.headers["location"])

    unreachable = Provider("http://127.0.0.1:9", provider.pkce)
    async with browser(settings, redis_client, unreachable) as client:
        not_begun = await client.get("/api/v1/session/sso")

    assert declined.headers["location"] == "/?sign-in=declined"
    assert not_begun.headers["location"] == "/?sign-in=unavailable"


async def test_without_a_provider_the_routes_say_it_is_not_set_up(
    settings: Settings, redis_client: Redis
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    app = create_app(settings, redis=redis_client, publisher=RecordingPublisher())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            answers = [
                await client.get(path)
                for path in ("/api/v1/session/sso/provider", "/api/v1/session/sso")
            ]

    assert [answer.status_code for answer in answers] == [404, 404]


async def test_an_account_is_held_to_the_person_who_signed_on_to_it_first(
    settings: Settings, redis_client: Redis, provider: Provider
) -> None:
    async with browser(settings, redis_client, provider) as client:
        first = await through_provider(client, "nurse-sub")
        await client.delete("/api/v1/session")
        impostor = await through_provider(client, "impostor-sub")
        again = await through_provider(client, "nurse-sub")

    assert first.headers["location"] == "/"
    assert impostor.headers["location"] == "/?sign-in=no-account"
    assert again.headers["location"] == "/"

"""Signing in and out against the real access log, Redis sessions and the limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from flowcentre.api.app import create_app
from flowcentre.api.auth import SESSION_COOKIE
from flowcentre.config import Settings
from flowcentre.passwords import Passwords
from flowcentre.runtime import ensure_topics
from flowcentre.store.keyspace import text
from flowcentre.store.sessions import Sessions
from tests import accounts
from tests.accounts import PASSWORD, account, device, record
from tests.builders import access_event, role_revoked
from tests.unit.conftest import RecordingPublisher

DEADLINE_S = 10.0


@asynccontextmanager
async def signing_in(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    record(settings, account("a-nurse", "nurse.jones", "ward_staff", "WRH-AVON4"))
    app = create_app(settings, redis=redis, publisher=RecordingPublisher())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # https: the session cookie is Secure, and a client keeps it only for https.
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            yield client


async def nurse_signs_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await accounts.sign_in(client, "Nurse.Jones", password)


async def session_once(
    client: httpx.AsyncClient, shows: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """The session's answer once it ``shows`` what is awaited: the access log is followed."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            response = await client.get("/api/v1/session")
            if shows(response):
                return response
            await asyncio.sleep(0.05)


async def test_a_nurse_signs_in_sees_their_roles_and_signs_out(
    settings: Settings, redis_client: Redis
) -> None:
    async with signing_in(settings, redis_client) as client:
        anonymous = await client.get("/api/v1/session")
        signed_in = await nurse_signs_in(client)
        me = await client.get("/api/v1/session")
        signed_out = await client.delete("/api/v1/session")
        after = await client.get("/api/v1/session")

    assert anonymous.status_code == 401
    assert signed_in.status_code == 200
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert {"HttpOnly", "Secure", "SameSite=lax", "Path=/"} <= {
        part.strip() for part in cookie.split(";")
    }
    assert me.json() == {
        "account_id": "a-nurse",
        "name": "Name of a-nurse",
        "kind": "user",
        "organisation_id": "RWP",
        "grants": [
            {
                "role": "ward_staff",
                "wards": ["WRH-AVON4"],
                "permissions": [
                    "bed.status.set",
                    "board.read",
                    "capacity.read",
                    "discharge.plan",
                    "patient.read",
                ],
            }
        ],
    }
    assert signed_out.status_code == 204
    assert after.status_code == 401


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    settings: Settings, redis_client: Redis
) -> None:
    async with signing_in(settings, redis_client) as client:
        wrong = await nurse_signs_in(client, "not the password")
        unknown = await client.post(
            "/api/v1/session", json={"username": "nobody", "password": PASSWORD}
        )
        no_password = await client.post("/api/v1/session", json={"username": "nurse.jones"})

    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert wrong.json() == unknown.json() == {"detail": "username or password not recognised"}
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert no_password.status_code == 422
    assert PASSWORD not in no_password.text


async def test_guessing_is_stopped_even_for_the_right_password(
    settings: Settings, redis_client: Redis
) -> None:
    limited = settings.model_copy(update={"sign_in_limit_per_username": "3 per 15 minutes"})
    async with signing_in(limited, redis_client) as client:
        guesses = [
            (await nurse_signs_in(client, f"guess number {n}")).status_code for n in range(3)
        ]
        right = await nurse_signs_in(client)

    assert guesses == [401, 401, 401]
    assert right.status_code == 429


async def test_revoking_a_role_or_disabling_the_account_reaches_a_live_session(
    settings: Settings, redis_client: Redis
) -> None:
    async with signing_in(settings, redis_client) as client:
        assert (await nurse_signs_in(client)).status_code == 200
        record(settings, [role_revoked("a-nurse", "ward_staff", minute=5)])
        revoked = await session_once(client, lambda answer: not answer.json()["grants"])
        record(settings, [access_event("AccountDisabled", {"account_id": "a-nurse"}, 6)])
        disabled = await session_once(client, lambda answer: answer.status_code == 401)
        again = await nurse_signs_in(client)

    assert revoked.json()["account_id"] == "a-nurse"
    assert disabled.status_code == 401
    assert again.status_code == 401


async def test_guesses_sent_at_once_are_limited_like_guesses_in_turn(
    settings: Settings, redis_client: Redis
) -> None:
    limited = settings.model_copy(update={"sign_in_limit_per_username": "3 per 15 minutes"})
    async with signing_in(limited, redis_client) as client:
        answers = await asyncio.gather(
            *(nurse_signs_in(client, f"guess number {n}") for n in range(8))
        )

    codes = [answer.status_code for answer in answers]
    assert (codes.count(401), codes.count(429)) == (3, 5)


async def test_a_new_password_ends_the_sessions_started_before_it(
    settings: Settings, redis_client: Redis
) -> None:
    async with signing_in(settings, redis_client) as client:
        assert (await nurse_signs_in(client)).status_code == 200
        changed = Passwords().hash("another long password")
        record(
            settings,
            [
                access_event(
                    "PasswordSet", {"account_id": "a-nurse", "password_hash": changed}, 10**6
                )
            ],
        )
        ended = await session_once(client, lambda answer: answer.status_code == 401)

    assert ended.json()["detail"].startswith("sign in first")


async def test_a_session_for_an_account_this_process_has_not_read_yet_stands(
    settings: Settings, redis_client: Redis
) -> None:
    async with signing_in(settings, redis_client) as client:
        token = await Sessions(redis_client, settings.redis_prefix, 60).start("a-late")
        client.headers["Cookie"] = f"{SESSION_COOKIE}={token}"
        unknown = await client.get("/api/v1/session")
        record(settings, account("a-late", "late.starter", "flow_centre"))
        known = await session_once(client, lambda answer: answer.status_code == 200)

    assert unknown.status_code == 401
    assert known.json()["account_id"] == "a-late"


async def test_a_wall_screen_pairs_with_its_token_and_keeps_a_long_session(
    settings: Settings, redis_client: Redis
) -> None:
    token, events = device("a-wall", "wall.avon4", "display", "WRH-AVON4")
    record(settings, events)
    async with signing_in(settings, redis_client) as client:
        by_password = await accounts.sign_in(client, "wall.avon4")
        wrong = await client.post("/api/v1/session/device", json={"token": "fct_guessed"})
        paired = await client.post("/api/v1/session/device", json={"token": token})
        me = await client.get("/api/v1/session")
    stored = [key async for key in redis_client.scan_iter(f"{settings.redis_prefix}-auth:*")]
    idle = [await redis_client.ttl(key) for key in stored]

    assert by_password.status_code == 401, "a device has no password to sign in with"
    assert wrong.status_code == 401
    assert paired.status_code == 200
    assert SESSION_COOKIE in paired.headers["set-cookie"]
    assert me.json()["kind"] == "device"
    assert me.json()["grants"][0]["role"] == "display"
    assert idle, "the paired session is kept"
    assert max(idle) > settings.session_idle_s, "a screen's session outlasts a person's"


async def test_a_system_sends_its_token_with_each_request_until_it_is_revoked(
    settings: Settings, redis_client: Redis
) -> None:
    token, events = device("a-feed", "pas.feed", "integration", kind="service")
    record(settings, events)
    screen_token, screen = device("a-wall", "wall.avon4", "display", "WRH-AVON4")
    record(settings, screen)
    async with signing_in(settings, redis_client) as client:
        paired = await client.post("/api/v1/session/device", json={"token": screen_token})
        assert paired.is_success
        client.headers["Authorization"] = f"Bearer {token}"
        feed = await client.get("/api/v1/session")
        feed_token = {"account_id": "a-feed", "token_id": "t1"}
        record(settings, [access_event("TokenRevoked", feed_token, minute=1)])
        revoked = await session_once(client, lambda answer: answer.status_code == 401)
        del client.headers["Authorization"]
        screen_token_ref = {"account_id": "a-wall", "token_id": "t1"}
        record(settings, [access_event("TokenRevoked", screen_token_ref, minute=1)])
        screen_ended = await session_once(client, lambda answer: answer.status_code == 401)

    assert feed.json()["account_id"] == "a-feed"
    assert feed.json()["kind"] == "service"
    assert revoked.headers["www-authenticate"].startswith("Bearer")
    assert screen_ended.status_code == 401, "revoking its token unpairs the screen"


async def test_each_token_signs_in_only_as_its_kind_allows(
    settings: Settings, redis_client: Redis
) -> None:
    feed_token, feed = device("a-feed", "pas.feed", "integration", kind="service")
    screen_token, screen = device("a-wall", "wall.avon4", "display", "WRH-AVON4")
    record(settings, [*feed, *screen])
    async with signing_in(settings, redis_client) as client:
        feed_paired = await client.post("/api/v1/session/device", json={"token": feed_token})
        screen_as_bearer = await client.get(
            "/api/v1/session", headers={"Authorization": f"Bearer {screen_token}"}
        )

    assert feed_paired.status_code == 401, "a system's token does not become a browser session"
    assert screen_as_bearer.status_code == 401, "a screen's token pairs; it is no bearer token"


async def test_a_session_kept_before_idle_times_were_stored_still_stands(
    settings: Settings, redis_client: Redis
) -> None:
    async with signing_in(settings, redis_client) as client:
        assert (await nurse_signs_in(client)).status_code == 200
        [key] = [
            key async for key in redis_client.scan_iter(f"{settings.redis_prefix}-auth:session:*")
        ]
        stored = text(await redis_client.get(key) or b"")
        await redis_client.set(key, " ".join(stored.split(" ")[:2]))
        me = await client.get("/api/v1/session")

    assert me.status_code == 200
    assert await redis_client.ttl(key) > 0, "it is given the idle time of a person's session"

"""The API over the real Redis view, written the way the worker writes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from redis.asyncio import Redis

from flowcentre.api.app import create_app
from flowcentre.config import Settings
from flowcentre.domain.events import BedStatusChanged, EventBase, decode_event
from flowcentre.publisher import EventPublisher
from flowcentre.runtime import LOOPBACK, ensure_topics, free_port
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.view import PositionedEvent, RedisView
from tests.accounts import account, record, sign_in
from tests.builders import admitted, bed, organisation, site, ward
from tests.unit.conftest import RecordingPublisher

REGISTRY: list[EventBase] = [
    organisation("RWP"),
    site("WRH", "RWP"),
    ward("WRH-AVON4", "WRH"),
    bed("WRH-AVON4-B1", "WRH-AVON4", room="Bay A"),
    bed("WRH-AVON4-B2", "WRH-AVON4", room="Bay A"),
]
OCCUPIED = "WRH-AVON4-B1"
FLOW_CENTRE = "acc-flow-lead"
EMPTY = "WRH-AVON4-B2"


class Worker:
    """Applies events to the view as the stream worker does, at increasing offsets."""

    def __init__(self, redis: Redis) -> None:
        self.view = RedisView(redis)
        self.offset = 0

    async def apply(self, *events: EventBase) -> None:
        batch = []
        for one in events:
            batch.append(PositionedEvent(0, self.offset, one))
            self.offset += 1
        await self.view.apply("events", batch)


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # https: the session cookie is Secure, and a client keeps it only for https.
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            yield client


@asynccontextmanager
async def signed_in(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as flow centre staff, who may read and update every ward."""
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    record(settings, account(FLOW_CENTRE, "flow.lead", "flow_centre"))
    async with client_of(app) as client:
        assert (await sign_in(client, "flow.lead")).status_code == 200
        yield client


@asynccontextmanager
async def api(
    settings: Settings, redis: Redis, publisher: EventPublisher
) -> AsyncIterator[httpx.AsyncClient]:
    worker = Worker(redis)
    await worker.apply(*REGISTRY, admitted("S1", OCCUPIED, 0, "WRH-AVON4"))
    app = create_app(settings, redis=redis, publisher=publisher)
    async with signed_in(app, settings) as client:
        yield client


async def test_reads_show_the_view_with_initials_only(
    settings: Settings, redis_client: Redis
) -> None:
    async with api(settings, redis_client, RecordingPublisher()) as client:
        system = (await client.get("/api/v1/system")).json()
        ward_response = await client.get("/api/v1/wards/WRH-AVON4")
        site = (await client.get("/api/v1/sites/WRH")).json()
        one = (await client.get(f"/api/v1/beds/{OCCUPIED}")).json()

    assert system["counts"]["total"] == 2
    assert system["sites"][0]["wards"][0]["counts"]["occupancy_pct"] == 50.0
    assert site["counts"]["occupied"] == 1
    beds = {b["bed_id"]: b for b in ward_response.json()["beds"]}
    assert beds[OCCUPIED]["occupants"][0]["initials"] == "AL"
    assert "Lovelace" not in ward_response.text
    assert one["state"] == "occupied"


async def test_a_status_write_is_published_only_and_reaches_the_view_through_the_worker(
    settings: Settings, redis_client: Redis
) -> None:
    publisher = RecordingPublisher()
    keys = Keyspace()
    async with api(settings, redis_client, publisher) as client:
        stored = await redis_client.get(keys.bed(EMPTY))
        entries = await redis_client.xlen(keys.deltas)
        response = await client.post(
            f"/api/v1/beds/{EMPTY}/status",
            json={"status": "closed", "reason": "Broken rail"},
        )
        assert response.status_code == 202
        assert await redis_client.get(keys.bed(EMPTY)) == stored
        assert await redis_client.xlen(keys.deltas) == entries

        [published] = publisher.published
        assert isinstance(published, BedStatusChanged)
        assert response.json()["event_id"] == published.event_id
        assert published.source.organisation == "RWP"
        await Worker(redis_client).view.apply("api", [PositionedEvent(0, 0, published)])
        after = (await client.get(f"/api/v1/beds/{EMPTY}")).json()

    assert (after["state"], after["status_reason"]) == ("closed", "Broken rail")
    assert (after["since"]["by"]["kind"], after["since"]["by"]["id"]) == ("user", FLOW_CENTRE)


async def test_refusals_name_the_reason_and_publish_nothing(
    settings: Settings, redis_client: Redis
) -> None:
    publisher = RecordingPublisher()
    async with api(settings, redis_client, publisher) as client:
        occupied = await client.post(f"/api/v1/beds/{OCCUPIED}/status", json={"status": "clean"})
        unknown = await client.post("/api/v1/beds/NOWHERE/status", json={"status": "clean"})
        invalid = await client.post(f"/api/v1/beds/{EMPTY}/status", json={"status": "sparkling"})

    assert occupied.status_code == 409
    assert "occupied" in occupied.json()["detail"]
    assert unknown.status_code == 404
    assert "NOWHERE" in unknown.json()["detail"]
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "status"]
    assert publisher.published == []


async def test_an_accounts_writes_are_limited_across_a_moving_window(
    settings: Settings, redis_client: Redis
) -> None:
    limited = settings.model_copy(update={"write_limit_per_account": "2 per minute"})
    publisher = RecordingPublisher()
    async with api(limited, redis_client, publisher) as client:
        answers = [
            await client.post(f"/api/v1/beds/{EMPTY}/status", json={"status": status})
            for status in ("cleaning", "clean", "closed")
        ]

    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert len(publisher.published) == 2


async def test_the_kafka_publisher_built_by_the_app_puts_the_event_on_the_topic(
    settings: Settings, broker: str, redis_client: Redis
) -> None:
    ensure_topics(broker, settings)
    await Worker(redis_client).apply(*REGISTRY)
    async with signed_in(create_app(settings, redis=redis_client), settings) as client:
        response = await client.post(f"/api/v1/beds/{EMPTY}/status", json={"status": "cleaning"})
    assert response.status_code == 202

    consumer = AIOKafkaConsumer(
        settings.events_topic, bootstrap_servers=broker, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    on_the_log = decode_event(record.value)
    assert on_the_log.event_id == response.json()["event_id"]
    assert record.key == EMPTY.encode()


async def test_healthz_is_200_when_broker_and_redis_answer(
    settings: Settings, redis_client: Redis
) -> None:
    async with api(settings, redis_client, RecordingPublisher()) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "broker": {"ok": True, "detail": None},
            "redis": {"ok": True, "detail": None},
            "access_log": {"ok": True, "detail": None},
        },
    }


async def test_healthz_is_503_naming_redis_when_it_does_not_answer(settings: Settings) -> None:
    nowhere = settings.model_copy(update={"redis_url": f"redis://{LOOPBACK}:{free_port()}/0"})
    app = create_app(nowhere, publisher=RecordingPublisher())
    async with client_of(app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is True
    assert checks["redis"]["ok"] is False
    assert checks["redis"]["detail"]


async def test_healthz_is_503_naming_the_broker_when_it_does_not_answer(
    settings: Settings, redis_client: Redis
) -> None:
    nowhere = settings.model_copy(update={"kafka_bootstrap": f"{LOOPBACK}:{free_port()}"})
    # No one can sign in without the broker; the health check needs no one to.
    async with client_of(
        create_app(nowhere, redis=redis_client, publisher=RecordingPublisher())
    ) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert str(nowhere.kafka_bootstrap) in checks["broker"]["detail"]
    assert checks["redis"]["ok"] is True


async def test_the_whiteboard_pages_are_served(settings: Settings, redis_client: Redis) -> None:
    async with api(settings, redis_client, RecordingPublisher()) as client:
        page = await client.get("/")
        script = await client.get("/app.js")
    assert page.status_code == 200
    assert '<script type="module" src="app.js">' in page.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]

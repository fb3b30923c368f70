"""Capacity alerts end to end over the broker: a ward fills past a rule's threshold; the
alert watch raises the alert once the condition has held on the log's clock, and it is
seen on the REST API, on the whiteboard socket and at a real webhook receiver, signed;
it climbs its ladder until a manager acknowledges it through the API; the ward empties
and it resolves itself; a rebuild of the view from the log gives the same history. A
webhook endpoint that is down meanwhile delays none of it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from flowcentre.api.whiteboard import frame_messages
from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from flowcentre.rebuild import rebuild
from flowcentre.runtime import ensure_topics, free_port
from flowcentre.store.reads import LiveReads
from flowcentre.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from tests.accounts import account, record
from tests.builders import admitted, bed, discharged, event, organisation, site, ward
from tests.e2e.conftest import JSON, Processes, next_delta, rest_until, sign_in_when_up
from tests.view_dump import dump_view
from tests.webhook_receiver import Receiver, receiving

Found = TypeVar("Found")

CLOCK = "e2e"
MANAGER = "acc-site-manager"
SECRET = "the-webhook-secret"
RULES = """
[ladders.site]
steps = [
  { after_minutes = 0, notify = ["nurse in charge"] },
  { after_minutes = 15, notify = ["site manager"] },
  { after_minutes = 45, notify = ["on-call director"] },
]

[webhooks.pager]
url = "PAGER"

[webhooks.down]
url = "NOBODY"

[[rules]]
id = "occupancy-high"
name = "Occupancy above 92%"
measure = "occupancy_pct"
scope = { level = "site" }
comparison = ">"
threshold = 92
clear = 90
hold_minutes = 15
severity = "warning"
ladder = "site"
webhooks = ["pager", "down"]
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, receiver: Receiver) -> Settings:
    """The suite's settings with Redis keys of this test's own, a rules file of its own
    whose rule tells a live receiver and one that is down, and a clock this test ticks."""
    alerts = tmp_path / "alerts.toml"
    nobody = f"http://127.0.0.1:{free_port()}/nobody-listens"
    alerts.write_text(RULES.replace("PAGER", receiver.url).replace("NOBODY", nobody))
    return settings.model_copy(
        update={
            "redis_prefix": f"alerts-{uuid.uuid4().hex[:12]}",
            "alerts": alerts,
            "clock": CLOCK,
            "clock_tick_s": 0,
            "webhook_secret": SecretStr(SECRET),
        }
    )


def tick(minute: float) -> EventBase:
    return event("ClockTicked", {"clock": CLOCK}, minute)


async def until(read: Callable[[], Awaitable[Found | None]], what: str) -> Found:
    for _ in range(600):
        if (found := await read()) is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_alert_is_raised_told_acknowledged_resolved_and_rebuilt_the_same(
    settings: Settings, processes: Processes, receiver: Receiver
) -> None:
    assert settings.kafka_bootstrap
    assert settings.redis_url
    ensure_topics(settings.kafka_bootstrap, settings)
    log = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    log.publish([organisation(), site(), ward(), *(bed(f"B{n}") for n in range(10)), tick(0)])
    record(settings, account(MANAGER, "site.manager", "manager"))
    port = free_port()
    processes.start("worker")
    processes.start("api", FLOWCENTRE_API_PORT=str(port))
    watch = processes.start("alert-watch", FLOWCENTRE_WEBHOOK_SECRET=SECRET)
    redis = Redis.from_url(settings.redis_url)
    reads = LiveReads(redis, prefix=settings.redis_prefix)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
        await sign_in_when_up(api, "site.manager")
        rules = await rest_until(api, "/api/v1/alert-rules", lambda found: len(found) == 1)
        assert rules[0]["version"] == 1, "the file's rule, saved as its first version"
        board = f"ws://127.0.0.1:{port}/ws/whiteboard"
        async with connect(board, additional_headers={"Cookie": api.headers["Cookie"]}) as socket:
            snapshot = frame_messages(await asyncio.wait_for(socket.recv(), timeout=30))[0]
            assert snapshot["data"]["alerts"] == []

            # The ward fills. Ticks go to a partition of their own: each waits for what
            # comes before it, as a clock a minute apart does.
            log.publish([admitted(f"S{n}", f"B{n}", 1) for n in range(10)])
            await until(lambda: _where(reads.bed("B9"), lambda b: b.state == "occupied"), "B9")
            log.publish([tick(5)])
            await until(
                lambda: _where(reads.clock(CLOCK), lambda c: c.at == tick(5).occurred_at), "5"
            )
            await asyncio.sleep(1)
            assert (await api.get("/api/v1/alerts")).json() == [], "not held 15 minutes yet"

            # Held 15 minutes on the log's clock: raised, on REST, the socket and the pager.
            log.publish([tick(16)])
            [raised] = await rest_until(api, "/api/v1/alerts", lambda found: len(found) == 1)
            assert (raised["value"], raised["scope"]["id"], raised["wards"]) == (100.0, "WRH", 1)
            assert raised["raised"]["at"] == tick(16).occurred_at.isoformat()
            pushed = await next_delta(
                socket, "alert", lambda a: a["alert_id"] == raised["alert_id"]
            )
            assert pushed["rule"]["id"] == "occupancy-high"
            await until(lambda: _told(receiver, 2), "the pager to hear of it")
            # OPEL too, from the default configuration: the full ward scores 4 on
            # occupancy and 1 on criteria to reside, each weighing 2; 4 on discharges
            # against admissions (none of ten) and 1 on escalation beds and long stays,
            # each weighing 1; nothing else is known: (6 + 3) / 21.
            opel = await rest_until(api, "/api/v1/opel", lambda o: len(o["places"]) == 2)
            levels = {place["place"]: (place["level"], place["share"]) for place in opel["places"]}
            assert levels == {"WRH": (2, 42.9), "system": (2, 42.9)}

            # The watch restarts and the ladder goes on; an acknowledgement stops it.
            watch.terminate()
            watch.wait(timeout=20)
            processes.start("alert-watch", FLOWCENTRE_WEBHOOK_SECRET=SECRET)
            log.publish([tick(31)])
            alert = f"/api/v1/alerts/{raised['alert_id']}"
            await rest_until(api, alert, lambda a: len(a["escalations"]) == 2)
            acknowledged = await api.post(f"{alert}/acknowledge", json={"note": "opening beds"})
            assert acknowledged.status_code == 202, acknowledged.text
            await next_delta(socket, "alert", lambda a: a["status"] == "acknowledged")
            log.publish([tick(61)])
            await until(
                lambda: _where(reads.clock(CLOCK), lambda c: c.at == tick(61).occurred_at), "61"
            )
            await asyncio.sleep(1)
            seen = (await api.get(alert)).json()
            assert len(seen["escalations"]) == 2, "no third step once acknowledged"
            assert seen["acknowledged"]["by"] == {"kind": "user", "id": MANAGER}

            # A patient leaves: back at the clear threshold, the alert resolves itself.
            log.publish([discharged("S0", 62)])
            await until(lambda: _where(reads.bed("B0"), lambda b: b.state != "occupied"), "B0")
            log.publish([tick(63)])
            gone = await next_delta(socket, "alert", lambda a: a["status"] == "resolved")
            assert gone["cleared_at_value"] == 90.0
            assert (await api.get("/api/v1/alerts")).json() == []

    try:
        told = await until(lambda: _told(receiver, 5), "every notice")
        assert [body["type"] for body in told] == [
            "alert.raised",
            "alert.escalated",
            "alert.escalated",
            "alert.acknowledged",
            "alert.resolved",
        ]
        for headers, body in receiver.received:
            timestamp = headers[TIMESTAMP_HEADER]
            assert headers[SIGNATURE_HEADER] == signature(SECRET.encode(), timestamp, body)

        report = await rebuild(
            settings.kafka_bootstrap,
            redis,
            settings.events_topic,
            f"{settings.redis_prefix}-rebuilt",
        )
        assert report.events > 20
        live = await _alerts_of(redis, settings.redis_prefix)
        rebuilt = await _alerts_of(redis, f"{settings.redis_prefix}-rebuilt")
        assert rebuilt == live
        assert len(live) >= 3, "the rule, the alert and the clock"
    finally:
        log.close()
        await redis.aclose()


async def _told(receiver: Receiver, count: int) -> list[JSON] | None:
    bodies = [orjson.loads(body) for _, body in receiver.received]
    return bodies if len(bodies) >= count else None


async def _nonempty(found: Awaitable[list[Found]]) -> list[Found] | None:
    return (await found) or None


async def _where(found: Awaitable[Found | None], holds: Callable[[Found], bool]) -> Found | None:
    one = await found
    return one if one is not None and holds(one) else None


async def _alerts_of(redis: Redis, prefix: str) -> dict[str, Any]:
    view = await dump_view(redis, prefix)
    return {key: value for key, value in view.items() if key.startswith(("rule", "alert", "clock"))}

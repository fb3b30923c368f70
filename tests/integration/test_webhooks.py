"""Webhook notices delivered to a real local receiver, signed, in order; an endpoint
that is down retried, kept as a failure, and in nobody else's way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from flowcentre.domain.alert_rules import Webhook
from flowcentre.runtime import free_port
from flowcentre.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookOutbox,
    WebhookSender,
    signature,
)
from tests.webhook_receiver import Receiver, receiving

SECRET = b"shared-secret-of-the-test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


def notice(n: int) -> dict[str, Any]:
    alert = {"alert_id": f"occupancy-high@site:WRH@2026110208{n:02d}00Z"}
    return {"delivery_id": f"{alert['alert_id']}/raised", "type": "alert.raised", "alert": alert}


async def test_notices_reach_the_receiver_signed_and_in_order_while_a_dead_one_fails_alone(
    redis_client: Redis, receiver: Receiver
) -> None:
    outbox = WebhookOutbox(redis_client, prefix="hooks")
    endpoints = {
        "pager": Webhook(url=receiver.url),
        "down": Webhook(url=f"http://127.0.0.1:{free_port()}/nobody"),
    }
    for n in range(3):
        await outbox.add("pager", notice(n))
    await outbox.add("down", notice(9))
    stop = asyncio.Event()
    sender = WebhookSender(outbox, endpoints, SECRET, back_off_s=(0.2, 0.2))
    running = asyncio.create_task(sender.run(stop))
    try:
        for _ in range(100):
            if len(receiver.received) == 3 and await outbox.failures():
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running

    bodies = [orjson.loads(body) for _, body in receiver.received]
    assert [body["delivery_id"] for body in bodies] == [notice(n)["delivery_id"] for n in range(3)]
    for headers, body in receiver.received:
        timestamp = headers[TIMESTAMP_HEADER]
        assert headers[SIGNATURE_HEADER] == signature(SECRET, timestamp, body)
        assert headers[DELIVERY_HEADER] == orjson.loads(body)["delivery_id"]
        assert headers["Content-Type"] == "application/json"
    [failure] = await outbox.failures()
    assert failure["endpoint"] == "down"
    assert failure["delivery_id"] == notice(9)["delivery_id"]
    assert "ConnectError" in failure["reason"]


async def test_a_restarted_sender_delivers_only_what_was_not_taken(
    redis_client: Redis, receiver: Receiver
) -> None:
    outbox = WebhookOutbox(redis_client, prefix="again")
    endpoints = {"pager": Webhook(url=receiver.url)}
    await outbox.add("pager", notice(1))
    for round_ in (1, 2):
        if round_ == 2:
            await outbox.add("pager", notice(2))
        stop = asyncio.Event()
        running = asyncio.create_task(WebhookSender(outbox, endpoints, SECRET).run(stop))
        for _ in range(100):
            if len(receiver.received) == round_:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await running

    assert [orjson.loads(body)["delivery_id"] for _, body in receiver.received] == [
        notice(1)["delivery_id"],
        notice(2)["delivery_id"],
    ]

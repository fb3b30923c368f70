"""Telling outside systems of alerts: webhook requests signed with a shared secret,
retried with back-off, and kept with the reason when they fail for good.

Notices wait in a Redis stream of their endpoint's own until it has taken them, so the
alert watch only queues them and an endpoint that is down delays nothing but its own
notices. Each endpoint takes its notices in order, one at a time.

A request is a JSON ``POST`` with ``X-Flowcentre-Delivery`` (the notice's id: a repeat
has the same), ``X-Flowcentre-Timestamp`` (seconds since the epoch) and
``X-Flowcentre-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed by the shared
secret, of the timestamp, a full stop and the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import httpx2
import orjson
from redis.asyncio import Redis

from flowcentre.domain.alert_rules import Webhook

log = logging.getLogger(__name__)

JSON = dict[str, Any]
DELIVERY_HEADER = "X-Flowcentre-Delivery"
TIMESTAMP_HEADER = "X-Flowcentre-Timestamp"
SIGNATURE_HEADER = "X-Flowcentre-Signature"
#: Seconds between attempts: an endpoint down for about a minute still gets its notice.
BACK_OFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
TIMEOUT_S = 10.0
PENDING_KEPT = 100_000
FAILURES_KEPT = 10_000


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookOutbox:
    """Notices waiting for their endpoints, where each endpoint has got to, and the
    notices that failed for good. Kept beside the view: a rebuild leaves them alone."""

    def __init__(self, redis: Redis, *, prefix: str = "fc") -> None:
        self._redis = redis
        self._pending = f"{prefix}-webhooks:pending:"
        self._taken = f"{prefix}-webhooks:taken"
        self._failed = f"{prefix}-webhooks:failed"

    async def add(self, endpoint: str, notice: JSON) -> None:
        await self._redis.xadd(
            self._pending + endpoint,
            {"notice": orjson.dumps(notice)},
            maxlen=PENDING_KEPT,
            approximate=True,
        )

    async def waiting(self, endpoint: str, *, block_ms: int) -> list[tuple[str, JSON]]:
        """The endpoint's notices after the last it took, oldest first."""
        taken = await self._redis.hget(self._taken, endpoint)
        cursor = taken.decode() if isinstance(taken, bytes) else "0-0"
        found = await self._redis.xread(
            {self._pending + endpoint: cursor}, count=100, block=block_ms
        )
        entries = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], found)
        return [
            (entry_id.decode(), orjson.loads(fields[b"notice"]))
            for entry_id, fields in (entries[0][1] if entries else [])
        ]

    async def took(self, endpoint: str, entry_id: str) -> None:
        await self._redis.hset(self._taken, endpoint, entry_id)

    async def failed(self, endpoint: str, notice: JSON, reason: str) -> None:
        failure = {
            "endpoint": endpoint,
            "delivery_id": notice["delivery_id"],
            "type": notice["type"],
            "alert_id": notice["alert"]["alert_id"],
            "reason": reason,
            "failed_at": datetime.now(UTC).isoformat(),
        }
        await self._redis.xadd(
            self._failed, {"failure": orjson.dumps(failure)}, maxlen=FAILURES_KEPT, approximate=True
        )

    async def failures(self, count: int = 100) -> list[JSON]:
        """The latest notices that failed for good, newest first."""
        found = await self._redis.xrevrange(self._failed, count=count)
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], found)
        return [orjson.loads(fields[b"failure"]) for _, fields in entries]


class WebhookSender:
    """Delivers each endpoint's notices until stopped."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        endpoints: Mapping[str, Webhook],
        secret: bytes,
        *,
        back_off_s: Sequence[float] = BACK_OFF_S,
    ) -> None:
        self._outbox = outbox
        self._endpoints = endpoints
        self._secret = secret
        self._back_off_s = back_off_s

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx2.AsyncClient(timeout=TIMEOUT_S) as client:
            await asyncio.gather(
                *(self._serve(name, hook, client, stop) for name, hook in self._endpoints.items())
            )

    async def _serve(
        self, name: str, hook: Webhook, client: httpx2.AsyncClient, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            for entry_id, notice in await self._outbox.waiting(name, block_ms=1000):
                try:
                    failure = await self._deliver(hook, notice, client, stop)
                except _Stopped:
                    return  # not taken: the next start tries it again
                if failure is not None:
                    log.warning("webhook %s: %s failed: %s", name, notice["delivery_id"], failure)
                    await self._outbox.failed(name, notice, failure)
                await self._outbox.took(name, entry_id)
                if stop.is_set():
                    return

    async def _deliver(
        self, hook: Webhook, notice: JSON, client: httpx2.AsyncClient, stop: asyncio.Event
    ) -> str | None:
        """None once the endpoint answers 2xx; otherwise why the last attempt failed."""
        body = orjson.dumps(notice)
        failure = "not tried"
        for wait in (0.0, *self._back_off_s):
            if wait and await _stopped(stop, wait):
                raise _Stopped
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                DELIVERY_HEADER: notice["delivery_id"],
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(self._secret, timestamp, body),
            }
            try:
                answer = await client.post(hook.url, content=body, headers=headers)
            except httpx2.HTTPError as error:
                failure = f"{type(error).__name__}: {error}"
                continue
            if 200 <= answer.status_code < 300:
                return None
            failure = f"answered {answer.status_code}"
        return failure


class _Stopped(Exception):
    """Stopped between attempts at a notice."""


async def _stopped(stop: asyncio.Event, wait_s: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), wait_s)
    except TimeoutError:
        return False
    return True

"""The whiteboard socket over a real server and the real Redis delta stream."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from flowcentre.api.app import create_app
from flowcentre.api.auth import SESSION_COOKIE
from flowcentre.api.whiteboard import (
    ACCESS_CHANGED,
    NOT_ALLOWED,
    SIGN_IN_AGAIN,
    TRY_AGAIN_LATER,
    HubOptions,
    frame_messages,
    parse_cursor,
)
from flowcentre.config import Settings
from flowcentre.domain.audit import PatientDetailsRead, decode_audit_event
from flowcentre.domain.events import EventBase
from flowcentre.runtime import LOOPBACK, ensure_topics
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.sessions import Sessions
from tests.accounts import account, record, sign_in
from tests.builders import admitted, bed, bed_status, discharged, event, role_granted, ward
from tests.integration.test_api import Worker
from tests.unit.conftest import RecordingPublisher

JSON = dict[str, Any]
DEADLINE_S = 30.0
BEDS = [f"B{n}" for n in range(1, 5)]
REGISTRY: list[EventBase] = [ward("W1"), *(bed(bed_id, "W1", room="Bay 1") for bed_id in BEDS)]


@asynccontextmanager
async def serving(app: FastAPI, send_buffer: int | None) -> AsyncIterator[str]:
    """The app on a real server; the port listens before the server starts, so no waiting.

    Connections inherit ``send_buffer`` from the listener, in place of the kernel's
    autotuned buffer of up to megabytes that would hide a stalled board for a long time.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer is not None:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    listener.bind((LOOPBACK, 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield f"ws://{LOOPBACK}:{port}/ws/whiteboard"
    finally:
        server.should_exit = True
        await task
        listener.close()


@dataclass(frozen=True)
class Served:
    """The socket's address, and the cookie of a session that may watch every board."""

    url: str
    cookie: str

    def board(self, query: str = "", **options: Any) -> connect:
        return connect(self.url + query, additional_headers={"Cookie": self.cookie}, **options)


async def session_cookie(url: str, username: str) -> str:
    base = url.replace("ws://", "http://").removesuffix("/ws/whiteboard")
    async with httpx.AsyncClient(base_url=base) as client:
        signed_in = await sign_in(client, username)
    assert signed_in.status_code == 200, signed_in.text
    return f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"


@asynccontextmanager
async def whiteboard(
    settings: Settings,
    redis: Redis,
    options: HubOptions | None = None,
    send_buffer: int | None = None,
) -> AsyncIterator[Served]:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    record(settings, account("acc-flow", "flow.lead", "flow_centre"))
    app = create_app(settings, redis=redis, publisher=RecordingPublisher(), hub_options=options)
    async with serving(app, send_buffer) as url:
        yield Served(url, await session_cookie(url, "flow.lead"))


#: Messages a board has received and the test has not yet taken, by board.
_unread: WeakKeyDictionary[ClientConnection, deque[JSON]] = WeakKeyDictionary()


async def next_message(board: ClientConnection, *, heartbeats: bool = False) -> JSON:
    """The next message, however the server framed it, skipping heartbeats unless wanted."""
    unread = _unread.setdefault(board, deque())
    async with asyncio.timeout(DEADLINE_S):
        while True:
            if not unread:
                unread.extend(frame_messages(await board.recv()))
            message = unread.popleft()
            if heartbeats or message["type"] != "heartbeat":
                return message


def entry_id(cursor: str) -> tuple[int, int]:
    parsed = parse_cursor(cursor)
    assert parsed is not None
    return parsed


def changed_beds(message: JSON) -> list[str]:
    return [delta["bed"]["bed_id"] for delta in message["deltas"] if delta["kind"] == "bed"]


async def test_a_board_gets_a_snapshot_then_live_deltas(
    settings: Settings, redis_client: Redis
) -> None:
    worker = Worker(redis_client)
    await worker.apply(*REGISTRY, admitted("S1", "B1", 0))
    async with whiteboard(settings, redis_client) as served, served.board() as board:
        snapshot = await next_message(board)
        admission = admitted("S2", "B2", 5)
        await worker.apply(admission)
        delta = await next_message(board)

    assert snapshot["type"] == "snapshot"
    assert entry_id(delta["cursor"]) > entry_id(snapshot["cursor"])
    beds = {b["bed_id"]: b for b in snapshot["data"]["beds"]}
    assert set(beds) == set(BEDS)
    assert beds["B1"]["occupants"][0]["initials"] == "AL"
    assert b"Lovelace" not in orjson.dumps(snapshot)
    assert [w["ward_id"] for w in snapshot["data"]["wards"]] == ["W1"]
    assert delta["type"] == "delta"
    assert delta["event_id"] == admission.event_id
    assert changed_beds(delta) == ["B2"]


async def test_a_board_resuming_from_its_cursor_misses_nothing_and_repeats_nothing(
    settings: Settings, redis_client: Redis
) -> None:
    worker = Worker(redis_client)
    await worker.apply(*REGISTRY)
    async with whiteboard(settings, redis_client) as served:
        async with served.board() as board:
            snapshot = await next_message(board)
            first = admitted("S1", "B1", 0)
            await worker.apply(first)
            held = await next_message(board)
            assert held["event_id"] == first.event_id

        missed = [admitted("S2", "B2", 1), bed_status("B3", "closed", 2), discharged("S1", 3)]
        for one in missed:
            await worker.apply(one)
        async with served.board(f"?cursor={held['cursor']}") as board:
            replayed = [await next_message(board) for _ in missed]
            live = bed_status("B4", "reserved", 4)
            await worker.apply(live)
            following = await next_message(board)

    assert snapshot["type"] == "snapshot"
    assert [m["type"] for m in replayed] == ["delta"] * 3
    assert [m["event_id"] for m in replayed] == [e.event_id for e in missed]
    cursors = [held["cursor"]] + [m["cursor"] for m in replayed]
    assert cursors == sorted(cursors, key=entry_id)
    assert (following["type"], following["event_id"]) == ("delta", live.event_id)


async def test_a_cursor_older_than_the_kept_deltas_gets_a_resnapshot(
    settings: Settings, redis_client: Redis
) -> None:
    worker = Worker(redis_client)
    await worker.apply(*REGISTRY)
    async with whiteboard(settings, redis_client) as served:
        async with served.board() as board:
            old_cursor = (await next_message(board))["cursor"]
        for minute, bed_id in enumerate(BEDS):
            await worker.apply(bed_status(bed_id, "closed", minute))
        # What the view's MAXLEN does to a long-running stream, exactly and at once.
        await redis_client.xtrim(Keyspace().deltas, maxlen=1, approximate=False)
        async with served.board(f"?cursor={old_cursor}") as board:
            notice = await next_message(board)
            snapshot = await next_message(board)

    assert notice == {"type": "resnapshot", "reason": "cursor_expired"}
    assert snapshot["type"] == "snapshot"
    assert {b["state"] for b in snapshot["data"]["beds"]} == {"closed"}


async def test_a_slow_board_does_not_hold_back_a_fast_one_and_is_told_to_resnapshot(
    settings: Settings, redis_client: Redis
) -> None:
    worker = Worker(redis_client)
    await worker.apply(*REGISTRY)
    # A small queue and a long grace, so the slow board is cut off soon and still gets
    # the instruction once it reads again.
    options = HubOptions(queue_size=8, cut_grace_s=DEADLINE_S)
    async with whiteboard(settings, redis_client, options, send_buffer=16384) as served:
        slow_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow_socket.connect((LOOPBACK, urlsplit(served.url).port or 0))
        async with (
            served.board(sock=slow_socket, max_queue=1, compression=None) as slow,
            served.board() as fast,
        ):
            assert (await next_message(fast))["type"] == "snapshot"
            # The slow board stops reading: its kernel buffers, the server's write buffer
            # and then its queue fill up, while the fast board keeps receiving.
            statuses = ("closed", "blocked", "reserved", "clean")
            events = [
                event(
                    "BedStatusChanged",
                    {"bed_id": BEDS[n % 4], "status": statuses[n % 4], "reason": "x" * 200},
                    n,
                )
                for n in range(600)
            ]
            received: list[str] = []
            for start in range(0, len(events), 50):
                await worker.apply(*events[start : start + 50])
            async with asyncio.timeout(DEADLINE_S):
                while len(received) < len(events):
                    message = await next_message(fast)
                    received.append(message["event_id"])
            assert received == [e.event_id for e in events]

            slow_messages: list[JSON] = []
            try:
                async with asyncio.timeout(DEADLINE_S):
                    while True:
                        slow_messages.extend(frame_messages(await slow.recv()))
            except ConnectionClosed:
                pass
            close_code = slow.close_code

    assert slow_messages[0]["type"] == "snapshot"
    assert len(slow_messages) < len(events)
    assert slow_messages[-1] == {"type": "resnapshot", "reason": "too_slow"}
    assert close_code == TRY_AGAIN_LATER


async def closed_with(board: ClientConnection) -> int | None:
    """The close code once the server closes the board, reading whatever comes first."""
    async with asyncio.timeout(DEADLINE_S):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await board.recv()
    return board.close_code


async def test_a_board_without_a_session_is_told_to_sign_in(
    settings: Settings, redis_client: Redis
) -> None:
    async with whiteboard(settings, redis_client) as served, connect(served.url) as board:
        code = await closed_with(board)

    assert code == SIGN_IN_AGAIN


async def test_a_ward_nurse_sees_their_ward_whole_and_others_without_patients(
    settings: Settings, redis_client: Redis
) -> None:
    worker = Worker(redis_client)
    await worker.apply(
        *REGISTRY,
        ward("W2"),
        bed("C1", "W2"),
        admitted("S1", "B1", 0),
        admitted("S2", "C1", 1, "W2"),
    )
    record(settings, account("acc-nurse", "nurse.w1", "ward_staff", "W1"))
    async with whiteboard(settings, redis_client) as served:
        nurse = Served(served.url, await session_cookie(served.url, "nurse.w1"))
        async with nurse.board() as board:
            snapshot = await next_message(board)

    occupants = {b["bed_id"]: b["occupants"] for b in snapshot["data"]["beds"]}
    assert [o["initials"] for o in occupants["B1"]] == ["AL"]
    assert occupants["C1"] == []


async def test_a_board_is_closed_when_its_session_ends_or_its_access_changes(
    settings: Settings, redis_client: Redis
) -> None:
    await Worker(redis_client).apply(*REGISTRY)
    record(settings, account("acc-nurse", "nurse.w1", "ward_staff", "W1"))
    options = HubOptions(recheck_s=0.1)
    async with whiteboard(settings, redis_client, options) as served:
        nurse = Served(served.url, await session_cookie(served.url, "nurse.w1"))
        async with nurse.board() as board:
            await next_message(board)
            record(settings, [role_granted("acc-nurse", "ward_staff", "W1", "W2", minute=5)])
            changed = await closed_with(board)
        async with nurse.board() as board:
            await next_message(board)
            token = nurse.cookie.partition("=")[2]
            await Sessions(redis_client, settings.redis_prefix, 60).end(token)
            ended = await closed_with(board)

    assert (changed, ended) == (ACCESS_CHANGED, SIGN_IN_AGAIN)


async def test_a_socket_opened_from_another_sites_page_is_refused(
    settings: Settings, redis_client: Redis
) -> None:
    async with whiteboard(settings, redis_client) as served:
        with pytest.raises(InvalidStatus) as refused:
            async with served.board(origin=Origin("https://elsewhere.test")):
                pass

    assert refused.value.response.status_code == 403


async def test_an_account_that_may_see_no_board_is_told_so(
    settings: Settings, redis_client: Redis
) -> None:
    record(settings, account("acc-feed", "pas.feed", "integration"))
    async with whiteboard(settings, redis_client) as served:
        feed = Served(served.url, await session_cookie(served.url, "pas.feed"))
        async with feed.board() as board:
            code = await closed_with(board)

    assert code == NOT_ALLOWED


async def test_the_patients_a_board_is_shown_are_on_the_audit_trail(
    settings: Settings, redis_client: Redis
) -> None:
    worker = Worker(redis_client)
    await worker.apply(*REGISTRY, admitted("S1", "B1", 0))
    async with whiteboard(settings, redis_client) as served:
        async with served.board() as board:
            snapshot = await next_message(board)
        kept = await audit_records(settings)

    assert "spell_id" not in str(snapshot["data"]["beds"])
    # The flow centre acts on discharge plans by their spell id.
    assert [plan["spell_id"] for plan in snapshot["data"]["discharges"]] == ["S1"]
    [read] = kept
    assert read.payload.view == "WS /ws/whiteboard"
    assert read.caused_by.id == "acc-flow"
    assert [shown.patient_id for shown in read.payload.patients] == ["P-S1"]


async def audit_records(settings: Settings) -> list[PatientDetailsRead]:
    """The audit trail's first record, once the board's reads reach it."""
    consumer = AIOKafkaConsumer(
        settings.audit_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                found = [record for batch in batches.values() for record in batch]
                if found:
                    return [decode_audit_event(record.value) for record in found]
    finally:
        await consumer.stop()

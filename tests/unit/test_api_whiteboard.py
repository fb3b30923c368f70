"""The whiteboard fan-out against an in-memory delta stream: ordering, resume, slow boards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from flowcentre.api.whiteboard import (
    TRY_AGAIN_LATER,
    BoardMirror,
    HubOptions,
    Subscription,
    WhiteboardHub,
    format_cursor,
    frame_messages,
    parse_cursor,
)
from flowcentre.domain.board import BoardScope

JSON = dict[str, Any]
DEADLINE_S = 10.0
FULL = BoardScope(full_wards=None, capacity=True)


def bed(bed_id: str, state: str = "available", ward_id: str = "W1") -> JSON:
    return {"bed_id": bed_id, "ward_id": ward_id, "state": state, "since": None, "occupants": []}


class MemoryStream:
    """A delta stream with the semantics of the Redis one the hub reads through LiveReads."""

    def __init__(self) -> None:
        self.entries: list[tuple[tuple[int, int], JSON]] = []
        self.beds: dict[str, JSON] = {}
        self.wards: dict[str, JSON] = {"W1": {"ward_id": "W1", "site_id": "S", "name": "W1"}}
        self._added = asyncio.Event()
        self._next = 1000
        self.on_range: Callable[[], Awaitable[None]] | None = None
        self.fail_reads = 0

    def add(self, *beds: JSON, resnapshot: bool = False) -> str:
        self._next += 1
        entry_id = (self._next, 0)
        if resnapshot:
            entry: JSON = {"deltas": [{"kind": "resnapshot"}]}
        else:
            entry = {
                "event_id": f"e{self._next}",
                "occurred_at": "2026-11-02T08:00:00+00:00",
                "deltas": [{"kind": "bed", "bed": one} for one in beds],
            }
        for one in beds:
            self.beds[one["bed_id"]] = one
        self.entries.append((entry_id, entry))
        self._added.set()
        return format_cursor(entry_id)

    def trim(self, keep: int) -> None:
        del self.entries[: len(self.entries) - keep]

    async def cursor(self) -> str:
        return format_cursor(self.entries[-1][0]) if self.entries else "0-0"

    async def snapshot(self) -> tuple[str, JSON]:
        cursor = await self.cursor()
        return cursor, {
            "sites": [],
            "wards": list(self.wards.values()),
            "beds": list(self.beds.values()),
        }

    def _after(self, cursor: str, count: int) -> list[tuple[str, JSON]]:
        after = parse_cursor(cursor)
        assert after is not None
        found = [(format_cursor(i), e) for i, e in self.entries if i > after]
        return found[:count]

    async def deltas_after(
        self, cursor: str, *, count: int = 1000, block_ms: int | None = None
    ) -> list[tuple[str, JSON]]:
        if block_ms is None:
            if self.on_range is not None:
                await self.on_range()
            return self._after(cursor, count)
        if self.fail_reads:
            self.fail_reads -= 1
            raise ConnectionError("stream unavailable")
        found = self._after(cursor, count)
        if not found:
            self._added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._added.wait(), block_ms / 1000)
            found = self._after(cursor, count)
        return found

    async def oldest_delta(self) -> str | None:
        return format_cursor(self.entries[0][0]) if self.entries else None


class Board:
    """A board's end of the socket: what it received, and whether it takes messages."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.received: list[JSON] = []
        self.frames = 0
        self.closed: int | None = None
        self._flowing = asyncio.Event()
        if not stalled:
            self._flowing.set()
        self._arrived = asyncio.Event()

    def release(self) -> None:
        self._flowing.set()

    async def send_text(self, data: str) -> None:
        await self._flowing.wait()
        self.received.extend(frame_messages(data))
        self.frames += 1
        self._arrived.set()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = code

    def of_type(self, kind: str) -> list[JSON]:
        return [message for message in self.received if message["type"] == kind]

    def bed_deltas(self) -> list[str]:
        return [
            delta["bed"]["bed_id"]
            for message in self.of_type("delta")
            for delta in message["deltas"]
        ]

    async def until(self, condition: Callable[[Board], bool]) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while not condition(self):
                self._arrived.clear()
                await self._arrived.wait()


@contextlib.asynccontextmanager
async def running(hub: WhiteboardHub) -> AsyncIterator[WhiteboardHub]:
    await hub.start()
    try:
        await hub.wait_ready()
        yield hub
    finally:
        await hub.stop()


@contextlib.asynccontextmanager
async def connected(subscription: Subscription, board: Board) -> AsyncIterator[Board]:
    sender = asyncio.create_task(subscription.send(board))
    try:
        yield board
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


def options(**overrides: Any) -> HubOptions:
    return HubOptions(**{"block_ms": 20, "heartbeat_s": 3600.0, **overrides})


async def settled(hub: WhiteboardHub, cursor: str) -> None:
    """Wait until the hub has fanned out the entry: a probe board sees it or starts past it."""
    subscription = await hub.open(None, FULL)
    try:
        async with connected(subscription, Board()) as probe:
            await probe.until(lambda b: any(m.get("cursor") == cursor for m in b.received))
    finally:
        hub.close(subscription)


async def test_a_new_board_gets_the_snapshot_then_every_delta_in_order() -> None:
    stream = MemoryStream()
    stream.add(bed("B1"))
    async with running(WhiteboardHub(stream, options())) as hub:
        board = Board()
        async with connected(await hub.open(None, FULL), board):
            first = stream.add(bed("B2", "occupied"))
            second = stream.add(bed("B1", "cleaning"))
            await board.until(lambda b: len(b.of_type("delta")) == 2)

    snapshot = board.received[0]
    assert snapshot["type"] == "snapshot"
    assert [b["bed_id"] for b in snapshot["data"]["beds"]] == ["B1"]
    assert [m["cursor"] for m in board.of_type("delta")] == [first, second]
    assert board.bed_deltas() == ["B2", "B1"]
    assert snapshot["cursor"] < first


async def test_a_board_resuming_from_its_cursor_gets_exactly_the_entries_after_it() -> None:
    stream = MemoryStream()
    held = stream.add(bed("B1"))
    missed = [stream.add(bed(f"B{n}")) for n in range(2, 6)]
    async with running(WhiteboardHub(stream, options(batch=2))) as hub:
        await settled(hub, missed[-1])
        board = Board()
        async with connected(await hub.open(held, FULL), board):
            live = stream.add(bed("B9"))
            await board.until(lambda b: len(b.of_type("delta")) == 5)

    assert not board.of_type("snapshot")
    assert [m["cursor"] for m in board.of_type("delta")] == [*missed, live]


async def test_entries_arriving_during_the_catch_up_are_neither_lost_nor_repeated() -> None:
    stream = MemoryStream()
    held = stream.add(bed("B1"))
    missed = stream.add(bed("B2"))
    async with running(WhiteboardHub(stream, options())) as hub:
        await settled(hub, missed)
        racing: list[str] = []

        async def entry_lands_while_the_gap_is_read() -> None:
            stream.on_range = None
            racing.append(stream.add(bed("B3")))
            await settled(hub, racing[0])

        stream.on_range = entry_lands_while_the_gap_is_read
        board = Board()
        async with connected(await hub.open(held, FULL), board):
            after = stream.add(bed("B4"))
            await board.until(lambda b: after in [m["cursor"] for m in b.of_type("delta")])

    assert [m["cursor"] for m in board.of_type("delta")] == [missed, racing[0], after]


async def test_a_cursor_older_than_the_stream_keeps_gets_a_resnapshot() -> None:
    stream = MemoryStream()
    held = stream.add(bed("B1"))
    for n in range(2, 6):
        stream.add(bed(f"B{n}"))
    stream.trim(keep=2)
    async with running(WhiteboardHub(stream, options())) as hub:
        board = Board()
        async with connected(await hub.open(held, FULL), board):
            await board.until(lambda b: bool(b.of_type("snapshot")))

    assert board.received[0] == {"type": "resnapshot", "reason": "cursor_expired"}
    assert board.received[1]["cursor"] == await stream.cursor()
    assert len(board.received[1]["data"]["beds"]) == 5


@pytest.mark.parametrize("cursor", ["99999999-0", "not-a-cursor", ""])
async def test_a_cursor_the_stream_never_held_gets_a_resnapshot(cursor: str) -> None:
    stream = MemoryStream()
    stream.add(bed("B1"))
    async with running(WhiteboardHub(stream, options())) as hub:
        board = Board()
        async with connected(await hub.open(cursor, FULL), board):
            await board.until(lambda b: bool(b.of_type("snapshot")))

    assert board.received[0] == {"type": "resnapshot", "reason": "cursor_unknown"}


async def test_a_board_too_far_behind_is_given_a_snapshot_instead_of_a_replay() -> None:
    stream = MemoryStream()
    held = stream.add(bed("B1"))
    for n in range(20):
        stream.add(bed("B2", "cleaning" if n % 2 else "available"))
    async with running(WhiteboardHub(stream, options(catch_up_limit=5, batch=4))) as hub:
        board = Board()
        async with connected(await hub.open(held, FULL), board):
            await board.until(lambda b: bool(b.of_type("snapshot")))

    assert board.received[0] == {"type": "resnapshot", "reason": "too_far_behind"}


async def test_a_stalled_board_is_cut_off_without_holding_back_the_others() -> None:
    stream = MemoryStream()
    async with running(WhiteboardHub(stream, options(queue_size=3))) as hub:
        slow, fast = Board(stalled=True), Board()
        slow_subscription = await hub.open(None, FULL)
        async with connected(slow_subscription, slow), connected(await hub.open(None, FULL), fast):
            sent = [stream.add(bed(f"B{n}")) for n in range(8)]
            await fast.until(lambda b: [m["cursor"] for m in b.of_type("delta")] == sent)
            assert slow.received == []
            assert slow_subscription.cut.is_set()
            assert hub.boards == 1
            slow.release()
            await slow.until(lambda b: b.closed is not None)

    assert slow.received[-1] == {"type": "resnapshot", "reason": "too_slow"}
    assert slow.closed == TRY_AGAIN_LATER


async def test_messages_waiting_for_a_board_go_out_together_in_one_frame() -> None:
    stream = MemoryStream()
    async with running(WhiteboardHub(stream, options())) as hub:
        # The board holds its snapshot's send open while five entries are fanned out.
        board = Board(stalled=True)
        async with connected(await hub.open(None, FULL), board):
            sent = [stream.add(bed(f"B{n}")) for n in range(5)]
            await settled(hub, sent[-1])
            board.release()
            await board.until(lambda b: len(b.of_type("delta")) == len(sent))

    assert [m["type"] for m in board.received] == ["snapshot"] + ["delta"] * len(sent)
    assert [m["cursor"] for m in board.of_type("delta")] == sent
    assert board.frames == 2


async def test_a_rebuilt_view_sends_every_board_a_resnapshot_and_the_new_picture() -> None:
    stream = MemoryStream()
    stream.add(bed("B1"))
    async with running(WhiteboardHub(stream, options())) as hub:
        board = Board()
        async with connected(await hub.open(None, FULL), board):
            stream.beds = {"B7": bed("B7")}
            marker = stream.add(resnapshot=True)
            await board.until(lambda b: len(b.of_type("snapshot")) == 2)
            after = stream.add(bed("B7", "closed"))
            await board.until(lambda b: bool(b.of_type("delta")))

    assert board.received[1] == {"type": "resnapshot", "reason": "view_rebuilt"}
    rebuilt = board.received[2]
    assert rebuilt["cursor"] == marker
    assert [b["bed_id"] for b in rebuilt["data"]["beds"]] == ["B7"]
    assert [m["cursor"] for m in board.of_type("delta")] == [after]


async def test_heartbeats_carry_the_newest_cursor() -> None:
    stream = MemoryStream()
    newest = stream.add(bed("B1"))
    async with running(WhiteboardHub(stream, options(heartbeat_s=0.01))) as hub:
        board = Board()
        async with connected(await hub.open(None, FULL), board):
            await board.until(lambda b: bool(b.of_type("heartbeat")))

    beat = board.of_type("heartbeat")[0]
    assert beat["cursor"] == newest
    assert beat["checked_at"] <= beat["at"]


async def test_the_feed_recovers_after_the_stream_fails() -> None:
    stream = MemoryStream()
    async with running(WhiteboardHub(stream, options(retry_s=0.01))) as hub:
        board = Board()
        async with connected(await hub.open(None, FULL), board):
            stream.fail_reads = 2
            after = stream.add(bed("B1"))
            await board.until(lambda b: bool(b.of_type("delta")))

    assert [m["cursor"] for m in board.of_type("delta")] == [after]


async def test_boards_connecting_at_one_cursor_share_one_encoded_snapshot() -> None:
    mirror = BoardMirror((5, 0), {"sites": [], "wards": [], "beds": [bed("B1")]})
    first = mirror.snapshot_message(FULL)
    assert mirror.snapshot_message(FULL) is first
    mirror.apply((6, 0), [{"kind": "bed", "bed": bed("B1", "closed")}, {"kind": "organisation"}])
    updated = orjson.loads(mirror.snapshot_message(FULL))
    assert updated["cursor"] == "6-0"
    assert updated["data"]["beds"] == [bed("B1", "closed")]


def plan(spell_id: str, discharged_at: str | None = None) -> JSON:
    return {
        "spell_id": spell_id,
        "listed": discharged_at is None,
        "ward_id": "W1",
        "sharing_objection": False,
        "initials": "AL",
        "discharged_at": discharged_at,
    }


def test_a_snapshot_keeps_the_last_day_and_a_half_of_discharges_for_the_day_s_count() -> None:
    planner = BoardScope(full_wards=None, capacity=True, plan_wards=None)
    mirror = BoardMirror((5, 0), {"sites": [], "wards": [], "beds": [], "discharges": []})
    went_home = [
        plan(spell_id, at)
        for spell_id, at in [
            ("S-OLD", "2026-11-01T05:00:00+00:00"),
            ("S-YESTERDAY", "2026-11-01T20:00:00+00:00"),
            ("S-TODAY", "2026-11-02T18:00:00+00:00"),
        ]
    ]
    mirror.apply((6, 0), [{"kind": "discharge", "discharge": plan("S-IN")}])
    mirror.apply((7, 0), [{"kind": "discharge", "discharge": item} for item in went_home])
    mirror.apply(
        (8, 0), [{"kind": "discharge", "discharge": plan("S-GONE-ELSEWHERE") | {"listed": False}}]
    )

    sent = orjson.loads(mirror.snapshot_message(planner))["data"]["discharges"]
    # Older than 36 hours before the latest discharge, and moved off the planned wards.
    assert sorted(item["spell_id"] for item in sent) == ["S-IN", "S-TODAY", "S-YESTERDAY"]
    # Of a patient gone, nothing but what counts the day.
    assert {item["spell_id"] for item in sent if "initials" in item} == {"S-IN"}


def test_cursors_compare_as_stream_ids_not_as_text() -> None:
    assert parse_cursor("10-0") == (10, 0) > (9, 5) == parse_cursor("9-5")
    assert parse_cursor("1700000000000-3") == (1700000000000, 3)
    assert parse_cursor("1-2-3") is None
    with pytest.raises(ValueError, match="queue_size"):
        HubOptions(queue_size=1)


def occupied(bed_id: str, ward_id: str) -> JSON:
    return {
        **bed(bed_id, "occupied", ward_id),
        "occupants": [{"initials": "AL", "sharing_objection": False}],
    }


async def test_each_board_is_sent_only_what_its_scope_may_see() -> None:
    stream = MemoryStream()
    stream.wards["W2"] = {"ward_id": "W2", "site_id": "S", "name": "W2"}
    stream.add(occupied("A1", "W1"), occupied("B1", "W2"))
    ward_staff = BoardScope(full_wards=frozenset({"W1"}), capacity=True)
    display = BoardScope(full_wards=frozenset({"W2"}), capacity=False)
    async with running(WhiteboardHub(stream, options())) as hub:
        nurse, wall = Board(), Board()
        async with (
            connected(await hub.open(None, ward_staff), nurse),
            connected(await hub.open(None, display), wall),
        ):
            moved = stream.add(occupied("A2", "W1"))
            await nurse.until(lambda b: bool(b.of_type("delta")))
            await wall.until(lambda b: bool(b.of_type("delta")))

    [nurse_snapshot] = nurse.of_type("snapshot")
    beds = {b["bed_id"]: b["occupants"] for b in nurse_snapshot["data"]["beds"]}
    assert beds == {"A1": [{"initials": "AL", "sharing_objection": False}], "B1": []}
    assert [w["ward_id"] for w in nurse_snapshot["data"]["wards"]] == ["W1", "W2"]
    [wall_snapshot] = wall.of_type("snapshot")
    assert [b["bed_id"] for b in wall_snapshot["data"]["beds"]] == ["B1"]
    assert [w["ward_id"] for w in wall_snapshot["data"]["wards"]] == ["W2"]
    assert nurse.bed_deltas() == ["A2"]
    # The wall display is told the cursor moved on, and nothing of the other ward's bed.
    [wall_delta] = wall.of_type("delta")
    assert (wall_delta["cursor"], wall_delta["deltas"]) == (moved, [])


async def test_a_board_resuming_from_its_cursor_gets_the_gap_as_its_scope_sees_it() -> None:
    stream = MemoryStream()
    stream.wards["W2"] = {"ward_id": "W2", "site_id": "S", "name": "W2"}
    held = stream.add(bed("A1"))
    missed = [stream.add(occupied("A2", "W1")), stream.add(occupied("B2", "W2"))]
    wall = BoardScope(full_wards=frozenset(), capacity=False, wall_wards=frozenset({"W2"}))
    async with running(WhiteboardHub(stream, options())) as hub:
        board = Board()
        async with connected(await hub.open(held, wall), board):
            await board.until(lambda b: len(b.of_type("delta")) == len(missed))

    assert [m["cursor"] for m in board.of_type("delta")] == missed
    assert board.bed_deltas() == ["B2"]
    [shown] = [d["bed"] for m in board.of_type("delta") for d in m["deltas"]]
    assert shown["occupants"] == [{"initials": "AL"}]


def with_spell(bed: JSON, spell_id: str) -> JSON:
    return {**bed, "occupants": [{**bed["occupants"][0], "spell_id": spell_id}]}


async def test_a_board_is_audited_for_each_patient_it_is_shown_once_and_never_told_spells() -> None:
    stream = MemoryStream()
    stream.add(with_spell(occupied("A1", "W1"), "S1"), with_spell(occupied("B1", "W2"), "S2"))
    ward_staff = BoardScope(full_wards=frozenset({"W1"}), capacity=True)
    shown: list[frozenset[str]] = []
    async with running(WhiteboardHub(stream, options())) as hub:
        nurse = Board()
        subscription = await hub.open(None, ward_staff)
        subscription.shown = shown.append
        async with connected(subscription, nurse):
            stream.add(with_spell(occupied("A2", "W1"), "S3"))
            stream.add(with_spell(occupied("A1", "W1"), "S1"))
            await nurse.until(lambda b: len(b.of_type("delta")) == 2)

    assert shown == [frozenset({"S1"}), frozenset({"S3"})], "S2's ward is not the nurse's"
    assert "spell_id" not in orjson.dumps(nurse.received).decode()


def feed(silent: bool) -> JSON:
    heard_at = "2026-11-02T08:00:00+00:00" if silent else None
    return {"name": "Worcestershire Acute ADT", "silent": silent, "heard_at": heard_at}


async def test_every_board_is_told_the_feeds_as_it_joins_and_again_only_when_they_change() -> None:
    stream = MemoryStream()
    cursor = stream.add(bed("B1"))
    judged = [feed(silent=False)]

    async def feeds() -> list[JSON]:
        return list(judged)

    hub = WhiteboardHub(stream, options(heartbeat_s=0.01), feeds)
    # A board that may see no ward's beds still learns which feeds are silent.
    no_beds = BoardScope(full_wards=frozenset(), capacity=False, wall_wards=frozenset({"W9"}))
    async with running(hub):
        early = Board()
        async with connected(await hub.open(None, FULL), early):
            await early.until(lambda b: len(b.of_type("heartbeat")) >= 3)
            judged[0] = feed(silent=True)
            await early.until(lambda b: len(b.of_type("feeds")) == 2)
            await early.until(lambda b: len(b.of_type("heartbeat")) >= 6)
            late, resumed = Board(), Board()
            async with (
                connected(await hub.open(None, no_beds), late),
                connected(await hub.open(cursor, FULL), resumed),
            ):
                await late.until(lambda b: bool(b.of_type("feeds")))
                await resumed.until(lambda b: bool(b.of_type("feeds")))

    assert [m["feeds"] for m in early.of_type("feeds")] == [[feed(False)], [feed(True)]]
    assert [m["type"] for m in late.received[:2]] == ["snapshot", "feeds"]
    assert late.of_type("feeds")[0]["feeds"] == [feed(True)]
    assert resumed.received[0] == {"type": "feeds", "feeds": [feed(True)]}

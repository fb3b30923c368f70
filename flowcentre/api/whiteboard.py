"""The whiteboard socket: a snapshot and its cursor, then every delta, to every board.

One ``WhiteboardHub`` per API process follows the Redis Stream of view deltas with a
blocking XREAD and keeps an in-process mirror of the board views, advanced by the same
entries it forwards. A board that connects is served the mirror's snapshot, encoded once
per cursor and shared by every board connecting before the next delta, so a thousand
boards cost one encoding and no Redis reads. Each entry is encoded once and offered to
every board's bounded queue without waiting; a board whose queue is full is cut off with
a resnapshot instruction, so a slow board never holds back the reader or the others.

A board that reconnects with its cursor gets the entries after it: it joins the fan-out
first and then reads the gap with XRANGE, and entries it already has are skipped by id,
so the hand-over neither loses nor repeats one. A cursor the stream no longer covers, or
never held, gets a resnapshot instruction and a fresh snapshot instead.

On each heartbeat the hub also judges the source feeds (``flowcentre.domain.feeds``)
against the clock on the log, and sends every board the feeds whenever one falls silent
or is heard again, and each board as it joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Protocol

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from flowcentre.api.auth import scope_of, signed_in_as
from flowcentre.api.deps import Access, AccessDep, BoardAuditDep, ReadsDep
from flowcentre.domain.board import RECENT_DISCHARGES, BoardScope
from flowcentre.domain.feeds import FeedConfiguration, judge
from flowcentre.store.reads import LiveReads

JSON = dict[str, Any]
EntryId = tuple[int, int]
START: EntryId = (0, 0)

log = logging.getLogger(__name__)

_ENTRY_ID = re.compile(r"(\d{1,20})-(\d{1,20})")

# WebSocket close code 1013, "try again later": the board reconnects and resnapshots.
TRY_AGAIN_LATER = 1013

# Close codes of this application (4000-4999), which a page acts on.
SIGN_IN_AGAIN = 4401
"""No session, or it has ended: the page asks the person to sign in."""
NOT_ALLOWED = 4403
"""The account may see no board: reconnecting will not help."""
ACCESS_CHANGED = 4409
"""The account's roles or wards changed: reconnect without a cursor, for a new snapshot."""

#: The most messages sent to a board in one frame.
FRAME_MAX_MESSAGES = 100


def parse_cursor(text: str) -> EntryId | None:
    """A stream entry id as a comparable pair, or None for anything that is not one."""
    match = _ENTRY_ID.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None


def format_cursor(entry: EntryId) -> str:
    return f"{entry[0]}-{entry[1]}"


def _entry_key(entry_id: str) -> EntryId:
    """The id of an entry read from the stream, which Redis always writes as ``ms-seq``."""
    key = parse_cursor(entry_id)
    if key is None:
        raise ValueError(f"stream entry id {entry_id!r} is not an entry id")
    return key


class DeltaSource(Protocol):
    """What the hub reads: ``flowcentre.store.reads.LiveReads`` provides it."""

    async def cursor(self) -> str: ...

    async def snapshot(self) -> tuple[str, JSON]: ...

    async def deltas_after(
        self, cursor: str, *, count: int = ..., block_ms: int | None = ...
    ) -> list[tuple[str, JSON]]: ...

    async def oldest_delta(self) -> str | None: ...


FeedStatuses = Callable[[], Awaitable[list[JSON]]]
"""The configured source feeds as boards are sent them, judged as of now."""


def feed_statuses(reads: LiveReads, configuration: FeedConfiguration, clock: str) -> FeedStatuses:
    """The configured feeds judged against ``clock``'s latest tick, from the view."""

    async def judged() -> list[JSON]:
        if not configuration.feeds:
            return []
        ticked = await reads.clock(clock)
        heard = await reads.feeds_heard()
        now = ticked.at if ticked else None
        return [status.view() for status in judge(configuration, heard, now)]

    return judged


class BoardSocket(Protocol):
    """The part of a WebSocket the hub's sender uses."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class HubOptions:
    queue_size: int = 256
    """Messages a board may fall behind by before it is cut off and told to resnapshot."""

    heartbeat_s: float = 5.0
    """Interval of heartbeats, which tell boards how fresh their data is."""

    block_ms: int = 1000
    """Longest one XREAD waits: also how stale a heartbeat's ``checked_at`` can be."""

    batch: int = 500
    """Stream entries read at a time, live or while catching a board up."""

    catch_up_limit: int = 5000
    """Entries a reconnecting board may replay; further behind, a snapshot is cheaper."""

    ready_timeout_s: float = 10.0
    """How long a connecting board waits for the first snapshot of the view to load."""

    cut_grace_s: float = 2.0
    """Time a board being cut off gets to take its resnapshot instruction before it is closed."""

    retry_s: float = 0.5
    """First pause after a failed read of Redis; it doubles up to ``retry_max_s``."""

    retry_max_s: float = 10.0

    recheck_s: float = 30.0
    """How often a board's session and access are checked again while it is connected."""

    clock_every_s: float | None = None
    """How often the clock on the log ticks, if this process knows: heartbeats tell boards,
    which then notice when the ticks stop reaching them (the event stream has stopped)."""

    def __post_init__(self) -> None:
        if self.queue_size < 2:
            # A rebuild replaces a board's queue with a notice and a snapshot.
            raise ValueError("queue_size must be at least 2")


def _encode(message: JSON) -> str:
    return orjson.dumps(message).decode()


def _now() -> datetime:
    return datetime.now(UTC)


def _resnapshot_notice(reason: str) -> str:
    return _encode({"type": "resnapshot", "reason": reason})


def _delta_message(entry_id: str, entry: JSON, scope: BoardScope) -> str:
    # Sent even when the scope leaves no delta: the cursor still moves on, so the board
    # can tell that it is up to date.
    return _encode(
        {
            "type": "delta",
            "cursor": entry_id,
            "event_id": entry.get("event_id"),
            "occurred_at": entry.get("occurred_at"),
            "deltas": scope.deltas(entry.get("deltas", [])),
        }
    )


def _delta_spells(entry: JSON, scope: BoardScope) -> frozenset[str]:
    deltas = entry.get("deltas", [])
    beds = (delta["bed"] for delta in deltas if delta.get("kind") == "bed")
    plans = (delta["discharge"] for delta in deltas if delta.get("kind") == "discharge")
    return scope.spells(beds, plans)


def _asks_resnapshot(entry: JSON) -> bool:
    return any(delta.get("kind") == "resnapshot" for delta in entry.get("deltas", []))


class BoardMirror:
    """The board views as of one stream entry: the snapshot every new board starts from."""

    def __init__(self, cursor: EntryId, data: JSON) -> None:
        self.cursor = cursor
        self._sites: dict[str, JSON] = {site["site_id"]: site for site in data["sites"]}
        self._wards: dict[str, JSON] = {ward["ward_id"]: ward for ward in data["wards"]}
        self._beds: dict[str, JSON] = {bed["bed_id"]: bed for bed in data["beds"]}
        self._discharges: dict[str, JSON] = {
            item["spell_id"]: item for item in data.get("discharges", [])
        }
        self._capacity: dict[str, JSON] = {pool["key"]: pool for pool in data.get("capacity", [])}
        self._alerts: dict[str, JSON] = {one["alert_id"]: one for one in data.get("alerts", [])}
        self._opel: dict[str, JSON] = {one["place"]: one for one in data.get("opel", [])}
        self._messages: dict[BoardScope, str] = {}
        self._spells: dict[BoardScope, frozenset[str]] = {}

    def apply(self, entry: EntryId, deltas: list[JSON]) -> None:
        # Deltas are whole records, so replacing by id is all there is to applying one.
        # Organisations are not part of a snapshot; boards get their deltas as they come.
        for delta in deltas:
            kind = delta.get("kind")
            if kind == "bed":
                self._beds[delta["bed"]["bed_id"]] = delta["bed"]
            elif kind == "ward":
                self._wards[delta["ward"]["ward_id"]] = delta["ward"]
            elif kind == "site":
                self._sites[delta["site"]["site_id"]] = delta["site"]
            elif kind == "discharge":
                item = delta["discharge"]
                if item["listed"]:
                    self._discharges[item["spell_id"]] = item
                elif item.get("discharged_at"):
                    # Kept a while, for boards to count the day's discharges.
                    self._discharges[item["spell_id"]] = item
                    self._forget_old_discharges()
                else:
                    self._discharges.pop(item["spell_id"], None)
            elif kind == "capacity":
                self._capacity[delta["capacity"]["key"]] = delta["capacity"]
            elif kind == "opel":
                self._opel[delta["opel"]["place"]] = delta["opel"]
            elif kind == "alert":
                alert = delta["alert"]
                if alert["status"] == "resolved":
                    self._alerts.pop(alert["alert_id"], None)
                else:
                    self._alerts[alert["alert_id"]] = alert
        self.cursor = entry
        self._messages.clear()
        self._spells.clear()

    def _forget_old_discharges(self) -> None:
        discharged = [
            (datetime.fromisoformat(item["discharged_at"]), spell_id)
            for spell_id, item in self._discharges.items()
            if not item["listed"]
        ]
        if not discharged:
            return
        since = max(discharged)[0] - RECENT_DISCHARGES
        for at, spell_id in discharged:
            if at < since:
                del self._discharges[spell_id]

    def snapshot_item(self, scope: BoardScope) -> _Item:
        spells = self._spells.get(scope)
        if spells is None:
            spells = self._spells[scope] = scope.spells(
                self._beds.values(), self._discharges.values()
            )
        return _Item(_Kind.SNAPSHOT, self.cursor, self.snapshot_message(scope), spells)

    def snapshot_message(self, scope: BoardScope) -> str:
        """The snapshot as ``scope`` sees it, encoded once per scope and cursor."""
        message = self._messages.get(scope)
        if message is None:
            data = scope.snapshot(
                list(self._sites.values()),
                list(self._wards.values()),
                list(self._beds.values()),
                list(self._discharges.values()),
                list(self._capacity.values()),
                list(self._alerts.values()),
                list(self._opel.values()),
            )
            message = self._messages[scope] = _encode(
                {"type": "snapshot", "cursor": format_cursor(self.cursor), "data": data}
            )
        return message


class _Kind(Enum):
    DELTA = "delta"
    SNAPSHOT = "snapshot"
    HEARTBEAT = "heartbeat"
    NOTICE = "notice"
    FEEDS = "feeds"
    CUT = "cut"


@dataclass(frozen=True, slots=True)
class _Item:
    """One message for one board; the text is shared by every board it is offered to."""

    kind: _Kind
    entry: EntryId
    text: str
    spells: frozenset[str] = frozenset()
    """The spells whose occupants the message shows the board: for the audit of reads."""


class Subscription:
    """One board's place in the fan-out: messages to send first, then its bounded queue."""

    def __init__(
        self, queue_size: int, initial: list[_Item], last_sent: EntryId, scope: BoardScope
    ) -> None:
        self.scope = scope
        self.initial = initial
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(queue_size)
        self.last_sent = last_sent
        self.cut = asyncio.Event()
        self.shown: Callable[[frozenset[str]], None] | None = None
        """Told of each spell whose occupant the board is shown for the first time."""
        self._seen: set[str] = set()

    def offer(self, item: _Item) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    def replace(self, items: list[_Item]) -> None:
        """Drop whatever is waiting: the items given supersede it."""
        while not self.queue.empty():
            self.queue.get_nowait()
        for item in items:
            self.queue.put_nowait(item)

    async def send(self, socket: BoardSocket) -> None:
        """Send until the board is cut off; a closed connection ends it with an exception.

        Messages already waiting when the board's sender wakes go out together in one
        frame: a board that has fallen behind costs the process one send for its backlog,
        not one per message, so a busy process catches its boards up instead of falling
        further behind. A snapshot always has a frame of its own.
        """
        waiting = deque(self.initial)
        self.initial = []
        while True:
            if not waiting:
                waiting.append(await self.queue.get())
            while len(waiting) < FRAME_MAX_MESSAGES and not self.queue.empty():
                waiting.append(self.queue.get_nowait())
            frame: list[str] = []
            while waiting and len(frame) < FRAME_MAX_MESSAGES:
                item = waiting.popleft()
                if item.kind is _Kind.CUT:
                    await _send_frame(socket, frame)
                    await socket.send_text(item.text)
                    await socket.close(TRY_AGAIN_LATER, "fell behind: take a new snapshot")
                    return
                if item.kind is _Kind.SNAPSHOT:
                    await _send_frame(socket, frame)
                    frame = []
                    # The snapshot's cursor wins even if lower: after a rebuild the stream
                    # restarts.
                    await socket.send_text(item.text)
                    self.last_sent = item.entry
                    self._note(item)
                elif (text := self._admit(item)) is not None:
                    frame.append(text)
                    self._note(item)
            await _send_frame(socket, frame)

    def _note(self, item: _Item) -> None:
        if item.spells and self.shown is not None and (fresh := item.spells - self._seen):
            self._seen |= fresh
            self.shown(frozenset(fresh))

    def _admit(self, item: _Item) -> str | None:
        """The text of a delta, heartbeat or notice if the board is to have it."""
        if item.kind is _Kind.DELTA:
            if item.entry <= self.last_sent:
                return None
            self.last_sent = item.entry
        elif item.kind is _Kind.HEARTBEAT and item.entry < self.last_sent:
            # A hub that has not yet read up to the board's own cursor cannot vouch for it.
            return None
        return item.text


async def _send_frame(socket: BoardSocket, texts: list[str]) -> None:
    if len(texts) == 1:
        await socket.send_text(texts[0])
    elif texts:
        await socket.send_text(f"[{','.join(texts)}]")


def frame_messages(frame: str | bytes) -> list[JSON]:
    """The messages of one frame from the server: one message, or an array of several."""
    document = orjson.loads(frame)
    return document if isinstance(document, list) else [document]


class HubNotReady(RuntimeError):
    """The view could not be read in time to give a board its first snapshot."""


class WhiteboardHub:
    """The one follower of the delta stream in this process, and its fan-out to boards."""

    def __init__(
        self,
        source: DeltaSource,
        options: HubOptions | None = None,
        feeds: FeedStatuses | None = None,
    ) -> None:
        self._source = source
        self.options = options or HubOptions()
        self._feeds = feeds
        self._feed_views: list[JSON] | None = None
        self._subscribers: set[Subscription] = set()
        self._mirror: BoardMirror | None = None
        self._ready = asyncio.Event()
        self._checked_at: datetime | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def boards(self) -> int:
        """Boards currently receiving deltas."""
        return len(self._subscribers)

    @property
    def cursor(self) -> str | None:
        """The newest entry this process has fanned out, once the view has loaded."""
        return format_cursor(self._mirror.cursor) if self._mirror else None

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow(), name="whiteboard-follow"),
            asyncio.create_task(self._beat(), name="whiteboard-heartbeat"),
        ]

    async def stop(self) -> None:
        # redis-py can swallow a cancellation that lands in a blocking read (redis-py
        # issue 2028, seen here in XREAD); the flag then ends the loop once that read
        # returns, at most block_ms later.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def wait_ready(self) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), self.options.ready_timeout_s)
        except TimeoutError:
            raise HubNotReady("the live view has not loaded; try again shortly") from None

    async def open(self, cursor: str | None, scope: BoardScope) -> Subscription:
        """Join the fan-out: from a snapshot, or from a cursor a board already holds. The
        board is sent what ``scope`` may see."""
        await self.wait_ready()
        if cursor is None:
            return self._attach_snapshot(None, scope)
        wanted = parse_cursor(cursor)
        if wanted is None:
            return self._attach_snapshot("cursor_unknown", scope)
        subscription, here = self._attach_at(wanted, scope)
        try:
            reason = await self._catch_up(subscription, wanted, here)
        except BaseException:
            self.close(subscription)
            raise
        if reason is None:
            # A board resuming from its cursor is told the feeds as one that starts afresh
            # is: what it held may have changed while it was away.
            subscription.initial.extend(self._feeds_items(scope))
            return subscription
        self.close(subscription)
        return self._attach_snapshot(reason, scope)

    def close(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def _loaded(self) -> BoardMirror:
        if self._mirror is None:
            raise HubNotReady("the live view has not loaded")
        return self._mirror

    def _attach_snapshot(self, reason: str | None, scope: BoardScope) -> Subscription:
        # Synchronous, so no entry can slip between the snapshot and the queue.
        mirror = self._loaded()
        initial = [] if reason is None else [_Item(_Kind.NOTICE, START, _resnapshot_notice(reason))]
        initial.append(mirror.snapshot_item(scope))
        initial.extend(self._feeds_items(scope))
        subscription = Subscription(self.options.queue_size, initial, mirror.cursor, scope)
        self._subscribers.add(subscription)
        return subscription

    def _attach_at(self, wanted: EntryId, scope: BoardScope) -> tuple[Subscription, EntryId]:
        """Join the fan-out now, so every entry after ``here`` is queued from this moment."""
        here = self._loaded().cursor
        subscription = Subscription(self.options.queue_size, [], wanted, scope)
        self._subscribers.add(subscription)
        return subscription, here

    async def _catch_up(
        self, subscription: Subscription, wanted: EntryId, here: EntryId
    ) -> str | None:
        """Load the entries between the board's cursor and the fan-out's, or say why not."""
        if wanted >= here:
            # This process has not read as far as the board: the queue will bring the
            # rest, unless the cursor is newer than anything the stream holds.
            newest = parse_cursor(await self._source.cursor())
            return None if newest is not None and wanted <= newest else "cursor_unknown"
        items: list[_Item] = []
        after = wanted
        while after < here:
            page = await self._source.deltas_after(format_cursor(after), count=self.options.batch)
            if not page:
                break
            for entry_id, entry in page:
                if _asks_resnapshot(entry):
                    return "view_rebuilt"
                after = _entry_key(entry_id)
                scope = subscription.scope
                message = _delta_message(entry_id, entry, scope)
                items.append(_Item(_Kind.DELTA, after, message, _delta_spells(entry, scope)))
            if len(items) > self.options.catch_up_limit:
                return "too_far_behind"
        # Trimming only ever removes the oldest entries, so if the oldest kept is still at
        # or before the board's cursor now, nothing after it was trimmed before it was read.
        oldest = await self._source.oldest_delta()
        oldest_id = parse_cursor(oldest) if oldest is not None else None
        if oldest_id is None or oldest_id > wanted:
            return "cursor_expired"
        subscription.initial = items
        return None

    async def _follow(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                if self._mirror is None:
                    await self._load()
                await self._read()
                failures = 0
            except Exception:
                failures += 1
                log.exception("whiteboard feed: reading the live view failed (%d)", failures)
                pause = self.options.retry_s * 2 ** min(failures - 1, 10)
                await asyncio.sleep(min(pause, self.options.retry_max_s))

    async def _load(self) -> None:
        cursor, data = await self._source.snapshot()
        self._mirror = BoardMirror(parse_cursor(cursor) or START, data)
        self._checked_at = _now()
        self._ready.set()

    async def _read(self) -> None:
        mirror = self._loaded()
        entries = await self._source.deltas_after(
            format_cursor(mirror.cursor), count=self.options.batch, block_ms=self.options.block_ms
        )
        self._checked_at = _now()
        for entry_id, entry in entries:
            if _asks_resnapshot(entry):
                # The reloaded snapshot is read after its cursor, so it covers this entry
                # and the rest of the batch.
                await self._reload()
                return
            entry_key = _entry_key(entry_id)
            mirror.apply(entry_key, entry.get("deltas", []))
            self._fan_out_entry(entry_key, entry_id, entry)
            # Lets every board that is keeping up take the entry before the next, so a
            # burst read in one go fills only the queues of boards that are really behind.
            await asyncio.sleep(0)

    async def _reload(self) -> None:
        self._ready.clear()
        await self._load()
        mirror = self._loaded()
        notice = _Item(_Kind.NOTICE, START, _resnapshot_notice("view_rebuilt"))
        for subscription in self._subscribers:
            scope = subscription.scope
            subscription.replace([notice, mirror.snapshot_item(scope), *self._feeds_items(scope)])

    def _fan_out(self, item: _Item) -> None:
        for subscription in list(self._subscribers):
            if not subscription.offer(item):
                self._cut(subscription)

    def _fan_out_entry(self, entry_key: EntryId, entry_id: str, entry: JSON) -> None:
        # Encoded once per scope: boards of the same wards and role share one text.
        items: dict[BoardScope, _Item] = {}
        for subscription in list(self._subscribers):
            scope = subscription.scope
            item = items.get(scope)
            if item is None:
                message = _delta_message(entry_id, entry, scope)
                spells = _delta_spells(entry, scope)
                item = items[scope] = _Item(_Kind.DELTA, entry_key, message, spells)
            if not subscription.offer(item):
                self._cut(subscription)

    def _cut(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        subscription.replace([_Item(_Kind.CUT, START, _resnapshot_notice("too_slow"))])
        subscription.cut.set()

    async def _beat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.options.heartbeat_s)
            if self._mirror is None or self._checked_at is None:
                continue
            message: dict[str, str | float] = {
                "type": "heartbeat",
                "cursor": format_cursor(self._mirror.cursor),
                "at": _now().isoformat(),
                "checked_at": self._checked_at.isoformat(),
            }
            if self.options.clock_every_s is not None:
                message["clock_every_s"] = self.options.clock_every_s
            self._fan_out(_Item(_Kind.HEARTBEAT, self._mirror.cursor, _encode(message)))
            await self._judge_feeds()

    async def _judge_feeds(self) -> None:
        """Tell every board the feeds when any has fallen silent or been heard again."""
        if self._feeds is None:
            return
        try:
            views = await self._feeds()
        except Exception:
            # The heartbeats stop vouching for the board too, so it says it is not live.
            log.warning("whiteboard feeds: judging the source feeds failed", exc_info=True)
            return
        if views == self._feed_views:
            return
        self._feed_views = views
        items: dict[BoardScope, _Item] = {}
        for subscription in list(self._subscribers):
            scope = subscription.scope
            if scope not in items:
                items[scope] = self._feeds_items(scope)[0]
            if not subscription.offer(items[scope]):
                self._cut(subscription)

    def _feeds_items(self, scope: BoardScope) -> list[_Item]:
        """The feeds as ``scope`` is shown them, once they have been judged."""
        if self._feed_views is None:
            return []
        deltas = scope.deltas([{"kind": "feed", "feed": one} for one in self._feed_views])
        feeds = [delta["feed"] for delta in deltas]
        return [_Item(_Kind.FEEDS, START, _encode({"type": "feeds", "feeds": feeds}))]


async def serve_board(
    socket: WebSocket,
    subscription: Subscription,
    grace_s: float,
    ended: Awaitable[tuple[int, str]],
) -> None:
    """Send to one board until it leaves, is cut off, or ``ended`` gives the code and reason
    to close it with (its access has ended or changed), listening for it going away."""
    sender = asyncio.create_task(_send(socket, subscription))
    listener = asyncio.create_task(_listen(socket))
    cut = asyncio.create_task(subscription.cut.wait())
    access = asyncio.ensure_future(ended)
    tasks = (sender, listener, cut, access)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if cut in done and not sender.done():
            # Its queue now holds only the instruction; a board stuck mid-send is closed
            # without it, and resnapshots when it reconnects without a usable cursor.
            await asyncio.wait({sender}, timeout=grace_s)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if not sender.cancelled() and (error := sender.exception()) is not None:
        log.error("whiteboard sender failed", exc_info=error)
    code, reason = TRY_AGAIN_LATER, "closing"
    if not access.cancelled() and access.exception() is None:
        code, reason = access.result()
    if WebSocketState.CONNECTED == socket.application_state == socket.client_state:
        # The close frame waits behind whatever a stuck board has not taken.
        with contextlib.suppress(WebSocketDisconnect, WebSocketDisconnected, TimeoutError):
            await asyncio.wait_for(socket.close(code, reason), grace_s)


async def _send(socket: WebSocket, subscription: Subscription) -> None:
    with contextlib.suppress(WebSocketDisconnect, WebSocketDisconnected):
        await subscription.send(socket)


async def _listen(socket: WebSocket) -> None:
    # Boards are read-only: anything they send is ignored; only their leaving matters.
    message = await socket.receive()
    while message["type"] != "websocket.disconnect":
        message = await socket.receive()


def hub_of(connection: HTTPConnection) -> WhiteboardHub:
    """The process's hub, which the app's lifespan starts."""
    hub = getattr(connection.app.state, "whiteboard", None)
    if not isinstance(hub, WhiteboardHub):
        raise RuntimeError("the whiteboard hub is not running: the app's lifespan starts it")
    return hub


router = APIRouter(tags=["whiteboard"])


@router.websocket("/ws/whiteboard")
async def whiteboard(
    websocket: WebSocket,
    hub: Annotated[WhiteboardHub, Depends(hub_of)],
    access: AccessDep,
    reads: ReadsDep,
    board_audit: BoardAuditDep,
    cursor: Annotated[
        str | None,
        Query(description="The cursor of the last message the board applied, to resume after it."),
    ] = None,
) -> None:
    # Accepted before refusing: a page cannot read why a handshake failed, but it can read
    # a close code.
    await websocket.accept()
    try:
        principal = await signed_in_as(websocket, access)
    except HTTPException as error:
        await websocket.close(TRY_AGAIN_LATER, str(error.detail))
        return
    if principal is None:
        await websocket.close(SIGN_IN_AGAIN, "sign in first")
        return
    scope = await scope_of(principal, access.policy, reads)
    if scope is None:
        await websocket.close(NOT_ALLOWED, "this account may see no board")
        return
    try:
        subscription = await hub.open(cursor, scope)
    except HubNotReady as error:
        await websocket.close(TRY_AGAIN_LATER, str(error))
        return
    subscription.shown = functools.partial(board_audit.shown, principal)
    ended = _access_ends(websocket, access, reads, scope, hub.options.recheck_s)
    try:
        await serve_board(websocket, subscription, hub.options.cut_grace_s, ended)
    finally:
        hub.close(subscription)


async def _access_ends(
    websocket: WebSocket, access: Access, reads: LiveReads, scope: BoardScope, every_s: float
) -> tuple[int, str]:
    """Check the board's session and grants again every ``every_s`` until one changes."""
    while True:
        await asyncio.sleep(every_s)
        try:
            principal = await signed_in_as(websocket, access)
            now = await scope_of(principal, access.policy, reads) if principal else None
        except Exception:
            # Redis or the access log unavailable for a moment: the board keeps its
            # session until the next check can tell.
            log.warning("re-checking a board's access failed", exc_info=True)
            continue
        if principal is None:
            return SIGN_IN_AGAIN, "the session has ended"
        if now != scope:
            return ACCESS_CHANGED, "access changed: take a new snapshot"

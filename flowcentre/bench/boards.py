"""The whiteboards of the fan-out measurement: ``python -m flowcentre.bench.boards``.

Many boards in one process of their own, so the API's CPU is measured apart from theirs.
Each connects to the whiteboard socket as a browser does (offering permessage-deflate),
takes its snapshot, then follows deltas, noting for every delivery its arrival time
minus the time in its cursor (the Redis stream id). A board has a problem if it could
not connect, was disconnected, was told to resnapshot, received an entry out of order,
or is missing any stream entry after its snapshot cursor.

It reports through files in ``--folder``: ``ready.json`` once every board has connected
(or failed to), then ``result.json`` after the bench has written the last cursor,
``{"until": "<ms-seq>"}``, as a line on its stdin. It gives up if its stdin closes, so
it never outlives the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import resource
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from flowcentre.api.whiteboard import frame_messages
from flowcentre.heap import freeze_start_up_objects

EntryId = tuple[int, int]
Entries = list[tuple[bytes, dict[bytes, bytes]]]

#: Handshakes in flight at once: a thousand at once would measure the accept queue.
CONNECT_CONCURRENCY = 50
CONNECT_TIMEOUT_S = 60.0
#: After the last entry was written, boards still receiving are waited for; once none has
#: received anything for DRAIN_STALL_S, or after DRAIN_LIMIT_S, whatever is missing is missed.
DRAIN_STALL_S = 10.0
DRAIN_LIMIT_S = 120.0
CLOSE_TIMEOUT_S = 10.0
#: Descriptors beyond one per board: the interpreter, Redis, logs.
SPARE_FILES = 256
# A snapshot of the whole county is a few hundred kilobytes, more than the default limit.
_MAX_MESSAGE = 64 * 1024 * 1024
_POLL_S = 0.05


def entry_id(cursor: str) -> EntryId:
    milliseconds, _, sequence = cursor.partition("-")
    return int(milliseconds), int(sequence)


@dataclass(slots=True)
class _Board:
    start: EntryId = (0, 0)
    last: EntryId = (0, 0)
    deltas: int = 0
    problem: str | None = None


def raise_open_files(wanted: int) -> None:
    """Raise this process's soft open-files limit to ``wanted`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


async def _open(
    url: str, cookie: str, board: _Board, gate: asyncio.Semaphore
) -> ClientConnection | None:
    async with gate:
        try:
            ws = await connect(
                url,
                max_size=_MAX_MESSAGE,
                open_timeout=CONNECT_TIMEOUT_S,
                additional_headers={"Cookie": cookie},
            )
        except (OSError, TimeoutError, WebSocketException) as error:
            board.problem = f"could not connect: {type(error).__name__}"
            return None
        try:
            first = orjson.loads(await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT_S))
        except (TimeoutError, WebSocketException) as error:
            first = {"type": type(error).__name__}
    if first.get("type") != "snapshot":
        board.problem = f"no snapshot on connecting ({first.get('type')})"
        await ws.close()
        return None
    board.start = board.last = entry_id(first["cursor"])
    return ws


async def _follow(
    ws: ClientConnection, board: _Board, delays: array[float], stopping: asyncio.Event
) -> None:
    try:
        async for frame in ws:
            arrived_ms = time.time() * 1000
            for document in frame_messages(frame):
                kind = document.get("type")
                if kind == "delta":
                    entry = entry_id(document["cursor"])
                    delays.append(arrived_ms - entry[0])
                    if entry <= board.last:
                        board.problem = board.problem or "entry repeated or out of order"
                    board.last = entry
                    board.deltas += 1
                elif kind == "resnapshot":
                    reason = document.get("reason")
                    board.problem = board.problem or f"told to resnapshot: {reason}"
    except ConnectionClosed:
        pass
    if not stopping.is_set():
        board.problem = board.problem or "disconnected"


def _write(path: Path, document: dict[str, Any]) -> None:
    # Written whole and then renamed, so the bench never reads half a file.
    partial = path.with_suffix(".partial")
    partial.write_bytes(orjson.dumps(document))
    partial.replace(path)


async def _serve_boards(args: argparse.Namespace) -> None:
    raise_open_files(args.clients + SPARE_FILES)
    folder = Path(args.folder)
    boards = [_Board() for _ in range(args.clients)]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    sockets = await asyncio.gather(*(_open(args.url, args.cookie, board, gate) for board in boards))
    delays: array[float] = array("d")
    stopping = asyncio.Event()
    followers = [
        asyncio.create_task(_follow(ws, board, delays, stopping))
        for ws, board in zip(sockets, boards, strict=True)
        if ws is not None
    ]
    # A collection stalling this process would count as delay on every board. The
    # connections live for the whole measurement, which is this process's life.
    freeze_start_up_objects()
    _write(folder / "ready.json", {"connected": len(followers)})
    cpu_before, wall_before = _cpu_now(), time.monotonic()

    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise SystemExit("the bench went away")
    until = entry_id(orjson.loads(line)["until"])
    deadline = time.monotonic() + DRAIN_LIMIT_S
    progress_at, received = time.monotonic(), len(delays)
    while any(board.last < until for board in boards if board.problem is None):
        now = time.monotonic()
        if len(delays) > received:
            progress_at, received = now, len(delays)
        if now - progress_at > DRAIN_STALL_S or now > deadline:
            break
        await asyncio.sleep(_POLL_S)
    cpu_share = (_cpu_now() - cpu_before) / (time.monotonic() - wall_before)
    stopping.set()

    redis = Redis.from_url(args.redis_url)
    try:
        entries = cast(Entries, await redis.xrange(args.stream, max=f"{until[0]}-{until[1]}"))
    finally:
        await redis.aclose()
    ids = sorted(entry_id(raw_id.decode()) for raw_id, _ in entries)
    for board in boards:
        expected = len(ids) - bisect.bisect_right(ids, board.start)
        if board.problem is None and (board.deltas != expected or board.last != until):
            board.problem = "missed entries"
    await _close_all([ws for ws in sockets if ws is not None])
    for follower in followers:
        follower.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    problems = Counter(board.problem for board in boards if board.problem is not None)
    starts = [board.start for board, ws in zip(boards, sockets, strict=True) if ws is not None]
    _write(
        folder / "result.json",
        {
            "clients": len(boards),
            "dropped": sum(problems.values()),
            "problems": dict(problems),
            "delays_ms": list(delays),
            "entries": len(ids) - bisect.bisect_right(ids, min(starts, default=until)),
            "cpu_share": cpu_share,
        },
    )


async def _close_all(sockets: list[ClientConnection]) -> None:
    closing = [asyncio.create_task(ws.close()) for ws in sockets]
    if closing:
        await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
    for task in closing:
        task.cancel()
    await asyncio.gather(*closing, return_exceptions=True)


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Whiteboard clients for flowcentre bench.")
    parser.add_argument("--url", required=True, help="the whiteboard socket")
    parser.add_argument(
        "--cookie-file",
        type=lambda path: Path(path).read_text(encoding="utf-8").strip(),
        dest="cookie",
        required=True,
        help="a file holding the session cookie boards send",
    )
    parser.add_argument("--clients", type=int, required=True, help="boards to connect")
    parser.add_argument("--redis-url", required=True, help="Redis holding the delta stream")
    parser.add_argument("--stream", required=True, help="key of the delta stream")
    parser.add_argument("--folder", required=True, help="where ready.json and result.json go")
    asyncio.run(_serve_boards(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

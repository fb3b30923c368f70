"""Measurement 2, freshness: how long after an event is sent a whiteboard shows it.

A worker and an API process serve one board connected over the real WebSocket. The
county's registry is applied first; then its traffic is published at a steady rate, and
each event's latency is the arrival of the delta carrying its id at the board minus the
moment the producer handed it to the Kafka client, both by this host's ``time.time()``.

Each latency is also split at the worker's write to the delta stream (the time in the
entry's id), into the part before it (broker and worker) and the part after (the API).

An event that changes nothing a board shows still gets a delta entry if it changed a
record; one that changed nothing at all gets none. Those are counted apart, by reading
the delta stream afterwards, and so is any event whose entry exists but never reached
the board (which should never happen).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import cast

import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from flowcentre.api.whiteboard import frame_messages
from flowcentre.bench.harness import (
    POLL_S,
    START_TIMEOUT_S,
    Bench,
    BenchError,
    BoardPipeline,
    Figures,
    History,
    board_connection,
    board_pipeline,
    cpu_seconds,
    publish_paced,
    wait_applied,
)
from flowcentre.bench.stats import percentile
from flowcentre.config import Settings
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.reads import Entries

#: How long deltas already in the stream may take to reach the board once all is applied.
DRAIN_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class _Arrival:
    at: float
    """time.time() when the delta reached the board."""
    written_ms: int
    """When the worker wrote it: the millisecond part of its stream id."""


async def _receive(ws: ClientConnection, arrived: dict[str, _Arrival], told: list[str]) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for frame in ws:
            now = time.time()
            for document in frame_messages(frame):
                kind = document.get("type")
                if kind == "delta":
                    event_id = document.get("event_id")
                    if isinstance(event_id, str) and event_id not in arrived:
                        written_ms = int(str(document["cursor"]).partition("-")[0])
                        arrived[event_id] = _Arrival(now, written_ms)
                elif kind == "resnapshot":
                    told.append(str(document.get("reason")))


async def _stream_event_ids(redis: Redis, space: Settings) -> set[str]:
    entries = cast(Entries, await redis.xrange(Keyspace(space.redis_prefix).deltas))
    ids: set[str] = set()
    for _, fields in entries:
        event_id = orjson.loads(fields[b"d"]).get("event_id")
        if isinstance(event_id, str):
            ids.add(event_id)
    return ids


async def _follow_one_board(
    bench: Bench, history: History, pipeline: BoardPipeline, seconds: float, rate: float
) -> Figures:
    space, redis, processes = pipeline.space, pipeline.redis, pipeline.processes
    traffic = history.traffic(round(seconds * rate))
    sent_at: dict[str, float] = {}
    arrived: dict[str, _Arrival] = {}
    told: list[str] = []
    async with board_connection(space, pipeline.cookie) as ws:
        if orjson.loads(await ws.recv()).get("type") != "snapshot":
            raise BenchError("the board's first message was not a snapshot")
        receiver = asyncio.create_task(_receive(ws, arrived, told))
        try:
            watch_cpu, began = cpu_seconds(pipeline.watch.pid), time.monotonic()
            published = await publish_paced(
                bench.bootstrap, space.events_topic, traffic, rate, sent_at
            )
            await wait_applied(
                bench, redis, space, published, watch=processes, timeout_s=START_TIMEOUT_S
            )
            watch_share = (cpu_seconds(pipeline.watch.pid) - watch_cpu) / (time.monotonic() - began)
            changed = (await _stream_event_ids(redis, space)) & sent_at.keys()
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while not changed <= arrived.keys() and time.monotonic() < deadline:
                if receiver.done():
                    raise BenchError("the API closed the board's connection")
                await asyncio.sleep(POLL_S)
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
    if told:
        raise BenchError(f"the board was told to resnapshot ({', '.join(told)})")
    delivered = [(sent_at[e] * 1000, arrived[e]) for e in changed if e in arrived]
    latencies = [arrival.at * 1000 - sent for sent, arrival in delivered]
    # Where the time goes: producer to the worker's write, then the write to the board.
    to_stream = [arrival.written_ms - sent for sent, arrival in delivered]
    to_board = [arrival.at * 1000 - arrival.written_ms for _, arrival in delivered]
    return {
        "freshness_events": len(traffic),
        "freshness_rate_per_s": rate,
        "freshness_deltas": len(latencies),
        "freshness_unchanged": len(traffic) - len(changed),
        "freshness_missed": len(changed - arrived.keys()),
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p99_ms": percentile(latencies, 0.99),
        "latency_max_ms": max(latencies, default=float("nan")),
        "latency_to_stream_p50_ms": percentile(to_stream, 0.50),
        "latency_to_stream_p99_ms": percentile(to_stream, 0.99),
        "latency_stream_to_board_p50_ms": percentile(to_board, 0.50),
        "latency_stream_to_board_p99_ms": percentile(to_board, 0.99),
        "freshness_watch_cpu_share": watch_share,
    }


async def measure_freshness(bench: Bench, history: History, seconds: float, rate: float) -> Figures:
    async with board_pipeline(bench, "freshness", history) as pipeline:
        figures = await _follow_one_board(bench, history, pipeline, seconds, rate)
        for child in pipeline.processes:
            child.check()
    return figures

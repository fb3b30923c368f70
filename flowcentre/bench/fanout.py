"""Measurement 3, fan-out: many whiteboards on one API process, all kept current.

A worker and one API process serve the county; the boards connect from a client process
of their own (``flowcentre.bench.boards``), so the CPU the API spends is its own. Once
every board holds its snapshot, the county's traffic is published at a steady rate
through the worker. Each delivery's delay is its arrival at a board minus the time in its
cursor, the Redis stream id the worker's write was given, so it covers the API's part
alone: reading the stream, encoding, and sending to every board. The p99 is over every
delivery to every board.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import orjson

from flowcentre.bench.boards import (
    CONNECT_TIMEOUT_S,
    DRAIN_LIMIT_S,
    SPARE_FILES,
    raise_open_files,
)
from flowcentre.bench.harness import (
    START_TIMEOUT_S,
    Bench,
    BenchError,
    BoardPipeline,
    Child,
    Figures,
    History,
    board_pipeline,
    board_url,
    cpu_seconds,
    newest_delta,
    publish_paced,
    wait_applied,
    wait_until,
)
from flowcentre.bench.stats import percentile
from flowcentre.store.keyspace import Keyspace

log = logging.getLogger(__name__)


#: Time the boards' process has, after its wait for the last entry, to close and report.
CLOSE_MARGIN_S = 60.0
#: Room for the client process to start, and for each board's handshake and snapshot.
_CONNECT_PER_BOARD_S = 0.1


async def _report(folder: Path, name: str, watch: list[Child], timeout_s: float) -> Any:
    path = folder / name

    async def written() -> bool:
        return path.exists()

    await wait_until(written, watch=watch, timeout_s=timeout_s, what=f"the boards' {name}")
    return orjson.loads(path.read_bytes())


async def _run_boards(
    bench: Bench,
    history: History,
    pipeline: BoardPipeline,
    clients: int,
    seconds: float,
    rate: float,
) -> Figures:
    space, redis, worker, api = pipeline.space, pipeline.redis, pipeline.worker, pipeline.api
    folder = bench.workdir / "boards"
    folder.mkdir()
    cookie_file = folder / "cookie"
    cookie_file.write_text(pipeline.cookie, encoding="utf-8")
    # The API holds a socket per board and inherits this process's limit.
    raise_open_files(clients + SPARE_FILES)
    boards = bench.start(
        "boards",
        [
            "-m",
            "flowcentre.bench.boards",
            "--url",
            board_url(space),
            "--cookie-file",
            str(cookie_file),
            "--clients",
            str(clients),
            "--redis-url",
            bench.redis_url,
            "--stream",
            Keyspace(space.redis_prefix).deltas,
            "--folder",
            str(folder),
        ],
        space,
        stdin_pipe=True,
    )
    watch = [worker, api, pipeline.watch, boards]
    connect_timeout = CONNECT_TIMEOUT_S + clients * _CONNECT_PER_BOARD_S
    ready = await _report(folder, "ready.json", watch, connect_timeout)
    api_cpu, began = cpu_seconds(api.pid), time.monotonic()
    watch_cpu = cpu_seconds(pipeline.watch.pid)
    traffic = history.traffic(round(seconds * rate))
    published = await publish_paced(bench.bootstrap, space.events_topic, traffic, rate)
    await wait_applied(bench, redis, space, published, watch=watch, timeout_s=START_TIMEOUT_S)
    until = await newest_delta(redis, space)
    boards.stdin.write(orjson.dumps({"until": until}) + b"\n")
    boards.stdin.flush()
    result = await _report(folder, "result.json", watch, DRAIN_LIMIT_S + CLOSE_MARGIN_S)
    api_used = cpu_seconds(api.pid) - api_cpu
    elapsed = time.monotonic() - began
    api_share = api_used / elapsed
    watch_share = (cpu_seconds(pipeline.watch.pid) - watch_cpu) / elapsed
    bench.stop(boards)
    delays: list[float] = result["delays_ms"]
    if result["problems"]:
        log.warning("fan-out: boards with problems: %s", result["problems"])
    return {
        "fanout_clients": clients,
        "fanout_connected": ready["connected"],
        "fanout_rate_per_s": rate,
        "fanout_entries": result["entries"],
        "fanout_deliveries": len(delays),
        "fanout_p50_ms": percentile(delays, 0.50),
        "fanout_p99_ms": percentile(delays, 0.99),
        "fanout_max_ms": max(delays, default=math.nan),
        "fanout_dropped": result["dropped"],
        "fanout_problems": result["problems"],
        "fanout_api_cpu_share": api_share,
        # Unlike the delays, this does not grow when something else takes the cores.
        "fanout_api_cpu_us_per_delivery": api_used / max(len(delays), 1) * 1e6,
        "fanout_boards_cpu_share": result["cpu_share"],
        "fanout_watch_cpu_share": watch_share,
    }


async def measure_fanout(
    bench: Bench, history: History, clients: int, seconds: float, rate: float
) -> Figures:
    if clients < 1:
        raise BenchError("the fan-out needs at least one client")
    async with board_pipeline(bench, "fanout", history) as pipeline:
        return await _run_boards(bench, history, pipeline, clients, seconds, rate)

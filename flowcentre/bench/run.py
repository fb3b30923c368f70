"""``flowcentre bench``: every measurement in one run, then the table and the JSON.

The sizes of a run are its plan: the full plan holds the targets' own conditions (a year
replayed, a thousand boards); ``--quick`` shrinks every measurement without skipping any,
and single sizes can be set for a still smaller run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowcentre.bench.chromium import require_browser
from flowcentre.bench.fanout import measure_fanout
from flowcentre.bench.freshness import measure_freshness
from flowcentre.bench.harness import Bench, BenchError, Figures, simulate_history
from flowcentre.bench.replay import measure_replay
from flowcentre.bench.report import KEYS, machine, table, write_json
from flowcentre.bench.throughput import measure_throughput
from flowcentre.config import Settings
from flowcentre.heap import freeze_start_up_objects

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    mode: str
    throughput_events: int
    freshness_seconds: float
    freshness_rate: float
    fanout_clients: int
    fanout_seconds: float
    fanout_rate: float
    replay_days: float
    ui_loads: int
    """Page loads of the county's view in Chromium; its first render is their median."""
    ui_fill_events: int
    """Traffic applied before the pages open, so the county's beds are occupied."""
    ui_seconds: float
    ui_rate: float


#: The county's first three weeks from empty beds: 826 of its 1,164 beds occupied, where
#: it holds 850 to 970 in the weeks after. The board's snapshot (occupants, discharge
#: plans) grows with its patients, so its pages are timed on a county that has filled.
FILL_EVENTS = 20_000

FULL = Plan(
    mode="full",
    throughput_events=100_000,
    freshness_seconds=60,
    freshness_rate=200,
    fanout_clients=1000,
    fanout_seconds=20,
    fanout_rate=20,
    replay_days=365,
    ui_loads=5,
    ui_fill_events=FILL_EVENTS,
    ui_seconds=20,
    ui_rate=20,
)
QUICK = dataclasses.replace(
    FULL,
    mode="quick",
    throughput_events=20_000,
    freshness_seconds=10,
    fanout_clients=200,
    fanout_seconds=10,
    replay_days=30,
    ui_loads=3,
    ui_seconds=10,
)


def plan_from_args(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    if args.events is not None:
        plan = dataclasses.replace(plan, throughput_events=args.events)
    if args.seconds is not None:
        plan = dataclasses.replace(
            plan,
            freshness_seconds=args.seconds,
            fanout_seconds=args.seconds,
            ui_seconds=args.seconds,
        )
    if args.clients is not None:
        plan = dataclasses.replace(plan, fanout_clients=args.clients)
    if args.replay_days is not None:
        plan = dataclasses.replace(plan, replay_days=args.replay_days)
    return plan


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _timed(name: str, measurement: Awaitable[Figures]) -> Figures:
    started = time.monotonic()
    figures = await measurement
    log.info("bench: %s measured in %.1f s: %s", name, time.monotonic() - started, figures)
    return figures


async def _measure(bench: Bench, plan: Plan) -> Figures:
    # Before the long measurements: without a browser the run could not finish.
    require_browser()
    # Playwright is a development dependency, imported once it is known to be installed.
    from flowcentre.bench.ui import measure_ui

    began = time.monotonic()
    traffic = max(
        plan.throughput_events,
        round(plan.freshness_seconds * plan.freshness_rate),
        round(plan.fanout_seconds * plan.fanout_rate),
        plan.ui_fill_events + round(plan.ui_seconds * plan.ui_rate),
    )
    history = simulate_history(plan.replay_days, traffic)
    # The simulated year is millions of objects: a collection walking them would stall
    # the boards this process times, and be measured as the pipeline's delay.
    freeze_start_up_objects()
    log.info("bench: simulated %d events in %.1f s", len(history.records), time.monotonic() - began)
    results: dict[str, Any] = {}
    results |= await _timed(
        "throughput", measure_throughput(bench, history, plan.throughput_events)
    )
    results |= await _timed(
        "freshness",
        measure_freshness(bench, history, plan.freshness_seconds, plan.freshness_rate),
    )
    results |= await _timed(
        "fan-out",
        measure_fanout(bench, history, plan.fanout_clients, plan.fanout_seconds, plan.fanout_rate),
    )
    results |= await _timed(
        "board in Chromium",
        measure_ui(
            bench, history, plan.ui_loads, plan.ui_fill_events, plan.ui_seconds, plan.ui_rate
        ),
    )
    results |= await _timed("rebuild", measure_replay(bench, history))
    return results


def run_bench(settings: Settings, plan: Plan, json_path: Path | None) -> int:
    """Run every measurement, print the table, write the JSON if asked; 0 once all are taken.

    A missed target does not fail the run: the figures are the product, and the table
    says which targets they meet.
    """
    # The Kafka clients narrate every connection at INFO, which would bury the progress.
    for chatty in ("kafka", "aiokafka"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # SIGTERM unwinds like Ctrl-C, so the processes and servers started are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.monotonic()
    date = datetime.now(UTC)
    host = machine()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="flowcentre-bench-") as workdir,
            Bench(settings, Path(workdir)) as bench,
        ):
            figures = asyncio.run(_measure(bench, plan))
    except BenchError as error:
        print(f"flowcentre bench: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("flowcentre bench: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    results: dict[str, Any] = {
        "mode": plan.mode,
        "date": date.isoformat(timespec="seconds"),
        "machine": host,
        "plan": dataclasses.asdict(plan),
        **figures,
        **bench.memory.figures(),
        "duration_s": time.monotonic() - began,
    }
    missing = [key for key in KEYS if key not in results]
    if missing:
        raise RuntimeError(f"the bench produced no {', '.join(missing)}")
    print(f"\nflowcentre bench ({plan.mode}, {results['duration_s']:.0f} s)\n")
    print(table(results))
    if json_path is not None:
        write_json(json_path, results)
        print(f"\nWritten to {json_path}")
    return 0

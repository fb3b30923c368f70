"""The bench's output: a table of each figure beside its target, and the figures as JSON."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Results = Mapping[str, Any]

YEAR_DAYS = 365
FANOUT_TARGET_CLIENTS = 1000


def _met(holds: bool) -> str:
    return "met" if holds else "missed"


def _fanout_verdict(holds: bool, results: Results) -> str:
    clients = int(results["fanout_clients"])
    if holds and clients < FANOUT_TARGET_CLIENTS:
        return f"met at {clients:,} boards (the target is at {FANOUT_TARGET_CLIENTS:,})"
    return _met(holds)


def _replay_allowance(results: Results) -> float:
    """The year's 60 s, pro rata for a shorter history."""
    return 60.0 * min(float(results["replay_days"]), YEAR_DAYS) / YEAR_DAYS


def _replay_target(results: Results) -> str:
    if float(results["replay_days"]) >= YEAR_DAYS:
        return "<= 60 s for a year"
    return f"<= 60 s a year ({_replay_allowance(results):.1f} s pro rata)"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    unit: str
    decimals: int
    target: Callable[[Results], str] | None = None
    verdict: Callable[[float, Results], str] | None = None


ROWS = (
    Row("pipeline_events_per_s", "Pipeline throughput (flowcentre worker)", "events/s", 0),
    Row("raw_events_per_s", "Raw ceiling, same broker, Redis and writes", "events/s", 0),
    Row("pipeline_writes_per_event", "Redis writes per event (measured)", "", 2),
    Row("faust_events_per_s", "Faust alone: same batches, nothing applied", "events/s", 0),
    Row("faust_ratio", "Faust alone / raw: the ratio's reach", "", 2),
    Row(
        "throughput_ratio",
        "Throughput ratio, pipeline / raw",
        "",
        2,
        lambda _: ">= 0.5",
        lambda value, _: _met(value >= 0.5),
    ),
    Row("latency_p50_ms", "Freshness p50, send to board", "ms", 1),
    Row(
        "latency_p99_ms",
        "Freshness p99, send to board",
        "ms",
        1,
        lambda _: "<= 100 ms",
        lambda value, _: _met(value <= 100),
    ),
    Row("latency_max_ms", "Freshness max, send to board", "ms", 1),
    Row("freshness_watch_cpu_share", "Alert watch CPU in the freshness run", "cores", 2),
    Row("fanout_clients", "Fan-out boards on one API process", "", 0),
    Row(
        "fanout_p99_ms",
        "Fan-out p99, stream write to board",
        "ms",
        1,
        lambda _: "<= 250 ms at 1,000 boards",
        lambda value, results: _fanout_verdict(value <= 250, results),
    ),
    Row(
        "fanout_dropped",
        "Fan-out boards dropped",
        "",
        0,
        lambda _: "0 at 1,000 boards",
        lambda value, results: _fanout_verdict(value == 0, results),
    ),
    Row("fanout_watch_cpu_share", "Alert watch CPU in the fan-out run", "cores", 2),
    Row("ui_beds", "Board in Chromium: beds on the county view", "", 0),
    Row(
        "ui_render_ms",
        "Board in Chromium: page load to county view drawn",
        "ms",
        0,
        lambda _: "< 1,000 ms",
        lambda value, _: _met(value < 1000),
    ),
    Row(
        "ui_delta_apply_ms",
        "Board in Chromium: delta taken in and drawn, p50",
        "ms",
        1,
        lambda _: "< 16 ms (a frame)",
        lambda value, _: _met(value < 16),
    ),
    Row(
        "ui_delta_apply_p99_ms",
        "Board in Chromium: delta taken in and drawn, p99",
        "ms",
        1,
        lambda _: "< 16 ms (a frame)",
        lambda value, _: _met(value < 16),
    ),
    Row("replay_events", "Rebuild: events replayed", "", 0),
    Row(
        "replay_s",
        "Rebuild time",
        "s",
        1,
        _replay_target,
        lambda value, results: _met(value <= _replay_allowance(results)),
    ),
    Row(
        "worker_rss_mb",
        "Worker peak RSS",
        "MiB",
        0,
        lambda _: "< 300 MiB",
        lambda value, _: _met(value < 300),
    ),
    Row("api_rss_mb", "API peak RSS", "MiB", 0),
)

#: Every figure a run must produce.
KEYS = tuple(row.key for row in ROWS)


def verdicts(results: Results) -> dict[str, str]:
    judged: dict[str, str] = {}
    for row in ROWS:
        if row.verdict is None:
            continue
        value = float(results[row.key])
        judged[row.key] = "no figure" if math.isnan(value) else row.verdict(value, results)
    return judged


def _number(value: float, decimals: int, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{decimals}f}" + (f" {unit}" if unit else "")


def table(results: Results) -> str:
    judged = verdicts(results)
    lines = [
        (
            row.label,
            _number(float(results[row.key]), row.decimals, row.unit),
            row.target(results) if row.target else "",
            judged.get(row.key, ""),
        )
        for row in ROWS
    ]
    header = ("figure", "measured", "target", "")
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(3)]
    rule = ("-" * widths[0], "-" * widths[1], "-" * widths[2], "")
    rows = [header, rule, *lines]
    return "\n".join(
        f"{label:<{widths[0]}}  {value:>{widths[1]}}  {goal:<{widths[2]}}  {verdict}".rstrip()
        for label, value, goal, verdict in rows
    )


def _proc_line(path: str, prefix: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line for line in lines if line.startswith(prefix)), None)


def _cpu_pressure() -> float:
    """Share of the last minute in which something was ready to run but had no core."""
    line = _proc_line("/proc/pressure/cpu", "some ")
    fields = dict(field.split("=") for field in line.split()[1:]) if line else {}
    return float(fields.get("avg60", "nan")) / 100


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy it already was."""
    model = _proc_line("/proc/cpuinfo", "model name")
    return {
        "cores": os.cpu_count(),
        "cpu": model.partition(":")[2].strip() if model else "unknown",
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Taken before the run: anything else running competes for the same cores, and
        # a high figure here means the measurements understate the product.
        "load_average_1min_before": os.getloadavg()[0],
        "cpu_pressure_1min_before": _cpu_pressure(),
    }


def write_json(path: Path, results: Results) -> None:
    document = {**results, "verdicts": verdicts(results)}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")

"""``flowcentre bench`` runs every measurement for real and reports every figure.

The run is shrunk to seconds; no figure is judged here, since timings belong to the bench
and not to the test suite.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from flowcentre.bench.report import KEYS

MARK = "BENCH_SMOKE_TEST_MARK"


@pytest.mark.timeout(300)
def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    # Without FLOWCENTRE_* settings the bench starts, and stops, its own broker and Redis.
    # Every process it starts inherits the mark, so any left behind can be found.
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCENTRE_")}
    env[MARK] = mark
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowcentre",
            "bench",
            "--quick",
            "--events",
            "2000",
            "--seconds",
            "2",
            "--clients",
            "5",
            "--replay-days",
            "2",
            "--json",
            str(output),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = orjson.loads(output.read_bytes())
    for key in KEYS:
        value = results.get(key)
        assert isinstance(value, int | float), f"{key} is {value!r}"
        assert math.isfinite(value), f"{key} is {value}"
    assert results["fanout_clients"] > 0
    assert results["mode"] == "quick"
    assert results["machine"]["cores"] >= 1
    assert "date" in results
    assert "Throughput ratio" in run.stdout
    assert not _processes_marked(mark), "the bench left processes running"


def _processes_marked(mark: str) -> list[int]:
    """Processes whose environment carries ``mark``: everything the bench started does."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(proc.name))
    return found

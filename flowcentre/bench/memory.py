"""Measurement 5, memory: the peak resident set of the worker and API processes.

The kernel keeps each process's high-water mark of resident memory (``VmHWM`` in
``/proc/<pid>/status``), so one reading taken just before a process is stopped is its
peak over the whole measurement it served, with no sampling that could miss a spike.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

ROLES = {"worker": "worker_rss_mb", "api": "api_rss_mb"}


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set in MiB, or None if it has gone or has no memory."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            kib = int(line.split()[1])
            return kib / 1024
    return None


class PeakMemory:
    """The peak of every process recorded, by the measurement and role it served."""

    def __init__(self) -> None:
        self._peaks: dict[tuple[str, str], float] = {}

    def record(self, measurement: str, role: str, pid: int) -> None:
        peak = peak_rss_mb(pid)
        if peak is not None:
            self._peaks[measurement, role] = peak

    def figures(self) -> dict[str, Any]:
        """``worker_rss_mb`` and ``api_rss_mb``, the largest peak of any process in that
        role (NaN if none ran), and every peak as ``rss_mb_by_process``."""
        figures: dict[str, Any] = {
            key: max(
                (peak for (_, played), peak in self._peaks.items() if played == role),
                default=math.nan,
            )
            for role, key in ROLES.items()
        }
        figures["rss_mb_by_process"] = {
            f"{measurement} {role}": peak for (measurement, role), peak in self._peaks.items()
        }
        return figures

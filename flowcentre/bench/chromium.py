"""Debian's Chromium as the bench and the browser tests launch it, with flags that work
on these machines.

Nothing here imports Playwright, a development dependency: the bench checks for it, and
for the browser, before it starts anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flowcentre.bench.harness import BenchError

CHROMIUM = Path("/usr/bin/chromium")
# Root may not use Chromium's sandbox; the rest keeps a headless run to this machine.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def require_browser() -> None:
    """Fail, saying what is missing, if the bench cannot drive Chromium here."""
    if not CHROMIUM.is_file():
        raise BenchError(
            f"the board measurement needs Debian's Chromium at {CHROMIUM}, which is missing"
            " (`make chromium` installs the chromium package)"
        )
    if importlib.util.find_spec("playwright") is None:
        raise BenchError(
            "the board measurement drives Chromium with Playwright, which is not installed"
            " (a development dependency: pip install -e '.[dev]')"
        )

"""Running the real parts as separate processes, as a deployment does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowcentre.config import Settings


class Processes:
    """Starts ``flowcentre`` commands with a test's settings and stops them afterwards."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self._settings = settings
        self._logs = logs
        self._started: list[subprocess.Popen[bytes]] = []
        self._commands: list[str] = []

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCENTRE_")}
        for name, value in self._settings.model_dump(exclude_none=True).items():
            env[f"FLOWCENTRE_{name.upper()}"] = str(value)
        env.update(overrides)
        return env

    def start(self, command: str, **overrides: str) -> subprocess.Popen[bytes]:
        log = self._logs / f"{command}-{len(self._started)}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "flowcentre", command],
            env=self.env(**overrides),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self._started.append(process)
        self._commands.append(command)
        return process

    def stop_all(self) -> None:
        for process in self._started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        index = self._started.index(process)
        return (self._logs / f"{self._commands[index]}-{index}.log").read_text(errors="replace")


@pytest.fixture
def processes(settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    running = Processes(settings, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)

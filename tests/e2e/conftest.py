"""Running the real parts as separate processes, as a deployment does."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from flowcentre.api.auth import SESSION_COOKIE
from flowcentre.config import Settings
from tests.accounts import sign_in


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


async def sign_in_when_up(api: httpx.AsyncClient, username: str) -> None:
    """Wait for the API to answer, then sign in as ``username`` for every later request."""
    for _ in range(300):
        try:
            if (await api.get("/healthz")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    signed_in = await sign_in(api, username)
    assert signed_in.status_code == 200, signed_in.text
    # Over plain http the client keeps no Secure cookie, so it is sent by hand here.
    api.headers["Cookie"] = f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"

"""Running the real parts as separate processes, as a deployment does, and watching them
as their users do: through the REST API, the whiteboard socket, and a real browser."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    WebSocketRoute,
    async_playwright,
    expect,
)
from websockets.asyncio.client import ClientConnection

from flowcentre.api.auth import SESSION_COOKIE
from flowcentre.api.whiteboard import frame_messages
from flowcentre.bench.chromium import CHROMIUM, CHROMIUM_FLAGS
from flowcentre.config import Settings
from flowcentre.domain.access_events import AccessEvent
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics, free_port
from tests.accounts import PASSWORD, record, sign_in
from tests.builders import bed, organisation, site, ward

JSON = dict[str, Any]


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


async def healthy(api: httpx.AsyncClient) -> bool:
    """Whether the API reports itself healthy within a minute of asking."""
    for _ in range(300):
        try:
            if (await api.get("/healthz")).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    return False


async def start_whiteboard(processes: Processes, **settings: str) -> str:
    """Starts a worker and the API and answers the API's address once it is healthy."""
    port = free_port()
    processes.start("worker")
    api = processes.start("api", FLOWCENTRE_API_PORT=str(port), **settings)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        if await healthy(client):
            return base
    raise AssertionError(f"the API never became healthy:\n{processes.log_of(api)}")


async def sign_in_when_up(api: httpx.AsyncClient, username: str) -> None:
    """Wait for the API to answer, then sign in as ``username`` for every later request."""
    await healthy(api)
    signed_in = await sign_in(api, username)
    assert signed_in.status_code == 200, signed_in.text
    # Over plain http the client keeps no Secure cookie, so it is sent by hand here.
    api.headers["Cookie"] = f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"


async def rest_until(api: httpx.AsyncClient, path: str, holds: Callable[[Any], bool]) -> Any:
    """The first answer of ``path`` that ``holds``: the worker applies events a moment
    after they are published."""
    for _ in range(600):
        response = await api.get(path)
        if response.status_code == 200 and holds(response.json()):
            return response.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never showed what was expected")


async def next_delta(socket: ClientConnection, kind: str, holds: Callable[[JSON], bool]) -> JSON:
    """The first record of ``kind`` (a bed, a discharge plan) the board is sent that ``holds``."""
    while True:
        frame = await asyncio.wait_for(socket.recv(), timeout=60)
        for message in frame_messages(frame):
            if message["type"] != "delta":
                continue
            for delta in message["deltas"]:
                record = delta.get(kind)
                if record is not None and holds(record):
                    return dict(record)


# Long enough for a worker that has only just joined its group to apply its first events.
WAIT_MS = 60_000

# Chromium reports a blocked script, style or connection on the console, in words that
# change between versions; the page's own violation event says it in any version.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) =>
  reportViolation(`${event.effectiveDirective} refused ${event.blockedURI}` +
    ` at ${event.sourceFile}:${event.lineNumber}`));
"""
CONSOLE_SIGNS = ("content security policy", "content-security-policy", "refused to")


class WatchedBrowser:
    """Opens pages in fresh browser contexts and records what goes wrong in any of them."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self.problems: list[str] = []

    async def new_page(self) -> Page:
        context = await self._browser.new_context()
        await context.expose_function("reportViolation", self._violation)
        await context.add_init_script(REPORT_VIOLATIONS)
        page = await context.new_page()
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        return page

    def _violation(self, description: str) -> None:
        self.problems.append(f"content security policy violation: {description}")

    def _console(self, message: ConsoleMessage) -> None:
        if any(sign in message.text.lower() for sign in CONSOLE_SIGNS):
            self.problems.append(f"console {message.type}: {message.text} at {message.location}")

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught page error: {error.message}\n{error.stack}")


@pytest_asyncio.fixture
async def chromium() -> AsyncIterator[WatchedBrowser]:
    """Debian's Chromium; a test fails if any of its pages reported a problem."""
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=WAIT_MS
            )
        except Error as error:
            raise AssertionError(
                f"{CHROMIUM} did not start (`make test` installs Debian's chromium package):"
                f" {error.message}"
            ) from error
        watched = WatchedBrowser(browser)
        try:
            yield watched
        finally:
            await browser.close()
    assert not watched.problems, "the pages reported problems:\n" + "\n".join(watched.problems)


async def sign_in_through_the_form(page: Page, username: str) -> None:
    form = page.locator("#sign-in-form")
    await expect(
        page.get_by_role("heading", name="Sign in to Flow Centre"), "no sign-in form"
    ).to_be_visible(timeout=WAIT_MS)
    await form.get_by_label("Username").fill(username, timeout=WAIT_MS)
    await form.get_by_label("Password").fill(PASSWORD, timeout=WAIT_MS)
    await form.get_by_role("button", name="Sign in").click(timeout=WAIT_MS)
    await expect(form, f"{username}'s sign-in did not close the form").to_be_hidden(timeout=WAIT_MS)
    await board_is_live(page)


@contextmanager
def hospital_of(
    settings: Settings, events: list[EventBase], accounts: list[AccessEvent]
) -> Iterator[KafkaPublisher]:
    """``events`` on the test's log and ``accounts`` on its access log; the publisher, for
    the test's own events after."""
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    publisher.publish(events)
    record(settings, accounts)
    try:
        yield publisher
    finally:
        publisher.close()


async def signed_in_at(chromium: WatchedBrowser, address: str, username: str) -> Page:
    """A new page at ``address``, signed in as ``username`` through the form."""
    page = await chromium.new_page()
    await page.goto(address, timeout=WAIT_MS)
    await sign_in_through_the_form(page, username)
    return page


def one_bed_ward(ward_id: str) -> list[EventBase]:
    """An organisation, its site WRH, and on it ``ward_id`` with one bed: "Bed 1", in Bay 1."""
    return [
        organisation("RWP"),
        site("WRH", "RWP"),
        ward(ward_id, "WRH"),
        bed(f"{ward_id}-B1", ward_id, label="Bed 1", room="Bay 1"),
    ]


class Gate:
    """The page's socket through the test: while held, what the server sends waits."""

    def __init__(self) -> None:
        self.held = False
        self._waiting: list[str | bytes] = []
        self._page_side: WebSocketRoute | None = None

    def route(self, page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()
        self._page_side = page_side

        def from_server(message: str | bytes) -> None:
            if self.held:
                self._waiting.append(message)
            else:
                page_side.send(message)

        server.on_message(from_server)

    def release(self) -> None:
        self.held = False
        assert self._page_side is not None, "the page never opened its socket"
        for message in self._waiting:
            self._page_side.send(message)
        self._waiting.clear()


async def open_through_a_gate(
    chromium: WatchedBrowser, address: str, username: str
) -> tuple[Page, Gate]:
    """``address`` signed in as ``username``, the board's socket through a gate."""
    gate = Gate()
    page = await chromium.new_page()
    await page.route_web_socket("**/ws/whiteboard*", gate.route)
    await page.goto(address, timeout=WAIT_MS)
    await sign_in_through_the_form(page, username)
    return page, gate


def bed_card(page: Page, label: str) -> Locator:
    """A bed's card on a board, by the bed's label."""
    return page.get_by_role("listitem").filter(has=page.get_by_text(label, exact=True))


async def undo_is_spent(page: Page, toggle: Locator) -> None:
    """Once undone, a change offers no undo of its own, and the keyboard is back on the
    ``toggle`` of what was changed."""
    await expect(
        page.get_by_role("button", name="Undo"), "an undo offers to undo itself"
    ).to_have_count(0, timeout=WAIT_MS)
    await expect(toggle, "undo lost the keyboard").to_be_focused()


async def choices_open_and_close_by_keyboard(
    page: Page, toggle: Locator, first: Locator, view: str
) -> None:
    """Enter on the focused ``toggle`` opens its choices at ``first`` (checked with axe as
    ``view``); Escape closes them and goes back to ``toggle``; Enter opens them again."""
    await toggle.focus(timeout=WAIT_MS)
    await page.keyboard.press("Enter")
    await expect(first, "opening the choices did not move to the first").to_be_focused(
        timeout=WAIT_MS
    )
    await assert_accessible(page, view)
    await page.keyboard.press("Escape")
    await expect(toggle, "Escape did not go back to the choices' button").to_be_focused(
        timeout=WAIT_MS
    )
    await expect(first, "Escape left the choices open").to_have_count(0, timeout=WAIT_MS)
    await page.keyboard.press("Enter")
    await expect(first).to_be_focused(timeout=WAIT_MS)


async def pair_wall_screen(page: Page, address: str, token: str) -> None:
    """Opens ``address`` on ``page`` and pairs it, as a wall screen is, with its device token."""
    await page.goto(address, timeout=WAIT_MS)
    await page.get_by_text("Wall screen? Pair it with its device token").click(timeout=WAIT_MS)
    await page.get_by_label("Device token").fill(token, timeout=WAIT_MS)
    await page.get_by_role("button", name="Pair this screen").click(timeout=WAIT_MS)
    await board_is_live(page)


async def board_is_live(page: Page) -> None:
    await expect(
        page.get_by_role("status"), "the board's socket did not open after signing in"
    ).to_have_text("Live", timeout=WAIT_MS)


# WCAG 2.1 at levels A and AA, as the UK's public sector accessibility regulations require,
# and axe's best practices.
AXE_OPTIONS: JSON = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
# A moderate or minor finding is worth fixing but does not keep a person from the page.
BLOCKING_IMPACTS = ("serious", "critical")
NODES_SHOWN = 3


def describe_violation(violation: JSON) -> str:
    nodes: list[JSON] = violation["nodes"]
    lines = [f"{violation['id']} ({violation['impact']}): {violation['help']}"]
    for node in nodes[:NODES_SHOWN]:
        # A target is a list of selectors, one a frame or shadow root deep.
        where = " >>> ".join(str(selector) for selector in node["target"])
        summary = " ".join(str(node.get("failureSummary", "")).split())
        lines.append(f"  {where}: {summary}")
    if len(nodes) > NODES_SHOWN:
        lines.append(f"  and {len(nodes) - NODES_SHOWN} more")
    return "\n".join(lines)


async def assert_accessible(page: Page, view: str) -> None:
    """Fails if axe-core finds a serious or critical WCAG 2.1 A or AA (or best practice)
    violation on ``view`` as the page shows it now."""
    results = await Axe().run(page, options=AXE_OPTIONS)
    violations: list[JSON] = results.response["violations"]
    blocking = [one for one in violations if one["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{view} has accessibility violations:\n" + "\n".join(
        describe_violation(one) for one in blocking
    )

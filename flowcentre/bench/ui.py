"""Measurement 6, the board in a browser: how long Chromium takes to show the flow centre's
view of the whole county, and to take in and draw each change.

A worker, an API and an alert watch serve the county's registry and enough of its traffic
that its beds are occupied. Debian's Chromium, driven by Playwright, opens ``ui/index.html``
with a flow centre session and shows the system view, the busiest a board draws. The page
times itself with the User Timing API (``ui/live.js``, and ``render()`` in ``ui/app.js``),
and the entries are read back from it:

- ``fc:snapshot`` and ``fc:delta``: a socket frame holding the snapshot, or deltas, from
  its arrival (the message event's time stamp) to the end of its handler, which takes the
  data in and schedules a render for the next animation frame;
- ``fc:render``: one render, from its start to the first task after the frame it was drawn
  in, so the browser's style, layout and paint of it count as well as the script.

``ui_render_ms`` is the end of a page's first render, counted from its navigation start
(the page's time origin), the median over fresh page loads, each in a browser context of
its own. ``ui_delta_apply_ms`` is, for each frame of deltas that arrives while events are
published at a steady rate, its handler's time plus the time of the render that follows
it: the main thread's work for one change. The wait between the two for the next animation
frame is idle time, not work, and is reported apart, in ``ui_delta_to_screen_*``: arrival
to drawn.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    WebSocket,
    async_playwright,
)

from flowcentre.api.whiteboard import frame_messages
from flowcentre.bench.boards import EntryId, entry_id
from flowcentre.bench.chromium import CHROMIUM, CHROMIUM_FLAGS, require_browser
from flowcentre.bench.harness import (
    START_TIMEOUT_S,
    Bench,
    BenchError,
    BoardPipeline,
    Figures,
    History,
    Record,
    board_pipeline,
    newest_delta,
    publish,
    publish_paced,
    wait_applied,
    wait_board_current,
    wait_until,
)
from flowcentre.bench.stats import percentile

#: Starting Chromium, loading the page, and its first render on a busy machine.
PAGE_TIMEOUT_MS = 60_000
#: How often the bench looks in the page for an entry it waits for.
POLL_MS = 50
#: How long deltas already in the stream may take to reach the page and be drawn.
DRAIN_TIMEOUT_S = 30.0
#: Chromium coarsens the page's clock to 100 us: a render may seem to start that much
#: before the end of the handler that scheduled it.
CLOCK_GRAIN_MS = 0.1

_RENDERED_OR_SIGNED_OUT = """() =>
  performance.getEntriesByName("fc:render").length > 0 ||
  !document.getElementById("sign-in").hidden"""
_SIGNED_OUT = """() => !document.getElementById("sign-in").hidden"""
_NOW = "() => performance.now()"
# Every frame of deltas so far has a render that started after its handler ended.
_ALL_DRAWN = """(grain) => {
  const last = (name) => performance.getEntriesByName(name).at(-1);
  const delta = last("fc:delta");
  const render = last("fc:render");
  return delta === undefined ||
    (render !== undefined && render.startTime >= delta.startTime + delta.duration - grain);
}"""
_SPANS = """(since) => Object.fromEntries(["fc:snapshot", "fc:delta", "fc:render"].map((name) =>
  [name, performance.getEntriesByName(name)
    .filter((entry) => entry.startTime >= since)
    .map((entry) => [entry.startTime, entry.duration])]))"""


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """One User Timing measure, in milliseconds of the page's clock."""

    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Load:
    """One page load's first snapshot and first render."""

    snapshot: Span
    render: Span


class _Frames:
    """What the page's socket received, as the browser reports its frames: the newest
    cursor, and the county as of the first snapshot."""

    def __init__(self) -> None:
        self.newest: EntryId = (0, 0)
        self.beds = 0
        self.occupied = 0

    def follow(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._received)

    def _received(self, frame: str | bytes) -> None:
        for message in frame_messages(frame):
            kind = message.get("type")
            if kind == "snapshot" and self.beds == 0:
                beds: list[dict[str, Any]] = message["data"]["beds"]
                self.beds = sum(1 for bed in beds if bed.get("registered"))
                self.occupied = sum(1 for bed in beds if bed.get("state") == "occupied")
            if kind in ("snapshot", "delta"):
                self.newest = max(self.newest, entry_id(message["cursor"]))


class _Problems:
    """Errors the page reported: the first thing to read when it never rendered."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("pageerror", self._uncaught)
        page.on("console", self._console)

    def _uncaught(self, error: Error) -> None:
        self.seen.append(f"uncaught: {error.message}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(f"console: {message.text}")

    def __str__(self) -> str:
        return "; ".join(self.seen) or "none reported"


async def _signed_in_context(browser: Browser, pipeline: BoardPipeline) -> BrowserContext:
    """A fresh browser context holding the board session's cookie for the API's origin.

    The cookie's ``__Host-`` prefix binds it to one origin, Secure and on the path "/",
    with no domain attribute: Chromium keeps such a cookie for http://127.0.0.1 (a secure
    context) when it is given the host, the path and the Secure flag rather than a URL.
    """
    name, _, value = pipeline.cookie.partition("=")
    context = await browser.new_context()
    await context.add_cookies(
        [
            {
                "name": name,
                "value": value,
                "domain": pipeline.space.api_host,
                "path": "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    return context


def _base(pipeline: BoardPipeline) -> str:
    return f"http://{pipeline.space.api_host}:{pipeline.space.api_port}/"


async def _open_board(page: Page, pipeline: BoardPipeline) -> None:
    """Open the system view and wait for its first render."""
    problems = _Problems(page)
    try:
        await page.goto(_base(pipeline), timeout=PAGE_TIMEOUT_MS)
        await page.wait_for_function(
            _RENDERED_OR_SIGNED_OUT, polling=POLL_MS, timeout=PAGE_TIMEOUT_MS
        )
        signed_out: bool = await page.evaluate(_SIGNED_OUT)
    except Error as error:
        raise BenchError(
            f"the board page never rendered ({error.message}); page errors: {problems}"
        ) from error
    if signed_out:
        raise BenchError(
            f"{CHROMIUM} did not send the board session's cookie: the page asked to sign in"
        )


async def _spans(page: Page, since: float) -> dict[str, list[Span]]:
    found: dict[str, list[list[float]]] = await page.evaluate(_SPANS, since)
    return {
        name: sorted(Span(start, duration) for start, duration in spans)
        for name, spans in found.items()
    }


async def _load(browser: Browser, pipeline: BoardPipeline) -> Load:
    context = await _signed_in_context(browser, pipeline)
    try:
        page = await context.new_page()
        await _open_board(page, pipeline)
        spans = await _spans(page, 0.0)
    finally:
        await context.close()
    if not spans["fc:snapshot"]:
        raise BenchError("the board page rendered without timing its snapshot")
    return Load(snapshot=spans["fc:snapshot"][0], render=spans["fc:render"][0])


def delta_costs(deltas: Sequence[Span], renders: Sequence[Span]) -> tuple[list[float], list[float]]:
    """For each frame of deltas, the main thread's work (its handler, then the render that
    follows it) and the time from its arrival to the end of that render.

    The render a frame triggered is the first to start after its handler ended: the main
    thread runs one at a time, and renders run at animation frames, after the handlers of
    the frames that came before them. Several frames may share one render.
    """
    starts = [render.start for render in renders]
    work: list[float] = []
    to_screen: list[float] = []
    for delta in deltas:
        index = bisect.bisect_left(starts, delta.end - CLOCK_GRAIN_MS)
        if index == len(renders):
            continue
        render = renders[index]
        work.append(delta.duration + render.duration)
        to_screen.append(render.end - delta.start)
    return work, to_screen


async def _follow_deltas(
    bench: Bench,
    pipeline: BoardPipeline,
    browser: Browser,
    traffic: Sequence[Record],
    rate: float,
) -> Figures:
    space, redis, processes = pipeline.space, pipeline.redis, pipeline.processes
    frames = _Frames()
    context = await _signed_in_context(browser, pipeline)
    try:
        page = await context.new_page()
        page.on("websocket", frames.follow)
        await _open_board(page, pipeline)
        began: float = await page.evaluate(_NOW)
        published = await publish_paced(bench.bootstrap, space.events_topic, traffic, rate)
        await wait_applied(
            bench, redis, space, published, watch=processes, timeout_s=START_TIMEOUT_S
        )
        until = entry_id(await newest_delta(redis, space))

        async def received() -> bool:
            return frames.newest >= until

        await wait_until(
            received, watch=processes, timeout_s=DRAIN_TIMEOUT_S, what="the page's last delta"
        )
        try:
            await page.wait_for_function(
                _ALL_DRAWN,
                arg=CLOCK_GRAIN_MS,
                polling=POLL_MS,
                timeout=DRAIN_TIMEOUT_S * 1000,
            )
        except Error as error:
            raise BenchError(f"the page never drew its last delta ({error.message})") from error
        spans = await _spans(page, began)
    finally:
        await context.close()
    if spans["fc:snapshot"]:
        raise BenchError("the page took a fresh snapshot while its deltas were timed")
    deltas = spans["fc:delta"]
    work, to_screen = delta_costs(deltas, spans["fc:render"])
    if not work:
        raise BenchError("the page timed no delta while events were published")
    return {
        "ui_beds": frames.beds,
        "ui_beds_occupied": frames.occupied,
        "ui_delta_events": len(traffic),
        "ui_delta_rate_per_s": rate,
        "ui_delta_frames": len(deltas),
        "ui_delta_frames_drawn": len(work),
        "ui_delta_apply_ms": percentile(work, 0.50),
        "ui_delta_apply_p99_ms": percentile(work, 0.99),
        "ui_delta_apply_max_ms": max(work),
        "ui_delta_take_p50_ms": percentile([delta.duration for delta in deltas], 0.50),
        "ui_delta_render_p50_ms": percentile([r.duration for r in spans["fc:render"]], 0.50),
        "ui_delta_render_p99_ms": percentile([r.duration for r in spans["fc:render"]], 0.99),
        "ui_delta_to_screen_p50_ms": percentile(to_screen, 0.50),
        "ui_delta_to_screen_p99_ms": percentile(to_screen, 0.99),
    }


def _load_figures(loads: Sequence[Load]) -> Figures:
    def median(values: Sequence[float]) -> float:
        return statistics.median(values) if values else math.nan

    ends = [load.render.end for load in loads]
    return {
        "ui_render_loads": len(loads),
        "ui_render_ms": median(ends),
        "ui_render_max_ms": max(ends, default=math.nan),
        # Where a load's time goes: the page and the socket, the snapshot taken in, drawn.
        "ui_render_snapshot_arrival_ms": median([load.snapshot.start for load in loads]),
        "ui_render_snapshot_take_ms": median([load.snapshot.duration for load in loads]),
        "ui_render_draw_ms": median([load.render.duration for load in loads]),
        "ui_render_loads_ms": ends,
    }


async def measure_ui(
    bench: Bench,
    history: History,
    loads: int,
    fill_events: int,
    seconds: float,
    rate: float,
) -> Figures:
    """``loads`` page loads of the county's view once the first ``fill_events`` of its traffic
    are applied, then the page following ``seconds`` of traffic at ``rate`` events a second."""
    if loads < 1:
        raise BenchError("the board measurement needs at least one page load")
    require_browser()
    traffic = history.traffic(fill_events + round(seconds * rate))
    async with board_pipeline(bench, "ui", history) as pipeline:
        space, redis, processes = pipeline.space, pipeline.redis, pipeline.processes
        filled = await publish(bench.bootstrap, space.events_topic, traffic[:fill_events])
        await wait_applied(bench, redis, space, filled, watch=processes, timeout_s=START_TIMEOUT_S)
        await wait_board_current(
            redis, space, pipeline.cookie, watch=processes, timeout_s=START_TIMEOUT_S
        )
        async with async_playwright() as playwright:
            try:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=PAGE_TIMEOUT_MS
                )
            except Error as error:
                raise BenchError(f"{CHROMIUM} did not start: {error.message}") from error
            try:
                measured = [await _load(browser, pipeline) for _ in range(loads)]
                figures = _load_figures(measured)
                figures |= await _follow_deltas(
                    bench, pipeline, browser, traffic[fill_events:], rate
                )
            finally:
                await browser.close()
        for child in processes:
            child.check()
    return figures

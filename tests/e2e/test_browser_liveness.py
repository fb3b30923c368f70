"""A board in a real browser says when it is not live, and why, and comes back by itself:
when the event stream stops (the worker is down) and when its own connection is lost
(the API is down), resuming from its cursor without a reload either way."""

from __future__ import annotations

import signal
import subprocess
import uuid

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics, free_port
from tests.accounts import account, record
from tests.builders import bed_status
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    healthy,
    one_bed_ward,
    sign_in_through_the_form,
)

WARD = "WRH-LARK1"
NURSE = "lark.nurse"
# The clock ticks every second here, so a stopped stream shows within the grace boards
# allow a late tick (20 s) rather than a minute.
TICK = {"FLOWCENTRE_CLOCK_TICK_S": "1"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"liveness-{uuid.uuid4().hex[:12]}"})


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


async def start_api(processes: Processes, port: int) -> subprocess.Popen[bytes]:
    api = processes.start("api", FLOWCENTRE_API_PORT=str(port), **TICK)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        assert await healthy(client), processes.log_of(api)
    return api


def state_of(page: Page, label: str) -> Locator:
    card = page.get_by_role("listitem").filter(has=page.get_by_text(label, exact=True))
    return card.locator(".bed-state")


async def open_ward_board(chromium: WatchedBrowser, port: int) -> Page:
    page = await chromium.new_page()
    await page.goto(f"http://127.0.0.1:{port}/#/ward/{WARD}", timeout=WAIT_MS)
    await sign_in_through_the_form(page, NURSE)
    await expect(state_of(page, "Bed 1")).to_have_text("Available", timeout=WAIT_MS)
    return page


async def test_a_board_says_when_it_is_not_live_and_resumes_by_itself(
    processes: Processes, settings: Settings, chromium: WatchedBrowser
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    try:
        publisher.publish(one_bed_ward(WARD))
        record(settings, account("acc-lark-nurse", NURSE, "ward_staff", WARD))
        worker = processes.start("worker", **TICK)
        processes.start("alert-watch", **TICK)
        port = free_port()
        api = await start_api(processes, port)
        page = await open_ward_board(chromium, port)
        banner = page.get_by_role("alert").filter(has_text="Not live")
        await expect(banner, "a live board says it is not live").to_have_count(0, timeout=WAIT_MS)
        loads: list[str] = []
        page.on("load", lambda loaded: loads.append(loaded.url))

        stop(worker)
        await expect(banner, "the board did not see the stream stop").to_contain_text(
            "its event stream has stopped", timeout=WAIT_MS
        )
        await assert_accessible(page, "a board that is not live")
        publisher.publish([bed_status(f"{WARD}-B1", "cleaning", minute=10)])
        processes.start("worker", **TICK)
        await expect(
            state_of(page, "Bed 1"), "the change made while the stream was down never came"
        ).to_have_text("Being cleaned", timeout=WAIT_MS)
        await expect(banner, "the banner outlived the stream's return").to_have_count(
            0, timeout=WAIT_MS
        )

        stop(api)
        await expect(banner, "the board did not see its connection go").to_contain_text(
            "The connection to Flow Centre was lost", timeout=WAIT_MS
        )
        publisher.publish([bed_status(f"{WARD}-B1", "clean", minute=20)])
        await start_api(processes, port)
        await expect(
            state_of(page, "Bed 1"), "the board did not resume with what it missed"
        ).to_have_text("Available", timeout=WAIT_MS)
        await expect(banner, "the banner outlived the reconnection").to_have_count(
            0, timeout=WAIT_MS
        )
        assert not loads, f"the page was loaded again: {loads}"
    finally:
        publisher.close()

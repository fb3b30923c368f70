"""A board in a real browser says when one source feed has gone silent while another and
the clock on the log carry on, on every page, and stops saying it once the feed is heard
again. The clock is ticked by the test, a minute of log time at a time, and the acute
trust's feed may be silent for one minute of it."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics, free_port
from tests.accounts import account, record
from tests.builders import bed_status, event
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    healthy,
    one_bed_ward,
    sign_in_through_the_form,
)

WARD = "WRH-WREN1"
NURSE = "wren.nurse"
# The builders' events come from the acute trust's "PAS"; the community trust's from its
# EPR; the clock's ticks from the alert watch, a feed of its own that nobody configures.
COMMUNITY = {"system": "EPR", "organisation": "R1A"}
WATCH = {"system": "flowcentre-alerts", "organisation": "FLOWCENTRE"}
FEEDS = """
[[feeds]]
organisation = "RWP"
system = "PAS"
name = "Worcestershire Acute ADT"
silent_after_minutes = 1

[[feeds]]
organisation = "R1A"
system = "EPR"
name = "Community trust EPR"
silent_after_minutes = 60
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"feeds-{uuid.uuid4().hex[:12]}"})


def community_speaks(minute: float) -> EventBase:
    payload = {"ward_id": "EVE-ASH", "site_id": "EVE", "name": "Ash ward"}
    return event("WardRegistered", payload, minute, source=COMMUNITY)


def tick(settings: Settings, minute: float) -> EventBase:
    return event("ClockTicked", {"clock": settings.clock}, minute, source=WATCH)


async def open_board(page: Page, address: str) -> None:
    await page.goto(address, timeout=WAIT_MS)
    await sign_in_through_the_form(page, NURSE)
    card = page.get_by_role("listitem").filter(has=page.get_by_text("Bed 1", exact=True))
    await expect(card.locator(".bed-state")).to_have_text("Available", timeout=WAIT_MS)


async def test_a_silent_feed_is_named_on_every_board_until_it_is_heard_again(
    processes: Processes, settings: Settings, chromium: WatchedBrowser, tmp_path: Path
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(FEEDS, encoding="utf-8")
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    try:
        publisher.publish(
            [
                *one_bed_ward(WARD),
                bed_status(f"{WARD}-B1", "clean", minute=0),
                community_speaks(0),
                tick(settings, 0),
            ]
        )
        record(settings, account("acc-wren-nurse", NURSE, "ward_staff", WARD))
        processes.start("worker")
        port = free_port()
        api = processes.start(
            "api",
            FLOWCENTRE_API_PORT=str(port),
            FLOWCENTRE_FEEDS=str(feeds),
            FLOWCENTRE_CLOCK_TICK_S="0",
        )
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert await healthy(client), processes.log_of(api)
        page = await chromium.new_page()
        await open_board(page, f"{base}/#/ward/{WARD}")
        silent = page.get_by_role("alert").filter(has_text="No messages from")
        not_live = page.get_by_role("alert").filter(has_text="Not live")

        # The community trust's feed and the clock carry on; the acute trust's stops.
        publisher.publish([community_speaks(1), tick(settings, 1)])
        publisher.publish([community_speaks(2), tick(settings, 2)])
        await expect(silent, "the silent feed was not named within a minute").to_contain_text(
            "No messages from Worcestershire Acute ADT since", timeout=WAIT_MS
        )
        await expect(silent).to_contain_text("expected at least every minute")
        await expect(silent).not_to_contain_text("Community trust EPR")
        await expect(not_live, "the board itself is live").to_have_count(0)
        await assert_accessible(page, "a board naming a silent feed")

        discharges = await page.context.new_page()
        await discharges.goto(f"{base}/discharges.html", timeout=WAIT_MS)
        listed_silent = discharges.get_by_role("alert").filter(has_text="No messages from")
        await expect(
            listed_silent, "the discharge list did not name the silent feed"
        ).to_contain_text("Worcestershire Acute ADT", timeout=WAIT_MS)

        publisher.publish([bed_status(f"{WARD}-B1", "cleaning", minute=2.5), tick(settings, 3)])
        card = page.get_by_role("listitem").filter(has=page.get_by_text("Bed 1", exact=True))
        await expect(card.locator(".bed-state")).to_have_text("Being cleaned", timeout=WAIT_MS)
        await expect(silent, "the banner outlived the feed's return").to_have_count(
            0, timeout=WAIT_MS
        )
        await expect(listed_silent).to_have_count(0, timeout=WAIT_MS)
    finally:
        publisher.close()

"""Boards at the two ends of the screens they are read on: a wall screen, read-only, type
sized for a room and turning through the views its address names; and a phone."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import ViewportSize, expect

from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from tests.accounts import account, device, record
from tests.builders import admitted
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    one_bed_ward,
    pair_wall_screen,
    sign_in_through_the_form,
    start_whiteboard,
)

WARD = "WRH-SEVERN3"
WALL_TOKEN, WALL_ACCOUNT = device("acc-wall-severn3", "wall.severn3", "display", WARD)
TURN_S = 5
# A wall panel's own size: the type must grow to be read across a room.
FULL_HD = ViewportSize(width=1920, height=1080)
PHONE = ViewportSize(width=390, height=844)
COORDINATOR = "severn.coordinator"


def publish_the_ward(settings: Settings, *events: EventBase) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    try:
        publisher.publish([*one_bed_ward(WARD), *events])
    finally:
        publisher.close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"wall-{uuid.uuid4().hex[:12]}"})


async def test_a_wall_screen_turns_through_its_views_with_large_type_and_no_controls(
    processes: Processes, settings: Settings, chromium: WatchedBrowser
) -> None:
    publish_the_ward(settings)
    record(settings, WALL_ACCOUNT)
    base = await start_whiteboard(processes)
    page = await chromium.new_page()
    await page.set_viewport_size(FULL_HD)

    await pair_wall_screen(
        page, f"{base}/#/wall?views=ward/{WARD},site/WRH&seconds={TURN_S}", WALL_TOKEN
    )

    ward_heading = page.get_by_role("heading", name=WARD, level=1)
    site_heading = page.get_by_role("heading", name="Royal", level=1)
    for heading in (ward_heading, site_heading, ward_heading):
        await expect(heading, "the wall did not turn to its next view").to_be_visible(
            timeout=WAIT_MS
        )
    await expect(page.get_by_text("View 1 of 2")).to_be_visible(timeout=WAIT_MS)
    await assert_accessible(page, "a wall screen")
    await expect(page.get_by_role("button"), "the wall shows controls").to_have_count(
        0, timeout=WAIT_MS
    )
    root_size = await page.evaluate(
        "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    )
    assert root_size >= 24, f"the wall's type is {root_size}px at full HD, not sized for a room"


async def test_every_page_fits_a_phone(
    processes: Processes, settings: Settings, chromium: WatchedBrowser
) -> None:
    publish_the_ward(settings, admitted("S-PHONE", f"{WARD}-B1", -30, ward_id=WARD))
    record(settings, account("acc-flow-phone", COORDINATOR, "flow_centre"))
    base = await start_whiteboard(processes)
    page = await chromium.new_page()
    await page.set_viewport_size(PHONE)
    await page.goto(f"{base}/", timeout=WAIT_MS)
    await sign_in_through_the_form(page, COORDINATOR)
    for address, heading in (
        (f"{base}/#/", "All sites"),
        (f"{base}/#/site/WRH", "Royal"),
        (f"{base}/#/ward/{WARD}", WARD),
        (f"{base}/discharges.html#ward={WARD}&spell=S-PHONE", "Discharge planning"),
        (f"{base}/alerts.html", "Capacity alerts"),
    ):
        await page.goto(address, timeout=WAIT_MS)
        await expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(
            timeout=WAIT_MS
        )
        if heading == WARD:
            # The widest a card gets: its patient's plan with its choices open.
            await page.get_by_role("button", name="Update the plan of Bed 1").click(timeout=WAIT_MS)
            await expect(page.get_by_role("button", name="Green day")).to_be_visible(
                timeout=WAIT_MS
            )
        if heading == "Discharge planning":
            await expect(page.locator("#plan")).to_be_visible(timeout=WAIT_MS)
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{address} is {overflow}px wider than a phone's screen"
        await assert_accessible(page, f"{heading} on a phone")

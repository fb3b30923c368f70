"""Every board on the simulated county, in a real browser: drawn from days of its traffic,
checked for accessibility with real data on it, and photographed.

The pictures in docs/whiteboards.md and the README are these: given a folder
(``pytest tests/e2e/test_browser_county.py --screenshots docs/images``), the test keeps
them there; otherwise it takes them and drops them with its temporary folder.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize, expect
from redis.asyncio import Redis

from flowcentre.bench.harness import applied
from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from producers.county import County
from producers.simulator import simulate
from tests.accounts import account, device, record
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    pair_wall_screen,
    sign_in_through_the_form,
    start_whiteboard,
)

# The county fills from empty: a fortnight up to now takes most of its beds and forms
# queues, with every time on the boards recent.
SIMULATED = timedelta(days=14)
APPLY_WITHIN_S = 240
WARD = County.load().wards[0]
CENTRE, NURSE, MANAGER = "county.centre", "county.nurse", "county.manager"
WALL_TOKEN, WALL_ACCOUNT = device("acc-county-wall", "county.wall", "display", WARD.ward_id)
DESKTOP = ViewportSize(width=1440, height=900)
SEED = 7


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"county-{uuid.uuid4().hex[:12]}"})


async def county_applied(settings: Settings) -> None:
    """Publishes the simulated county's last fortnight; returns once the view has it."""
    assert settings.kafka_bootstrap
    assert settings.redis_url
    ensure_topics(settings.kafka_bootstrap, settings)
    now = datetime.now(UTC)
    events = list(simulate(County.load(), now - SIMULATED, SEED, until=now))
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    try:
        await asyncio.to_thread(publisher.publish, events)
    finally:
        publisher.close()
    redis = Redis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + APPLY_WITHIN_S
        while await applied(redis, settings) < len(events):
            assert time.monotonic() < deadline, "the worker did not apply the county in time"
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()


async def photograph(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=folder / f"{name}.png")


async def signed_in(chromium: WatchedBrowser, address: str, username: str) -> Page:
    page = await chromium.new_page()
    await page.set_viewport_size(DESKTOP)
    await page.goto(address, timeout=WAIT_MS)
    await sign_in_through_the_form(page, username)
    return page


async def test_every_board_on_the_county(
    processes: Processes,
    settings: Settings,
    chromium: WatchedBrowser,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    folder: Path = request.config.getoption("--screenshots") or tmp_path
    record(
        settings,
        [
            *account("acc-county-centre", CENTRE, "flow_centre"),
            *account("acc-county-nurse", NURSE, "ward_staff", WARD.ward_id),
            *account("acc-county-manager", MANAGER, "manager"),
            *WALL_ACCOUNT,
        ],
    )
    base = await start_whiteboard(processes)
    processes.start("alert-watch")
    await county_applied(settings)

    centre = await signed_in(chromium, f"{base}/", CENTRE)
    await expect(centre.get_by_role("heading", name="All sites", level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(centre.locator("table.counts"), "not every site is drawn").to_have_count(
        len(County.load().sites), timeout=WAIT_MS
    )
    await assert_accessible(centre, "the county's system board")
    await photograph(centre, folder, "whiteboard-system")

    await centre.goto(f"{base}/#/site/{WARD.site_id}", timeout=WAIT_MS)
    await expect(centre.locator("table.free-beds"), "the site lists no free beds").to_be_visible(
        timeout=WAIT_MS
    )
    await assert_accessible(centre, "a site's board")
    await photograph(centre, folder, "whiteboard-site")

    nurse = await signed_in(chromium, f"{base}/#/ward/{WARD.ward_id}", NURSE)
    await expect(nurse.get_by_role("heading", name=WARD.spec.name, level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(nurse.get_by_role("button", name="Change state").first).to_be_visible(
        timeout=WAIT_MS
    )
    await assert_accessible(nurse, "the county's busiest ward")
    await photograph(nurse, folder, "whiteboard-ward")

    await nurse.goto(f"{base}/discharges.html", timeout=WAIT_MS)
    await expect(nurse.get_by_role("status")).to_have_text("Live", timeout=WAIT_MS)
    wards = nurse.get_by_role("region", name="Ward discharge list")
    await wards.get_by_label("Ward", exact=True).select_option(WARD.ward_id, timeout=WAIT_MS)
    await assert_accessible(nurse, "a ward's discharge list")
    await photograph(nurse, folder, "whiteboard-discharges")

    manager = await signed_in(chromium, f"{base}/", MANAGER)
    await manager.goto(f"{base}/alerts.html", timeout=WAIT_MS)
    await expect(manager.get_by_role("status")).to_have_text("Live", timeout=WAIT_MS)
    await expect(manager.get_by_role("region", name="Open alerts")).to_be_visible(timeout=WAIT_MS)
    await assert_accessible(manager, "the capacity alerts page")
    await photograph(manager, folder, "whiteboard-alerts")

    wall = await chromium.new_page()
    await wall.set_viewport_size(ViewportSize(width=1920, height=1080))
    await pair_wall_screen(wall, f"{base}/#/ward/{WARD.ward_id}", WALL_TOKEN)
    await expect(wall.get_by_role("heading", name=WARD.spec.name, level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    await assert_accessible(wall, "a wall screen")
    await photograph(wall, folder, "whiteboard-wall")

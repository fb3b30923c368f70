"""The capacity alerts page in a real browser: Debian's Chromium, driven by Playwright,
against a worker, the API and the alert watch running as separate processes on the real
broker and Redis.

A site manager watches a site fill past a rule's threshold: the alert appears on the page
without a reload, with its reading, where and how many it counts; the manager acknowledges
it from the keyboard with a note, and the page says who did. OPEL is shown with the
parameters behind it, a new reading live and a stale one as stale. A patient leaves, the
alert resolves itself and leaves the list, and the manager's own late resolution is
refused with the server's reason. Meanwhile a wall screen on the ward shows the count of
open alerts and the OPEL levels, and nothing else about the alert.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, Route, ViewportSize, expect
from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from flowcentre.store.reads import LiveReads
from tests.accounts import account, device, record
from tests.builders import T0, admitted, bed, discharged, event, organisation, site, ward
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    bed_card,
    board_is_live,
    pair_wall_screen,
    sign_in_through_the_form,
    sign_in_when_up,
    start_whiteboard,
)

CLOCK = "e2e-browser"
WARD = "W1"
BEDS = [f"B{n}" for n in range(10)]
MANAGER = "site.manager"
MANAGER_ID = "acc-site-manager"
WALL_TOKEN, WALL_ACCOUNT = device("acc-wall-w1", "wall.w1", "display", WARD)
RULE_NAME = "Occupancy above 92%"
ALERT = f"Royal: {RULE_NAME}"
NOTE = "Opening the escalation ward"
RULES = f"""
[ladders.site]
steps = [
  {{ after_minutes = 0, notify = ["nurse in charge"] }},
  {{ after_minutes = 120, notify = ["site manager"] }},
]

[[rules]]
id = "occupancy-high"
name = "{RULE_NAME}"
measure = "occupancy_pct"
scope = {{ level = "site" }}
comparison = ">"
threshold = 92
clear = 90
hold_minutes = 15
severity = "warning"
ladder = "site"
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings with Redis keys of this test's own, one occupancy rule, and a
    clock this test ticks."""
    alerts = tmp_path / "alerts.toml"
    alerts.write_text(RULES)
    return settings.model_copy(
        update={
            "redis_prefix": f"browser-alerts-{uuid.uuid4().hex[:12]}",
            "alerts": alerts,
            "clock": CLOCK,
            "clock_tick_s": 0,
        }
    )


class Hospital:
    """One acute site with a ward of ten beds, its feed, and the log's clock, told in
    minutes before the test began so that the page shows today's times."""

    def __init__(self, settings: Settings) -> None:
        assert settings.kafka_bootstrap
        assert settings.redis_url
        self.began = datetime.now(UTC).replace(microsecond=0)
        self.feed = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
        self.redis = Redis.from_url(settings.redis_url)
        self.reads = LiveReads(self.redis, prefix=settings.redis_prefix)

    def at(self, minutes_before: float) -> datetime:
        return self.began - timedelta(minutes=minutes_before)

    def minute(self, minutes_before: float) -> float:
        """The builders' minute (from their T0) of so many minutes before the test began."""
        return (self.at(minutes_before) - T0).total_seconds() / 60

    def tick(self, minutes_before: float) -> EventBase:
        return event("ClockTicked", {"clock": CLOCK}, self.minute(minutes_before))

    async def watching(self) -> None:
        """Waits for the alert watch to have started: it saves the file's rule first."""
        for _ in range(600):
            if await self.reads.rules():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the alert watch never saved its rule")

    async def readings(self, count: int) -> None:
        """Waits for the view to have ``count`` OPEL readings."""
        for _ in range(600):
            if len(await self.reads.opel_readings()) == count:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the view never had {count} OPEL readings")

    async def ticked(self, minutes_before: float) -> None:
        """Ticks the clock and waits for the view to have the tick: ticks travel on a
        partition of their own, so what follows a tick is published only once it is in."""
        self.feed.publish([self.tick(minutes_before)])
        for _ in range(600):
            found = await self.reads.clock(CLOCK)
            if found is not None and found.at == self.at(minutes_before):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the clock never reached {minutes_before} minutes before")


@pytest_asyncio.fixture
async def hospital(settings: Settings) -> AsyncIterator[Hospital]:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    hospital = Hospital(settings)
    hospital.feed.publish(
        [
            organisation(),
            site(),
            ward(WARD),
            *(bed(one, WARD) for one in BEDS),
            hospital.tick(90),
        ]
    )
    record(settings, [*account(MANAGER_ID, MANAGER, "manager"), *WALL_ACCOUNT])
    try:
        yield hospital
    finally:
        hospital.feed.close()
        await hospital.redis.aclose()


def pressure_item(page: Page, label: str) -> Locator:
    """The value a board's pressure summary gives for ``label``."""
    return page.locator(".pressure div").filter(has=page.get_by_text(label, exact=True))


def alert_count(page: Page) -> Locator:
    return page.locator(".pressure .alert-count")


async def nothing_private_on(wall: Page) -> None:
    """A wall screen shows how many alerts are open, never what they are about."""
    markup = await wall.content()
    for private in (RULE_NAME, "occupancy-high", "Ada", "Lovelace"):
        assert private not in markup, f"{private!r} is on the wall screen"


async def open_the_wall_screen(chromium: WatchedBrowser, base: str) -> Page:
    wall = await chromium.new_page()
    await pair_wall_screen(wall, f"{base}/#/ward/{WARD}", WALL_TOKEN)
    await expect(wall.get_by_role("heading", name=WARD, level=1)).to_be_visible(timeout=WAIT_MS)
    return wall


async def record_reading(
    api: httpx.AsyncClient, parameter: str, value: float, measured_at: datetime
) -> None:
    body = {
        "site_id": "WRH",
        "parameter": parameter,
        "value": value,
        "measured_at": measured_at.isoformat(),
    }
    answer = await api.post("/api/v1/opel/readings", json=body)
    assert answer.status_code == 202, answer.text


async def test_a_manager_acknowledges_an_alert_reads_opel_and_sees_the_alert_leave(
    processes: Processes, hospital: Hospital, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    processes.start("alert-watch")
    await hospital.watching()

    page = await chromium.new_page()
    await page.goto(f"{base}/", timeout=WAIT_MS)
    await sign_in_through_the_form(page, MANAGER)
    await (
        page.get_by_role("banner")
        .get_by_role("link", name="Capacity alerts")
        .click(timeout=WAIT_MS)
    )
    await expect(
        page.get_by_role("heading", name="Capacity alerts", level=1), "no capacity alerts page"
    ).to_be_visible(timeout=WAIT_MS)
    await page.wait_for_load_state("load", timeout=WAIT_MS)
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    await board_is_live(page)
    open_alerts = page.get_by_role("region", name="Open alerts")
    await expect(open_alerts.get_by_text("No open alerts.")).to_be_visible(timeout=WAIT_MS)

    wall = await open_the_wall_screen(chromium, base)
    await expect(alert_count(wall)).to_have_text("None open", timeout=WAIT_MS)

    # The ward fills, and stays full for longer than the rule's 15 minutes.
    hospital.feed.publish(
        [admitted(f"S{n}", one, hospital.minute(80), WARD) for n, one in enumerate(BEDS)]
    )
    await expect(bed_card(wall, "B9"), "the ward did not fill").to_contain_text(
        "Occupied", timeout=WAIT_MS
    )
    await hospital.ticked(75)
    await hospital.ticked(55)

    alert = page.get_by_role("listitem", name=ALERT)
    await expect(alert, "the alert did not reach the page").to_be_visible(timeout=WAIT_MS)
    warnings = open_alerts.get_by_role("region", name="Warning (1)")
    await expect(warnings.get_by_role("listitem", name=ALERT)).to_have_count(1)
    for shown in (
        "Occupancy: 100%. Raised above 92%, clears at or below 90%",
        "1 ward, 10 patients",
        "Step 1 of the site ladder: nurse in charge told",
        "Not acknowledged",
    ):
        await expect(alert).to_contain_text(shown, timeout=WAIT_MS)
    await expect(alert_count(wall), "the wall missed the alert").to_have_text(
        "1 open", timeout=WAIT_MS
    )
    await nothing_private_on(wall)

    # Acknowledged from the keyboard, with a note: the page says by whom.
    note = alert.get_by_label("Note (optional)")
    await note.fill(NOTE, timeout=WAIT_MS)
    await note.press("Enter", timeout=WAIT_MS)
    await expect(alert, "the acknowledgement did not reach the page").to_contain_text(
        f"Acknowledged by {MANAGER_ID} (you)", timeout=WAIT_MS
    )
    await expect(alert).to_contain_text(f"Note: {NOTE}")
    await expect(alert.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await expect(pressure_item(page, "Not acknowledged")).to_have_text("Not acknowledged0")

    # OPEL: the full ward scores 4 of 4 on occupancy and on discharges against
    # admissions; nothing is reported yet.
    royal = page.get_by_role("region", name="OPEL", exact=True).get_by_role(
        "region", name="Royal", exact=True
    )
    await expect(royal.locator(".opel-level"), "no OPEL for the site").to_contain_text(
        "OPEL 2Moderate pressure", timeout=WAIT_MS
    )
    occupancy = royal.get_by_role("row", name=re.compile("^General and acute bed occupancy"))
    await expect(occupancy.get_by_role("cell")).to_have_text(
        ["100%", "4", "2", "Live picture"], timeout=WAIT_MS
    )
    handover = royal.get_by_role("row", name=re.compile("^Mean ambulance handover time"))
    await expect(handover.get_by_role("cell").first).to_have_text("No value")
    await expect(pressure_item(wall, "Royal"), "the wall shows no OPEL").to_have_text(
        "RoyalOPEL 2", timeout=WAIT_MS
    )
    await expect(pressure_item(wall, "Whole system")).to_have_text("Whole systemOPEL 2")

    # A manager's readings: a fresh one counts, one measured hours ago is stale.
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        await sign_in_when_up(api, MANAGER)
        await record_reading(api, "ambulance_handover_mean_minutes", 70, hospital.at(50))
        await record_reading(api, "ed_four_hour_pct", 65, hospital.at(6 * 60))
    await hospital.readings(2)
    await hospital.ticked(45)
    await expect(handover.get_by_role("cell"), "the reading did not reach the page").to_have_text(
        ["70 min", "4", "1", re.compile(r"\d\d:\d\d")], timeout=WAIT_MS
    )
    await expect(
        royal.locator(".opel-level"), "the reading did not raise the level"
    ).to_contain_text("OPEL 3Severe pressure")
    four_hours = royal.get_by_role(
        "row", name=re.compile("^Emergency department 4-hour performance")
    )
    await expect(four_hours.get_by_role("cell").first).to_contain_text("Stale", timeout=WAIT_MS)
    await expect(four_hours.get_by_role("cell").first).to_contain_text("Too old to count")
    await expect(four_hours, "a stale reading is shown as current").not_to_contain_text("65")
    await expect(four_hours.get_by_role("cell").nth(1)).to_have_text("Not scored")
    await assert_accessible(page, "the capacity alerts page")

    # A resolution by hand, held back on its way while a patient leaves and the alert
    # resolves itself: it leaves the list, and the late resolution is refused.
    held = asyncio.Event()
    sent: list[str] = []

    async def hold(route: Route) -> None:
        sent.append(route.request.url)
        await held.wait()
        await route.continue_()

    await page.route("**/resolve", hold)
    await alert.get_by_text("Resolve by hand…").click(timeout=WAIT_MS)
    await alert.get_by_label("Reason for resolving").fill("Beds opened", timeout=WAIT_MS)
    await alert.get_by_role("button", name="Resolve").click(timeout=WAIT_MS)
    for _ in range(100):
        if sent:
            break
        await asyncio.sleep(0.1)
    assert sent, "the page sent no resolution"

    hospital.feed.publish([discharged("S0", hospital.minute(40))])
    await expect(bed_card(wall, "B0"), "the patient did not leave").not_to_contain_text(
        "Occupied", timeout=WAIT_MS
    )
    await hospital.ticked(35)
    await expect(alert, "the resolved alert stayed on the list").to_have_count(0, timeout=WAIT_MS)
    await expect(open_alerts.get_by_text("No open alerts.")).to_be_visible(timeout=WAIT_MS)
    await expect(alert_count(wall)).to_have_text("None open", timeout=WAIT_MS)
    held.set()
    await expect(open_alerts.get_by_role("alert"), "the refusal is not shown").to_have_text(
        f"{ALERT}: the alert is already resolved", timeout=WAIT_MS
    )

    # 90% occupied: the site falls to OPEL 2, and its charts show the change.
    await expect(royal.locator(".opel-level")).to_contain_text(
        "OPEL 2Moderate pressure", timeout=WAIT_MS
    )
    await expect(
        royal.get_by_role("img", name=re.compile(r"^Last 24 hours: .*OPEL 3 from .*OPEL 2 from"))
    ).to_have_count(1)
    await expect(royal.get_by_role("img", name=re.compile(r"^Last 7 days: "))).to_have_count(1)
    await expect(pressure_item(wall, "Royal")).to_have_text("RoyalOPEL 2", timeout=WAIT_MS)
    await expect(pressure_item(wall, "Whole system")).to_have_text(
        "Whole systemOPEL 1", timeout=WAIT_MS
    )

    assert loads == [], f"the alerts page was loaded again: {loads}"
    await nothing_private_on(wall)


PHONE = ViewportSize(width=390, height=844)
# A time as the page writes it: the clock, after the day when it is not today.
AT = r"at [^,;]*?\d\d:\d\d"


def trend(page: Page, name: str) -> Locator:
    """A trend chart, by the measure it draws."""
    return page.get_by_role("region", name="Trends").get_by_role("figure", name=re.compile(name))


async def occupied(hospital: Hospital, count: int) -> None:
    """Waits for the view to have the ward's ten beds, ``count`` of them occupied: a tick
    travels on a partition of its own, and the watch samples the view as it has it."""
    for _ in range(600):
        beds = await hospital.reads.ward_beds(WARD)
        if len(beds) == len(BEDS) and sum(1 for one in beds if one.occupants) == count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the view never had {count} of the ward's beds occupied")


async def test_a_manager_follows_a_sites_trends_on_a_phone_over_a_day_and_a_week(
    processes: Processes, hospital: Hospital, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    await occupied(hospital, 0)
    # Ticked again once the ward is in the view, so that the watch's first sample counts it.
    await hospital.ticked(90)
    processes.start("alert-watch")
    await hospital.watching()

    page = await chromium.new_page()
    await page.set_viewport_size(PHONE)
    await page.goto(f"{base}/", timeout=WAIT_MS)
    await sign_in_through_the_form(page, MANAGER)
    await page.goto(f"{base}/alerts.html", timeout=WAIT_MS)
    await board_is_live(page)
    trends = page.get_by_role("region", name="Trends")
    await trends.get_by_label("Place").select_option(label="Royal", timeout=WAIT_MS)
    occupancy = trend(page, "^Occupancy")
    # The sample of the clock's first tick, before anyone is admitted.
    await expect(occupancy.locator("figcaption"), "no sample of the empty ward").to_have_text(
        re.compile(f"^Occupancy 0% {AT}$"), timeout=WAIT_MS
    )

    # The ward fills, then two patients go home: each quarter hour's sample reaches the
    # charts without a reload.
    hospital.feed.publish(
        [admitted(f"S{n}", one, hospital.minute(80), WARD) for n, one in enumerate(BEDS)]
    )
    await occupied(hospital, len(BEDS))
    await hospital.ticked(75)
    await expect(occupancy.locator("figcaption"), "the full ward was not drawn").to_have_text(
        re.compile(f"^Occupancy 100% {AT}$"), timeout=WAIT_MS
    )
    hospital.feed.publish([discharged(f"S{n}", hospital.minute(50)) for n in (0, 1)])
    await occupied(hospital, len(BEDS) - 2)
    await hospital.ticked(45)
    await expect(occupancy.locator("figcaption"), "the discharges were not drawn").to_have_text(
        re.compile(f"^Occupancy 80% {AT}$"), timeout=WAIT_MS
    )
    # Their beds wait to be cleaned: none is available.
    await expect(trend(page, "^Available beds").locator("figcaption")).to_have_text(
        re.compile(f"^Available beds 0 {AT}$")
    )

    chart = occupancy.get_by_role("img")
    await expect(chart).to_have_attribute(
        "aria-label",
        re.compile(
            f"^Occupancy, Royal, last 24 hours: 0% {AT}, latest 80% {AT};"
            f" lowest 0% {AT}, highest 100% {AT}\\. Lines mark 85% and 92%\\.$"
        ),
    )
    await expect(occupancy.locator(".trend-reference")).to_have_count(2)
    await expect(occupancy).to_contain_text("92%: the usual NHS ceiling")
    figures = trends.get_by_role("table", name="In figures: Royal, last 24 hours")
    await expect(figures.get_by_role("row", name=re.compile("^Occupancy"))).to_have_text(
        re.compile(f"^Occupancy80% {AT}0% {AT}100% {AT}$")
    )
    waiting = figures.get_by_role("row", name=re.compile("^Patients waiting for a bed"))
    await expect(waiting.get_by_role("cell").first).to_have_text(re.compile(f"^0 {AT}$"))

    await trends.get_by_role("radio", name="7 days").check(timeout=WAIT_MS)
    await expect(chart).to_have_attribute(
        "aria-label",
        re.compile(f"^Occupancy, Royal, last 7 days: .* latest 80% {AT};"),
        timeout=WAIT_MS,
    )
    await expect(trends.get_by_role("table", name="In figures: Royal, last 7 days")).to_be_visible()
    await expect(occupancy.locator(".trend-time").first).to_have_text(re.compile(r"^\w{3} \d+$"))

    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways on a phone by {overflow} px"
    await assert_accessible(page, "the capacity alerts page's trends on a phone")

    await trends.get_by_role("radio", name="24 hours").check(timeout=WAIT_MS)
    await trends.get_by_label("Place").select_option(label="Whole system", timeout=WAIT_MS)
    await expect(
        trends.get_by_role("table", name="In figures: Whole system, last 24 hours")
    ).to_be_visible(timeout=WAIT_MS)
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(f"^Occupancy, Whole system, last 24 hours: .* latest 80% {AT};")
    )

"""Ward staff setting a bed's state on the ward board, in a real browser: two taps, seen
at once as pending, confirmed by its own event, rolled back with the server's reason when
refused, undone, and all of it with a keyboard alone.

The nurse's socket runs through a gate the test can hold, so that what the page shows
before its change's event comes back (pending) and a change refused because the page had
not yet heard of an admission are seen for certain, not by luck of timing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from tests.accounts import account, device
from tests.builders import admitted, bed, bed_status, minutes_from_t0, organisation, site, ward
from tests.e2e.conftest import (
    WAIT_MS,
    Gate,
    Processes,
    WatchedBrowser,
    assert_accessible,
    bed_card,
    choices_open_and_close_by_keyboard,
    hospital_of,
    open_through_a_gate,
    pair_wall_screen,
    rest_until,
    sign_in_through_the_form,
    sign_in_when_up,
    signed_in_at,
    start_whiteboard,
    undo_is_spent,
)

WARD = "WRH-TEME2"
# Under the 30 s after which the board drops a change that was never confirmed, so that
# a change seen confirmed within it was confirmed by its own event.
CONFIRMED_WITHIN_MS = 10_000
NURSE = "charge.nurse"
COORDINATOR = "flow.coordinator"
WALL_TOKEN, WALL_ACCOUNT = device("acc-wall-teme2", "wall.teme2", "display", WARD)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"bed-changes-{uuid.uuid4().hex[:12]}"})


@pytest.fixture
def hospital(settings: Settings) -> Iterator[KafkaPublisher]:
    """A ward of two beds in a bay, one of them waiting to be cleaned, and a side room, and
    the accounts of its nurse, a flow centre coordinator and the ward's wall screen."""
    events = [
        organisation("RWP"),
        site("WRH", "RWP"),
        ward(WARD, "WRH"),
        *(bed(f"{WARD}-B{n}", WARD, label=f"Bed {n}", room="Bay 1") for n in (1, 2)),
        bed(f"{WARD}-B3", WARD, label="Bed 3", room="Side room 3", side_room=True),
        bed_status(f"{WARD}-B2", "awaiting_clean", minute=-30),
    ]
    with hospital_of(
        settings,
        events,
        [
            *account("acc-charge-nurse", NURSE, "ward_staff", WARD),
            *account("acc-flow-coordinator", COORDINATOR, "flow_centre"),
            *WALL_ACCOUNT,
        ],
    ) as publisher:
        yield publisher


def state_of(card: Locator) -> Locator:
    return card.locator(".bed-state")


async def open_ward(chromium: WatchedBrowser, base: str, username: str) -> Page:
    page = await signed_in_at(chromium, f"{base}/#/ward/{WARD}", username)
    await expect(page.get_by_role("heading", name=WARD, level=1)).to_be_visible(timeout=WAIT_MS)
    return page


async def open_gated_ward(chromium: WatchedBrowser, base: str) -> tuple[Page, Gate]:
    """The nurse's ward board, its socket through a gate."""
    return await open_through_a_gate(chromium, f"{base}/#/ward/{WARD}", NURSE)


async def test_a_bed_marked_clean_in_two_taps_reaches_the_flow_centre_and_the_wall_at_once(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    centre = await chromium.new_page()
    await centre.goto(f"{base}/", timeout=WAIT_MS)
    await sign_in_through_the_form(centre, COORDINATOR)
    # The flow centre looks for a free side room at the site.
    await centre.get_by_role("heading", level=2).get_by_role("link").first.click(timeout=WAIT_MS)
    await expect(centre).to_have_url(f"{base}/#/site/WRH", timeout=WAIT_MS)
    free = centre.locator("table.free-beds tbody tr")
    await expect(free, "the free beds are not listed, side rooms first").to_have_text(
        [re.compile(r"^Bed 3.*Side room 3\s*Side room"), re.compile(r"^Bed 1")], timeout=WAIT_MS
    )
    await assert_accessible(centre, "a site's board")
    row = centre.get_by_role("row").filter(has=centre.get_by_role("link", name=WARD, exact=True))
    # Occupied, available, to clean, closed, beds, occupancy.
    await expect(row.get_by_role("cell")).to_have_text(
        ["0", "2", "1", "0", "3", "0.0%"], timeout=WAIT_MS
    )
    wall = await chromium.new_page()
    await pair_wall_screen(wall, f"{base}/#/ward/{WARD}", WALL_TOKEN)
    await expect(state_of(bed_card(wall, "Bed 2"))).to_have_text("Awaiting clean", timeout=WAIT_MS)
    nurse = await open_ward(chromium, base, NURSE)
    card = bed_card(nurse, "Bed 2")
    await expect(state_of(card)).to_have_text("Awaiting clean", timeout=WAIT_MS)

    await card.get_by_role("button", name="Change state of Bed 2").click(timeout=WAIT_MS)
    await card.get_by_role("button", name="Clean", exact=True).click(timeout=WAIT_MS)

    await expect(state_of(card), "the change was not confirmed").to_have_text(
        "Available", timeout=WAIT_MS
    )
    await expect(nurse.locator(".last-change"), "the change is not offered to undo").to_have_text(
        "Bed 2 set to Clean. Undo", timeout=WAIT_MS
    )
    await expect(row.get_by_role("cell"), "the flow centre missed the clean bed").to_have_text(
        ["0", "3", "0", "0", "3", "0.0%"], timeout=WAIT_MS
    )
    await expect(free, "the clean bed is not listed free").to_have_count(3, timeout=WAIT_MS)
    await expect(state_of(bed_card(wall, "Bed 2")), "the wall missed the clean bed").to_have_text(
        "Available", timeout=WAIT_MS
    )
    assert not await wall.get_by_role("button", name="Change state of Bed 2").count(), (
        "the wall screen offers to change a bed"
    )


async def test_a_change_is_pending_until_its_event_comes_back_and_can_be_undone(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page, gate = await open_gated_ward(chromium, base)
    card = bed_card(page, "Bed 2")
    await expect(state_of(card)).to_have_text("Awaiting clean", timeout=WAIT_MS)

    gate.held = True
    await card.get_by_role("button", name="Change state of Bed 2").click(timeout=WAIT_MS)
    await card.get_by_role("button", name="Being cleaned").click(timeout=WAIT_MS)
    await expect(state_of(card), "the change is not shown at once").to_contain_text(
        "Being cleaned", timeout=WAIT_MS
    )
    saving = card.locator(".flag-pending")
    await expect(saving, "the change is not shown as pending").to_have_text(
        "Saving", timeout=WAIT_MS
    )
    await assert_accessible(page, "a ward's board with a change saving")
    await expect(page.locator(".last-change")).to_have_text(
        "Bed 2 set to Being cleaned (saving).", timeout=WAIT_MS
    )
    gate.release()
    # Well within the 30 s after which an unconfirmed change is dropped anyway.
    await expect(saving, "the change's event did not confirm it").to_have_count(
        0, timeout=CONFIRMED_WITHIN_MS
    )
    await expect(card.locator(".problem"), "a confirmed change reported a problem").to_have_count(0)
    await expect(state_of(card)).to_have_text("Being cleaned", timeout=WAIT_MS)

    await page.get_by_role("button", name="Undo").click(timeout=WAIT_MS)
    await expect(saving, "the undo's event did not confirm it").to_have_count(
        0, timeout=CONFIRMED_WITHIN_MS
    )
    await expect(state_of(card), "undo did not put the bed back").to_have_text(
        "Awaiting clean", timeout=WAIT_MS
    )
    await undo_is_spent(page, card.get_by_role("button", name="Change state of Bed 2"))


async def test_a_refused_change_rolls_back_and_says_why(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page, gate = await open_gated_ward(chromium, base)
    card = bed_card(page, "Bed 3")
    await expect(state_of(card)).to_have_text("Available", timeout=WAIT_MS)

    # A patient takes the bed while the nurse's board has not yet heard of it.
    gate.held = True
    eight_days_ago = minutes_from_t0(datetime.now(UTC) - timedelta(days=8, hours=1))
    hospital.publish([admitted("S-REFUSED", f"{WARD}-B3", eight_days_ago, ward_id=WARD)])
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        await sign_in_when_up(api, NURSE)
        await rest_until(api, f"/api/v1/beds/{WARD}-B3", lambda seen: seen["state"] == "occupied")
    await card.get_by_role("button", name="Change state of Bed 3").click(timeout=WAIT_MS)
    await card.get_by_role("button", name="Closed").click(timeout=WAIT_MS)

    await expect(card.locator(".problem"), "the refusal is not explained").to_contain_text(
        "it is occupied", timeout=WAIT_MS
    )
    await expect(state_of(card), "the refused change was not rolled back").to_have_text(
        "Available", timeout=WAIT_MS
    )
    gate.release()
    await expect(state_of(card)).to_have_text("Occupied", timeout=WAIT_MS)
    await expect(card.get_by_title("Length of stay"), "no long-stay flag").to_have_text(
        "8 days7+ days", timeout=WAIT_MS
    )


async def test_a_bed_changes_state_with_the_keyboard_alone(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page = await open_ward(chromium, base, NURSE)
    card = bed_card(page, "Bed 1")
    toggle = card.get_by_role("button", name="Change state of Bed 1")
    await expect(state_of(card)).to_have_text("Available", timeout=WAIT_MS)

    first = card.get_by_role("button", name="Awaiting clean")
    await choices_open_and_close_by_keyboard(page, toggle, first, "a bed's choices of state")
    await page.keyboard.press("Tab")
    second = card.get_by_role("button", name="Being cleaned")
    await expect(second).to_be_focused(timeout=WAIT_MS)
    # Another bed of the ward changes, and the board is drawn again around the keyboard.
    hospital.publish([bed_status(f"{WARD}-B2", "cleaning", minute=40)])
    await expect(state_of(bed_card(page, "Bed 2"))).to_have_text("Being cleaned", timeout=WAIT_MS)
    await expect(second, "a change elsewhere lost the keyboard's place").to_be_focused()
    await page.keyboard.press("Enter")
    await expect(state_of(card), "the keyboard's change was not made").to_have_text(
        "Being cleaned", timeout=WAIT_MS
    )
    await expect(toggle, "the keyboard's place was lost").to_be_focused(timeout=WAIT_MS)

    # The same ward as a wall: read-only, whoever is signed in.
    await page.goto(f"{base}/#/wall?views=ward/{WARD}", timeout=WAIT_MS)
    await expect(page.locator("html.wall")).to_have_count(1, timeout=WAIT_MS)
    await expect(
        page.get_by_role("button", name="Change state"), "a wall offers to change beds"
    ).to_have_count(0, timeout=WAIT_MS)
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT_MS)

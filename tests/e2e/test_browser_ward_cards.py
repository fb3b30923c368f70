"""A patient's plan on their bed's card, in a real browser: what ward staff see at a
glance (expected discharge date, criteria to reside, red or green day, pathway, tasks
still to do), and each of its updates in two taps, pending until its event comes back,
refused with the server's reason and undone, with a keyboard alone where it matters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from tests.accounts import account, device
from tests.builders import (
    admitted,
    bed,
    day_marked,
    discharged,
    minutes_from_t0,
    organisation,
    referred,
    reside_reviewed,
    site,
    task_updated,
    triaged_onto,
    ward,
)
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    bed_card,
    choices_open_and_close_by_keyboard,
    hospital_of,
    open_through_a_gate,
    pair_wall_screen,
    rest_until,
    sign_in_when_up,
    signed_in_at,
    start_whiteboard,
    undo_is_spent,
)

WARD = "WRH-AVON3"
NURSE = "ward.nurse"
WALL_TOKEN, WALL_ACCOUNT = device("acc-wall-avon3", "wall.avon3", "display", WARD)
CONFIRMED_WITHIN_MS = 10_000


def today() -> date:
    # The board marks days on the browser's calendar, which is this machine's.
    return datetime.now().astimezone().date()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"ward-cards-{uuid.uuid4().hex[:12]}"})


@pytest.fixture
def hospital(settings: Settings) -> Iterator[KafkaPublisher]:
    """A bay of two patients: one referred onto pathway 1 with no criteria to reside, its
    transport booked and the rest of its tasks to do, marked red yesterday; one just
    admitted, with no plan yet. The ward's nurse and its wall screen have accounts."""
    now = minutes_from_t0(datetime.now(UTC))
    yesterday = (today() - timedelta(days=1)).isoformat()
    events = [
        organisation("RWP"),
        site("WRH", "RWP"),
        ward(WARD, "WRH"),
        *(bed(f"{WARD}-B{n}", WARD, label=f"Bed {n}", room="Bay 1") for n in (1, 2)),
        admitted("S-PLANNED", f"{WARD}-B1", now - 3 * 24 * 60, ward_id=WARD),
        referred("S-PLANNED", now - 2 * 24 * 60),
        triaged_onto("S-PLANNED", "1", now - 2 * 24 * 60 + 30),
        reside_reviewed("S-PLANNED", now - 24 * 60, meets=False),
        day_marked("S-PLANNED", now - 20 * 60, yesterday, green=False, reason="waiting"),
        task_updated("S-PLANNED", "transport", "done", now - 60),
        admitted("S-NEW", f"{WARD}-B2", now - 120, ward_id=WARD, given_name="Bo"),
    ]
    with hospital_of(
        settings, events, [*account("acc-ward-nurse", NURSE, "ward_staff", WARD), *WALL_ACCOUNT]
    ) as publisher:
        yield publisher


async def open_ward(chromium: WatchedBrowser, base: str) -> Page:
    page = await signed_in_at(chromium, f"{base}/#/ward/{WARD}", NURSE)
    await expect(page.get_by_role("heading", name=WARD, level=1)).to_be_visible(timeout=WAIT_MS)
    return page


async def choose(card: Locator, bed_label: str, choice: str) -> None:
    """The two taps: the plan's button, then the choice."""
    await card.get_by_role("button", name=f"Update the plan of {bed_label}").click(timeout=WAIT_MS)
    await card.get_by_role("button", name=choice, exact=True).click(timeout=WAIT_MS)


async def settled(card: Locator) -> None:
    await expect(card.locator(".flag-pending"), "the change was not confirmed").to_have_count(
        0, timeout=CONFIRMED_WITHIN_MS
    )
    await expect(card.locator(".problem"), "a confirmed change reported a problem").to_have_count(0)


async def test_a_card_shows_the_plan_at_a_glance_and_the_wall_shows_none_of_it(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page = await open_ward(chromium, base)
    planned = bed_card(page, "Bed 1")
    facts = planned.locator(".bed-plan-facts")
    await expect(facts.locator(".edd"), "the plan is not on the card").to_have_text(
        "No EDD", timeout=WAIT_MS
    )
    await expect(facts.locator(".ctr")).to_contain_text("NCTR since")
    # Yesterday's red day is yesterday's: today is not marked yet.
    await expect(facts.locator(".day")).to_have_text("Day not marked")
    await expect(facts.locator(".pathway")).to_have_text("Pathway 1")
    await expect(
        planned.locator(".bed-plan-tasks"), "the tasks still to do are not listed"
    ).to_have_text("To do: Medicines to take home, Equipment, Care start agreed, Family informed")
    fresh = bed_card(page, "Bed 2")
    await expect(fresh.locator(".ctr")).to_have_text("CtR not reviewed")
    await expect(fresh.locator(".pathway")).to_have_count(0)
    await expect(fresh.locator(".bed-plan-tasks")).to_have_count(0)
    await assert_accessible(page, "a ward's board with plans on its cards")

    wall = await chromium.new_page()
    await pair_wall_screen(wall, f"{base}/#/ward/{WARD}", WALL_TOKEN)
    await expect(bed_card(wall, "Bed 1").locator(".initials")).to_have_text("AL", timeout=WAIT_MS)
    await expect(wall.locator(".bed-plan"), "a wall screen shows patients' plans").to_have_count(0)
    # A person's own session on a wall address shows no plan either.
    await page.goto(f"{base}/#/wall?views=ward/{WARD}", timeout=WAIT_MS)
    await expect(page.locator("html.wall")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator(".bed-plan"), "a wall address shows patients' plans").to_have_count(0)


async def test_each_part_of_a_plan_changes_in_two_taps_pending_until_its_event_and_undone(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page, gate = await open_through_a_gate(chromium, f"{base}/#/ward/{WARD}", NURSE)
    card = bed_card(page, "Bed 1")
    facts = card.locator(".bed-plan-facts")
    await expect(facts.locator(".day")).to_have_text("Day not marked", timeout=WAIT_MS)

    gate.held = True
    await choose(card, "Bed 1", "Red day")
    await expect(facts.locator(".day"), "the change is not shown at once").to_have_text("Red day")
    await expect(facts.locator(".flag-pending"), "the change is not shown pending").to_have_text(
        "Saving", timeout=WAIT_MS
    )
    await assert_accessible(page, "a card with a plan change saving")
    gate.release()
    await settled(card)
    await expect(facts.locator(".day")).to_have_text("Red day")

    await choose(card, "Bed 1", "Green day")
    await settled(card)
    await expect(facts.locator(".day"), "the day did not turn green").to_have_text("Green day")
    await choose(card, "Bed 1", "Tomorrow")
    await settled(card)
    tomorrow = today() + timedelta(days=1)
    await expect(facts.locator(".edd"), "the expected date was not set").to_have_text(
        f"EDD {tomorrow.day} {tomorrow.strftime('%b')}"
    )
    await card.get_by_role("button", name="Update the plan of Bed 1").click(timeout=WAIT_MS)
    later = today() + timedelta(days=5)
    await card.get_by_label("Expected discharge on another date").fill(
        later.isoformat(), timeout=WAIT_MS
    )
    await card.get_by_role("button", name="Set date").click(timeout=WAIT_MS)
    await settled(card)
    await expect(facts.locator(".edd"), "another date was not set").to_have_text(
        f"EDD {later.day} {later.strftime('%b')}"
    )
    await choose(card, "Bed 1", "Meets criteria")
    await settled(card)
    await expect(facts.locator(".ctr")).to_have_text("Meets CtR")
    # A review is not undone: it would restart the time without criteria to reside.
    await expect(page.locator(".last-change")).to_have_text(
        "Bed 1 criteria to reside set to met.", timeout=WAIT_MS
    )
    await choose(card, "Bed 1", "Medicines to take home: done")
    await settled(card)
    await expect(card.locator(".bed-plan-tasks"), "the task done is still listed").to_have_text(
        "To do: Equipment, Care start agreed, Family informed"
    )
    await expect(page.locator(".last-change")).to_have_text(
        "Bed 1 medicines to take home task set to done. Undo", timeout=WAIT_MS
    )

    await page.get_by_role("button", name="Undo").click(timeout=WAIT_MS)
    await settled(card)
    await expect(card.locator(".bed-plan-tasks"), "undo did not put the task back").to_have_text(
        "To do: Medicines to take home, Equipment, Care start agreed, Family informed",
        timeout=WAIT_MS,
    )
    await undo_is_spent(page, card.get_by_role("button", name="Update the plan of Bed 1"))


async def test_a_refused_plan_change_rolls_back_and_says_why(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page, gate = await open_through_a_gate(chromium, f"{base}/#/ward/{WARD}", NURSE)
    card = bed_card(page, "Bed 2")
    await expect(card.locator(".day")).to_have_text("Day not marked", timeout=WAIT_MS)

    # The patient goes home while the nurse's board has not yet heard of it.
    gate.held = True
    hospital.publish([discharged("S-NEW", minutes_from_t0(datetime.now(UTC)))])
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        await sign_in_when_up(api, NURSE)
        await rest_until(api, f"/api/v1/beds/{WARD}-B2", lambda seen: seen["state"] != "occupied")
    await choose(card, "Bed 2", "Green day")
    await expect(card.locator(".problem"), "the refusal is not explained").to_contain_text(
        "no patient of it is in hospital", timeout=WAIT_MS
    )
    await expect(card.locator(".day"), "the refused change was not rolled back").to_have_text(
        "Day not marked", timeout=WAIT_MS
    )
    gate.release()
    await expect(card.locator(".bed-plan"), "the plan stayed after the patient left").to_have_count(
        0, timeout=WAIT_MS
    )


async def test_a_plan_changes_with_the_keyboard_alone(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page = await open_ward(chromium, base)
    card = bed_card(page, "Bed 2")
    toggle = card.get_by_role("button", name="Update the plan of Bed 2")
    first = card.get_by_role("button", name="Today", exact=True)
    await choices_open_and_close_by_keyboard(page, toggle, first, "a plan's choices")
    await page.keyboard.press("Tab")
    await expect(card.get_by_role("button", name="Tomorrow", exact=True)).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(card.get_by_role("button", name="Meets criteria")).to_be_focused()
    await page.keyboard.press("Enter")
    await settled(card)
    await expect(card.locator(".ctr"), "the keyboard's change was not made").to_have_text(
        "Meets CtR", timeout=WAIT_MS
    )
    await expect(toggle, "the keyboard's place was lost").to_be_focused(timeout=WAIT_MS)

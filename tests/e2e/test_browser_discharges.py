"""The discharge planning page in a real browser: Debian's Chromium, driven by Playwright,
against a worker and an API running as separate processes on the real broker and Redis.

A flow centre coordinator takes one patient from the ward's discharge list through the
flow centre's queue: referral, triage, a task, a reservation of community capacity; then
the discharge, from the feed, takes the patient off the lists. A ward's nurse marks the
patient's day red, then green. Every step is seen on the page as the socket brings it,
without a reload.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from tests.accounts import account, record
from tests.builders import admitted, bed, event, minutes_from_t0, organisation, site, ward
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    sign_in_through_the_form,
    start_whiteboard,
)

WARD = "WRH-AVON4"
OTHER_WARD = "WRH-AVON5"
BED = "WRH-AVON4-B01-1"
SPELL = "RWP:V1001"
COORDINATOR = "flow.coordinator"
NURSE = "avon4.nurse"
AREA = "wyre-forest"
#: Lives alone and needs some help with daily living: the rules propose pathway 1.
ANSWERS = {
    "Lived before admission in": "own_home",
    "Lives alone": "true",
    "Care before admission": "none",
    "Mobility": "with_aid",
    "Daily living (washing, dressing, eating, toileting)": "some_help",
    "Cognition": "intact",
    "Rehabilitation potential": "good",
}
PATHWAY_1 = "Pathway 1: home with new or restarted support"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with Redis keys of this test's own."""
    return settings.model_copy(update={"redis_prefix": f"discharges-{uuid.uuid4().hex[:12]}"})


@pytest.fixture
def hospital(settings: Settings) -> Iterator[tuple[KafkaPublisher, str]]:
    """Two wards, a patient admitted eight days ago, a reablement start declared for
    tomorrow, and a flow centre coordinator's account; answers the feed and the pool's key."""
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    feed = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    now = datetime.now(UTC)
    tomorrow = (now.astimezone(ZoneInfo(settings.timezone)).date() + timedelta(days=1)).isoformat()
    reablement = {"service": "reablement", "area": AREA, "day": tomorrow}
    feed.publish(
        [
            organisation("RWP"),
            site("WRH", "RWP"),
            ward(WARD, "WRH"),
            ward(OTHER_WARD, "WRH"),
            bed(BED, WARD, label="Bed 1", room="Bay 1"),
            admitted(SPELL, BED, minutes_from_t0(now - timedelta(days=8)), WARD),
            event(
                "CapacityDeclared",
                {"organisation_id": "WCC", "capacity": reablement, "available": 1},
                minutes_from_t0(now) - 5,
                source={"system": "care-brokerage", "organisation": "WCC"},
            ),
        ]
    )
    record(settings, account("acc-flow-coordinator", COORDINATOR, "flow_centre"))
    try:
        yield feed, f"reablement:{AREA}:{tomorrow}"
    finally:
        feed.close()


def patient_row(area: Locator, page: Page) -> Locator:
    """The row of the patient, Ada Lovelace, known on the lists by her initials."""
    return area.get_by_role("row").filter(has=page.get_by_text("AL", exact=True))


async def test_a_coordinator_takes_a_patient_from_the_ward_list_through_the_queue(
    processes: Processes,
    hospital: tuple[KafkaPublisher, str],
    chromium: WatchedBrowser,
) -> None:
    feed, pool_key = hospital
    base = await start_whiteboard(processes)
    page = await chromium.new_page()
    await page.goto(f"{base}/", timeout=WAIT_MS)
    await sign_in_through_the_form(page, COORDINATOR)
    await page.get_by_role("link", name="Discharge planning").click(timeout=WAIT_MS)
    await expect(
        page.get_by_role("heading", name="Discharge planning", level=1), "no discharge page"
    ).to_be_visible(timeout=WAIT_MS)
    await page.wait_for_load_state("load", timeout=WAIT_MS)
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    await expect(page.get_by_role("status"), "the page's socket did not open").to_have_text(
        "Live", timeout=WAIT_MS
    )

    # The ward's list: the patient, not referred, eight days in hospital.
    wards = page.get_by_role("region", name="Ward discharge list")
    await wards.get_by_label("Ward", exact=True).select_option(WARD, timeout=WAIT_MS)
    on_ward = patient_row(wards, page)
    await expect(on_ward, "the patient is not on the ward's list").to_have_count(1, timeout=WAIT_MS)
    await expect(on_ward).to_contain_text("Bay 1, Bed 1", timeout=WAIT_MS)
    await expect(on_ward).to_contain_text("Not referred", timeout=WAIT_MS)
    await expect(on_ward, "no long-stay flag").to_contain_text("Stranded (7+ days)")
    await expect(on_ward, "an expected date before any was set").to_contain_text("Not set")

    await on_ward.get_by_role("button", name="Open plan: AL, Bay 1, Bed 1").click(timeout=WAIT_MS)
    plan = page.get_by_role("region", name="Discharge plan: AL, Bay 1, Bed 1")
    await expect(plan, "the patient's plan did not open").to_be_visible(timeout=WAIT_MS)

    # The expected discharge date, today: outstanding tasks will be flagged.
    today = await page.evaluate(
        "() => { const d = new Date(); return [d.getFullYear(),"
        " String(d.getMonth() + 1).padStart(2, '0'), String(d.getDate()).padStart(2, '0')]"
        ".join('-'); }"
    )
    edd = plan.get_by_role("form", name="Set the expected discharge date")
    await edd.get_by_label("Expected discharge date", exact=True).fill(today, timeout=WAIT_MS)
    await edd.get_by_role("button", name="Set date").click(timeout=WAIT_MS)
    await expect(on_ward, "the expected date did not reach the list").not_to_contain_text(
        "Not set", timeout=WAIT_MS
    )

    # Referred: the patient joins the queue, awaiting triage, without a reload.
    queue = page.get_by_role("region", name="Flow centre queue")
    untriaged = queue.get_by_role("region", name="Awaiting triage")
    await expect(patient_row(queue, page), "in the queue before any referral").to_have_count(0)
    referral = plan.get_by_role("form", name="Refer the patient")
    await referral.get_by_label("Note for the flow centre (optional)").fill("lives alone")
    await referral.get_by_role("button", name="Refer to the flow centre").click(timeout=WAIT_MS)
    waiting = patient_row(untriaged, page)
    await expect(waiting, "the referral did not reach the queue").to_have_count(1, timeout=WAIT_MS)
    await expect(waiting).to_contain_text("not triaged", timeout=WAIT_MS)
    await expect(waiting, "no 24-hour target shown").to_contain_text("to 24 h target")
    await expect(on_ward).to_contain_text("Awaiting triage", timeout=WAIT_MS)

    # Triage: the proposal first, then the allocation.
    triage = plan.get_by_role("form", name="Triage the referral")
    for question, answer in ANSWERS.items():
        await triage.get_by_label(question, exact=True).select_option(answer, timeout=WAIT_MS)
    await triage.get_by_role("button", name="Propose a pathway").click(timeout=WAIT_MS)
    await expect(triage, "no proposal shown").to_contain_text(
        f"Proposed: {PATHWAY_1}", timeout=WAIT_MS
    )
    await expect(triage).to_contain_text("lives alone and needs help with daily living")
    await triage.get_by_role("button", name="Allocate pathway 1").click(timeout=WAIT_MS)
    pathway_1 = queue.get_by_role("region", name=PATHWAY_1)
    in_pathway = patient_row(pathway_1, page)
    await expect(in_pathway, "the patient did not move to pathway 1's queue").to_have_count(
        1, timeout=WAIT_MS
    )
    await expect(patient_row(untriaged, page)).to_have_count(0, timeout=WAIT_MS)
    await expect(in_pathway).to_contain_text("no capacity reserved", timeout=WAIT_MS)
    await expect(in_pathway, "tasks due today not flagged").to_contain_text("Transport (due today)")
    await expect(pathway_1, "the free reablement start is not counted").to_contain_text(
        "1 place free from today"
    )
    await expect(on_ward, "outstanding tasks not flagged on the list").to_contain_text(
        "Due by discharge date", timeout=WAIT_MS
    )

    # A task done.
    done = plan.get_by_role("button", name="Mark transport done")
    await done.click(timeout=WAIT_MS)
    await expect(in_pathway, "the task's state did not reach the queue").to_contain_text(
        "Transport: Done", timeout=WAIT_MS
    )
    await expect(done, "a done task can still be marked done").to_be_disabled(timeout=WAIT_MS)
    await expect(in_pathway).not_to_contain_text("Transport (due today)", timeout=WAIT_MS)

    # The declared reablement start, reserved.
    reserve = plan.get_by_role("form", name="Reserve capacity")
    await reserve.get_by_label("Capacity", exact=True).select_option(pool_key, timeout=WAIT_MS)
    await reserve.get_by_role("button", name="Reserve").click(timeout=WAIT_MS)
    await expect(in_pathway, "the reservation is not in the queue").to_contain_text(
        f"Reablement, {AREA}", timeout=WAIT_MS
    )
    await expect(in_pathway).to_contain_text("held until", timeout=WAIT_MS)
    await expect(in_pathway).not_to_contain_text("no capacity reserved", timeout=WAIT_MS)
    await expect(pathway_1, "the reserved start is still counted free").to_contain_text(
        "0 places free from today", timeout=WAIT_MS
    )
    await expect(plan.get_by_role("button", name="Release")).to_be_visible(timeout=WAIT_MS)
    await assert_accessible(page, "the discharge planning page")

    # Discharged, as the feed says: the patient leaves the queue and the ward's list.
    left = datetime.now(UTC) + timedelta(seconds=1)
    payload = {"spell_id": SPELL, "destination": "usual_residence"}
    feed.publish([event("PatientDischarged", payload, minutes_from_t0(left))])
    await expect(in_pathway, "the discharged patient stayed in the queue").to_have_count(
        0, timeout=WAIT_MS
    )
    await expect(patient_row(wards, page), "the patient stayed on the ward's list").to_have_count(
        0, timeout=WAIT_MS
    )
    await expect(pathway_1).to_contain_text("0 waiting", timeout=WAIT_MS)
    await expect(page.locator("#plan-facts")).to_contain_text(
        "no longer on your discharge lists", timeout=WAIT_MS
    )
    assert loads == [], f"the page was loaded again: {loads}"
    markup = await page.content()
    for private in ("Ada", "Lovelace"):
        assert private not in markup, f"{private!r} is on the discharge page"


async def test_a_nurse_marks_the_patients_day_red_then_green_on_the_wards_list(
    settings: Settings,
    processes: Processes,
    hospital: tuple[KafkaPublisher, str],
    chromium: WatchedBrowser,
) -> None:
    record(settings, account("acc-avon4-nurse", NURSE, "ward_staff", WARD))
    base = await start_whiteboard(processes)
    page = await chromium.new_page()
    await page.goto(f"{base}/", timeout=WAIT_MS)
    await sign_in_through_the_form(page, NURSE)
    await page.get_by_role("link", name="Discharge planning").click(timeout=WAIT_MS)
    await expect(page.get_by_role("status"), "the page's socket did not open").to_have_text(
        "Live", timeout=WAIT_MS
    )
    wards = page.get_by_role("region", name="Ward discharge list")
    await wards.get_by_label("Ward", exact=True).select_option(WARD, timeout=WAIT_MS)
    on_ward = patient_row(wards, page)
    await expect(on_ward, "the patient is not on the ward's list").to_have_count(1, timeout=WAIT_MS)
    await expect(on_ward).to_contain_text("Not marked today", timeout=WAIT_MS)
    await assert_accessible(page, "the ward's list before the day is marked")

    # A red day, with why: the colour comes back with its words and the reason.
    today = on_ward.get_by_role("form", name="Mark today: AL, Bay 1, Bed 1")
    await today.get_by_label("Reason for a red day (optional)").fill("Awaiting the MRI")
    await today.get_by_role("button", name="Red day: AL, Bay 1, Bed 1").click(timeout=WAIT_MS)
    red = on_ward.locator(".day-mark-red")
    await expect(red, "the red day did not come back").to_have_text("Red day", timeout=WAIT_MS)
    await expect(on_ward).to_contain_text("Awaiting the MRI", timeout=WAIT_MS)
    await expect(on_ward).not_to_contain_text("Not marked today")
    await expect(wards.locator("#ward-problem")).to_have_text("")
    marked = await page.evaluate(
        "async (spell) => (await (await fetch(`api/v1/discharges/${encodeURIComponent(spell)}`))"
        ".json()).day",
        SPELL,
    )
    browser_today = await page.evaluate(
        "() => { const d = new Date(); return [d.getFullYear(),"
        " String(d.getMonth() + 1).padStart(2, '0'), String(d.getDate()).padStart(2, '0')]"
        ".join('-'); }"
    )
    assert {k: marked[k] for k in ("date", "green", "reason")} == {
        "date": browser_today,
        "green": False,
        "reason": "Awaiting the MRI",
    }
    assert marked["marked_by"]["id"] == "acc-avon4-nurse"
    await assert_accessible(page, "the ward's list with a red day")

    # Marked again, green: the correction replaces the red day and its reason.
    await on_ward.get_by_role("button", name="Green day: AL, Bay 1, Bed 1").click(timeout=WAIT_MS)
    await expect(
        on_ward.locator(".day-mark-green"), "the green day did not come back"
    ).to_have_text("Green day", timeout=WAIT_MS)
    await expect(on_ward).not_to_contain_text("Awaiting the MRI", timeout=WAIT_MS)
    await expect(on_ward.locator(".day-mark-red")).to_have_count(0)

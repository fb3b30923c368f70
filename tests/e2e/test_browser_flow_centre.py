"""The flow centre's glance on the system board, in a real browser: today's discharges
against the expected dates, each pathway's queue oldest first with its blockers, and
community capacity against the patients waiting for it, kept live by the socket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Locator, expect

from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.publisher import KafkaPublisher
from tests.accounts import account
from tests.builders import (
    admitted,
    bed,
    discharged,
    event,
    minutes_from_t0,
    organisation,
    referred,
    site,
    triaged_onto,
    ward,
)
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    hospital_of,
    signed_in_at,
    start_whiteboard,
)

WARD = "WRH-AVON5"
COORDINATOR = "flow.lead"
MANAGER = "site.manager"


def today() -> str:
    # The board keeps the browser's calendar, which is this machine's.
    return datetime.now().astimezone().date().isoformat()


def days_from_today(days: int) -> str:
    return (datetime.now().astimezone().date() + timedelta(days=days)).isoformat()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_prefix": f"flow-centre-{uuid.uuid4().hex[:12]}"})


def expected_on(spell: str, day: str, minute: float) -> EventBase:
    return event("SpellUpdated", {"spell_id": spell, "expected_discharge_date": day}, minute)


@pytest.fixture
def hospital(settings: Settings) -> Iterator[KafkaPublisher]:
    """A ward of four patients: one gone home today as planned, one expected today, one
    past their date, and one on pathway 1 with no place reserved; two reablement starts
    free from today."""
    now = minutes_from_t0(datetime.now(UTC))
    days_ago = now - 3 * 24 * 60
    events = [
        organisation("RWP"),
        site("WRH", "RWP"),
        ward(WARD, "WRH"),
        *(bed(f"{WARD}-B{n}", WARD, label=f"Bed {n}", room="Bay 1") for n in range(1, 5)),
        *(admitted(f"S-{n}", f"{WARD}-B{n}", days_ago, ward_id=WARD) for n in range(1, 5)),
        expected_on("S-1", today(), days_ago + 60),
        expected_on("S-2", today(), days_ago + 60),
        expected_on("S-3", days_from_today(-1), days_ago + 60),
        referred("S-4", days_ago + 120),
        triaged_onto("S-4", "1", days_ago + 150),
        event(
            "CapacityDeclared",
            {
                "organisation_id": "WCC",
                "capacity": {"service": "reablement", "area": "north", "day": today()},
                "available": 2,
            },
            now - 5,
            source={"system": "care-brokerage", "organisation": "WCC"},
        ),
        discharged("S-1", now - 1),
    ]
    with hospital_of(
        settings,
        events,
        [
            *account("acc-flow-lead", COORDINATOR, "flow_centre"),
            *account("acc-site-manager", MANAGER, "manager"),
        ],
    ) as publisher:
        yield publisher


def day_cells(glance: Locator) -> Locator:
    # Discharged today, before midday, expected today, still to go, past their date.
    return glance.locator(".day-counts tfoot td")


async def test_the_flow_centre_sees_the_day_the_queues_and_capacity_at_a_glance(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page = await signed_in_at(chromium, f"{base}/", COORDINATOR)
    glance = page.get_by_role("region", name="Discharges and community capacity")
    morning = datetime.now().astimezone().hour < 12
    await expect(day_cells(glance), "the day's discharges against plan are wrong").to_have_text(
        ["1", "1" if morning else "0", "2", "1", "1"], timeout=WAIT_MS
    )
    pathway_1 = glance.locator(".queue").filter(has_text="Pathway 1:")
    await expect(pathway_1.locator(".queue-head")).to_contain_text("1 waiting")
    await expect(
        pathway_1.locator(".queue-oldest li"), "the oldest is not named with what blocks them"
    ).to_have_text(
        # In pathway 1's queue since triage, 69 1/2 hours ago.
        f"AL {WARD}, Bed 4: waiting 2 days (no capacity reserved, Transport,"
        " Medicines to take home, Equipment, Care start agreed, Family informed)"
    )
    capacity = glance.locator(".capacity-counts tbody tr").first
    await expect(capacity.locator("td")).to_have_text(["Reablement 2", "2", "1"])
    await assert_accessible(page, "the flow centre's glance")

    # The day moves on: the patient expected today goes home, live.
    hospital.publish([discharged("S-2", minutes_from_t0(datetime.now(UTC)))])
    await expect(day_cells(glance), "a discharge did not reach the count").to_have_text(
        ["2", "2" if morning else "0", "2", "0", "1"],
        timeout=WAIT_MS,
    )


async def test_a_manager_sees_capacity_and_no_patient(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page = await signed_in_at(chromium, f"{base}/", MANAGER)
    glance = page.get_by_role("region", name="Discharges and community capacity")
    await expect(glance.locator(".capacity-counts tbody tr").first.locator("td")).to_have_text(
        ["Reablement 2", "2", "0"], timeout=WAIT_MS
    )
    # Not planning discharges, a manager is sent no plan: no queue, no initials.
    await expect(glance.locator(".queue")).to_have_count(0)
    await expect(glance.locator(".day-counts")).to_have_count(0)

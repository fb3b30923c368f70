"""The whiteboard pages in a real browser: Debian's Chromium, driven by Playwright, against
a worker and an API running as separate processes on the real broker and Redis.

Every page is watched for the whole test: a script, style or connection the content
security policy refuses, or an error no script caught, fails it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import expect

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from tests.accounts import PASSWORD, account, device, record
from tests.builders import account_created, bed, event, organisation, role_granted, site, ward
from tests.e2e.conftest import (
    WAIT_MS,
    Processes,
    WatchedBrowser,
    assert_accessible,
    bed_card,
    board_is_live,
    pair_wall_screen,
    rest_until,
    sign_in_through_the_form,
    sign_in_when_up,
    start_whiteboard,
)
from tests.oidc_provider import running_provider

WARD = "WRH-AVON4"
OTHER_WARD = "WRH-AVON5"
BED = "WRH-AVON4-B01-1"
NURSE = "sister.jones"
WALL_TOKEN, WALL_ACCOUNT = device("acc-wall-avon4", "wall.avon4", "display", WARD)
SSO_USER = "sam.jones"
ADMIN = "it.admin"
GIVEN_NAME = "Ada"
FAMILY_NAME = "Lovelace"
NHS_NUMBER = "9434765919"

# The system board's column headings, in the order the tests read each ward's counts.
COLUMNS = ["Ward", "Occupied", "Available", "To clean", "Closed", "Beds", "Occupancy"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with Redis keys of this test's own: the shared server is not
    emptied between tests, and the next test's beds share these beds' ids."""
    return settings.model_copy(update={"redis_prefix": f"browser-{uuid.uuid4().hex[:12]}"})


@pytest.fixture
def hospital(settings: Settings) -> Iterator[KafkaPublisher]:
    """Two wards of one site on the event log, and the accounts of a nurse and a wall screen."""
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)
    publisher.publish(
        [
            organisation("RWP"),
            site("WRH", "RWP"),
            ward(WARD, "WRH"),
            ward(OTHER_WARD, "WRH"),
            bed(BED, WARD, label="Bed 1", room="Bay 1"),
            bed("WRH-AVON4-B01-2", WARD, label="Bed 2", room="Bay 1"),
            bed("WRH-AVON5-B01-1", OTHER_WARD, label="Bed 1", room="Bay 1"),
        ]
    )
    record(
        settings,
        [
            *account("acc-sister-jones", NURSE, "ward_staff", WARD),
            *account("acc-it-admin", ADMIN, "administrator"),
            *WALL_ACCOUNT,
            # A person who signs in through the organisation's provider: no password here.
            account_created("acc-sam-jones", SSO_USER, single_sign_on=True),
            role_granted("acc-sam-jones", "flow_centre"),
        ],
    )
    try:
        yield publisher
    finally:
        publisher.close()


def admit(publisher: KafkaPublisher) -> None:
    """Ada Lovelace, with her NHS number, into bed 1 of Avon 4."""
    patient = {
        "patient_id": "MRN0042",
        "nhs_number": NHS_NUMBER,
        "given_name": GIVEN_NAME,
        "family_name": FAMILY_NAME,
        "sex": "female",
    }
    location = {"ward_id": WARD, "bed_id": BED}
    payload = {"spell_id": "S-000123", "patient": patient, "location": location}
    publisher.publish([event("PatientAdmitted", payload, minute=74)])


async def test_a_nurse_signs_in_watches_the_board_change_live_and_signs_out(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    base = await start_whiteboard(processes)
    page = await chromium.new_page()
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))

    response = await page.goto(f"{base}/", timeout=WAIT_MS)
    assert response is not None
    assert response.ok, f"/ answered {response.status}"
    # Without the policy the check for violations would pass for nothing.
    policy = await response.header_value("content-security-policy")
    assert policy is not None, "the page is served without its content security policy"
    await sign_in_through_the_form(page, NURSE)
    await expect(
        page.get_by_role("banner"), "the page does not say who is signed in"
    ).to_contain_text("Name of acc-sister-jones", timeout=WAIT_MS)

    await expect(
        page.get_by_role("heading", name="All sites", level=1), "no system board"
    ).to_be_visible(timeout=WAIT_MS)
    await expect(
        page.get_by_role("heading", name="Royal", level=2), "the site is not on the board"
    ).to_be_visible(timeout=WAIT_MS)
    await expect(
        page.locator("table.counts thead tr").first.get_by_role("columnheader"),
        "the system board's columns are not the ones this test reads",
    ).to_have_text(COLUMNS, timeout=WAIT_MS)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=WARD, exact=True))
    await expect(row.get_by_role("cell"), f"{WARD}'s empty beds are not counted").to_have_text(
        ["0", "2", "0", "0", "2", "0.0%"], timeout=WAIT_MS
    )

    admit(hospital)
    await expect(row.get_by_role("cell"), f"{WARD}'s counts missed the admission").to_have_text(
        ["1", "1", "0", "0", "2", "50.0%"], timeout=WAIT_MS
    )
    await assert_accessible(page, "the system board")
    assert len(loads) == 1, f"the page was loaded again: {loads}"

    await row.get_by_role("link", name=WARD, exact=True).click(timeout=WAIT_MS)
    await expect(
        page.get_by_role("heading", name=WARD, level=1), "the ward's board did not open"
    ).to_be_visible(timeout=WAIT_MS)
    await expect(page, "the ward's board has no address of its own").to_have_url(
        f"{base}/#/ward/{WARD}", timeout=WAIT_MS
    )
    card = bed_card(page, "Bed 1")
    await expect(card, "bed 1 is not shown occupied").to_contain_text("Occupied", timeout=WAIT_MS)
    await expect(
        card.get_by_title("Patient initials"), "bed 1 does not show the patient's initials"
    ).to_have_text("AL", timeout=WAIT_MS)
    await assert_accessible(page, "the ward's board")
    assert len(loads) == 1, f"the page was loaded again: {loads}"

    await page.get_by_role("button", name="Sign out").click(timeout=WAIT_MS)
    await expect(
        page.get_by_role("heading", name="Sign in to Flow Centre"),
        "signing out did not bring back the sign-in form",
    ).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_role("status"), "the page does not say it signed out").to_have_text(
        "Signed out", timeout=WAIT_MS
    )
    await expect(bed_card(page, "Bed 1"), "the board outlived signing out").to_have_count(
        0, timeout=WAIT_MS
    )
    await page.reload(timeout=WAIT_MS)
    await expect(
        page.get_by_role("heading", name="Sign in to Flow Centre"),
        "the session outlived signing out",
    ).to_be_visible(timeout=WAIT_MS)


async def test_a_wall_screen_shows_its_wards_initials_and_no_names(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    admit(hospital)
    base = await start_whiteboard(processes)
    page = await chromium.new_page()

    await pair_wall_screen(page, f"{base}/#/ward/{WARD}", WALL_TOKEN)
    await expect(
        page.get_by_role("heading", name=WARD, level=1), "the wall screen shows no ward"
    ).to_be_visible(timeout=WAIT_MS)
    card = bed_card(page, "Bed 1")
    await expect(card, "bed 1 is not shown occupied").to_contain_text("Occupied", timeout=WAIT_MS)
    await expect(
        card.get_by_title("Patient initials"), "bed 1 does not show the patient's initials"
    ).to_have_text("AL", timeout=WAIT_MS)
    await expect(bed_card(page, "Bed 2"), "bed 2 is not shown available").to_contain_text(
        "Available", timeout=WAIT_MS
    )
    await assert_accessible(page, "the wall screen's board")

    text = await page.locator("body").inner_text(timeout=WAIT_MS)
    markup = await page.content()
    for private in (GIVEN_NAME, FAMILY_NAME, NHS_NUMBER):
        assert private not in text, f"{private!r} is on the wall screen:\n{text}"
        assert private not in markup, f"{private!r} is in the wall screen's page"


async def test_a_person_signs_in_through_the_organisations_provider(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    claims = {"preferred_username": SSO_USER, "name": "Sam Jones"}
    with running_provider({"sam-sub": claims}) as provider:
        base = await start_whiteboard(
            processes,
            FLOWCENTRE_OIDC_ISSUER=provider.issuer,
            FLOWCENTRE_OIDC_CLIENT_ID="flowcentre-browser-test",
            FLOWCENTRE_OIDC_CLIENT_SECRET="the-client-secret",
            FLOWCENTRE_OIDC_PROVIDER_NAME="NHS Care Identity",
        )
        page = await chromium.new_page()
        # The provider's page styles itself from a CDN this machine cannot reach.
        await page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())

        await page.goto(f"{base}/", timeout=WAIT_MS)
        provider_link = page.get_by_role("link", name="Sign in with NHS Care Identity")
        await expect(provider_link, "no provider to sign in with").to_be_visible(timeout=WAIT_MS)
        await assert_accessible(page, "the sign-in form")
        await provider_link.click(timeout=WAIT_MS)
        await page.locator('input[name="sub"]').fill("sam-sub", timeout=WAIT_MS)
        await page.locator('button[type="submit"]', has_text="Authorize").click(timeout=WAIT_MS)

        await expect(page, "the provider did not send the browser back").to_have_url(
            f"{base}/", timeout=WAIT_MS
        )
        await board_is_live(page)
        await expect(
            page.get_by_role("banner"), "the page does not say who signed in"
        ).to_contain_text("Name of acc-sam-jones", timeout=WAIT_MS)
        assert provider.pkce.exchanged, "the code was never exchanged at the provider"


async def test_an_administrator_finds_who_read_a_patients_details(
    processes: Processes, hospital: KafkaPublisher, chromium: WatchedBrowser
) -> None:
    admit(hospital)
    base = await start_whiteboard(processes)
    async with httpx.AsyncClient(base_url=base, timeout=10) as nurse:
        await sign_in_when_up(nurse, NURSE)
        details = await rest_until(nurse, f"/api/v1/beds/{BED}/patients", bool)
        assert details[0]["nhs_number"] == NHS_NUMBER, details
    page = await chromium.new_page()

    await page.goto(f"{base}/", timeout=WAIT_MS)
    form = page.locator("#sign-in-form")
    await form.get_by_label("Username").fill(ADMIN, timeout=WAIT_MS)
    await form.get_by_label("Password").fill(PASSWORD, timeout=WAIT_MS)
    await form.get_by_role("button", name="Sign in").click(timeout=WAIT_MS)
    await page.get_by_role("link", name="Audit trail").click(timeout=WAIT_MS)
    await page.get_by_label("Patient").fill(NHS_NUMBER, timeout=WAIT_MS)
    # Each search is itself a read of the patient, on the trail beside the nurse's.
    reads = page.locator("#audit-reads tbody tr").filter(has_text="acc-sister-jones")
    for _ in range(100):
        await page.get_by_role("button", name="Search").click(timeout=WAIT_MS)
        if await reads.count():
            break
        await asyncio.sleep(0.2)

    await expect(reads, "the nurse's read is not on the trail").to_have_count(1, timeout=WAIT_MS)
    await expect(reads).to_contain_text(BED, timeout=WAIT_MS)
    await assert_accessible(page, "the audit trail")
    download = page.get_by_role("link", name="Download these reads as CSV")
    href = await download.get_attribute("href", timeout=WAIT_MS)
    assert href is not None
    assert href.startswith("api/v1/audit/reads.csv?patient=")

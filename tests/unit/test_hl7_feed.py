"""The simulator's HL7 feed read back by the listener's translation: the same traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flowcentre.domain.beds import BedStatus
from flowcentre.domain.events import (
    DischargeDestination,
    EventBase,
    Patient,
    PatientAdmitted,
    TransferCancelled,
)
from flowcentre.hl7.messages import Fields, parse
from flowcentre.hl7.sources import load_sources
from flowcentre.hl7.translation import Received, translate
from producers.county import County
from producers.hl7_feed import Hl7Feed
from producers.simulator import simulate
from tests.unit.conftest import RecordingPublisher

START = datetime(2026, 11, 2, tzinfo=UTC)
SOURCES = load_sources()
DAYS = 3
"""Long enough for the first patients to be referred and triaged."""
ONE_CODE = {BedStatus.CLEANING: BedStatus.AWAITING_CLEAN, BedStatus.BLOCKED: BedStatus.CLOSED}


def test_simulated_days_sent_as_hl7_reads_back_as_the_same_events() -> None:
    feed = Hl7Feed("127.0.0.1", 9, RecordingPublisher())
    county = County.load()
    sent = 0
    plain: set[str] = set()
    for event in simulate(county, START, 7, until=START + timedelta(days=DAYS)):
        message = feed.message(event)
        if message is None:
            plain.add(event.type)  # type: ignore[attr-defined]
            continue
        fields = Fields(parse(message.encode()), ZoneInfo("Europe/London"))
        sender = SOURCES.sender("127.0.0.1", fields.text("MSH.F4.R1.C1"))
        assert sender is not None, message
        [read] = translate(Received(fields, sender, SOURCES, START)).events
        assert same(read, event), f"{message!r} read back as {read!r}, not {event!r}"
        sent += 1

    assert sent > 100
    # Those have no HL7 form, and are published as events.
    assert "PatientTriaged" in plain
    assert plain <= {
        "OrganisationRegistered",
        "SiteRegistered",
        "WardRegistered",
        "BedRegistered",
        "BedStatusChanged",
        "SpellUpdated",
        "CriteriaToResideReviewed",
        "RedGreenDayMarked",
        "PatientReferred",
        "PatientTriaged",
        "DischargeTaskUpdated",
        "CapacityDeclared",
        "CapacityReserved",
    }


def test_events_without_an_hl7_form_are_published_in_order_naming_spells_as_the_listener_does() -> (
    None
):
    events = RecordingPublisher()
    feed = Hl7Feed("127.0.0.1", 9, events)
    sent: list[str] = []
    feed._send = lambda message, event_id: sent.append(event_id)  # type: ignore[method-assign]
    simulated = list(simulate(County.load(), START, 7, until=START + timedelta(days=DAYS)))
    admitted = {
        f"{e.source.organisation}:{e.payload.spell_id}": e.event_id
        for e in simulated
        if isinstance(e, PatientAdmitted)
    }

    for event in simulated:
        published = len(events.published)
        feed.publish([event])
        if len(events.published) > published:
            [plain] = events.published[published:]
            spell_id = getattr(plain.payload, "spell_id", None)  # type: ignore[attr-defined]
            if spell_id is not None and plain.type != "SpellUpdated":  # type: ignore[attr-defined]
                # The plan of a spell admitted by a message, named as the listener names it.
                assert admitted[spell_id] in sent, f"{spell_id} planned before it was admitted"

    assert len(sent) + len(events.published) == len(simulated)
    assert any(e.type == "PatientTriaged" for e in events.published)  # type: ignore[attr-defined]


def same(read: EventBase, sent: EventBase) -> bool:
    """The same change: the type, the times, and the payload with the listener's spell ids."""
    if type(read) is not type(sent) or read.occurred_at != sent.occurred_at:
        return False
    organisation = read.source.organisation
    expected = sent.payload.model_dump()  # type: ignore[attr-defined]
    for field in ("spell_id", "other_spell_id"):
        if field in expected:
            expected[field] = f"{organisation}:{expected[field]}"
    if "status" in expected:
        # HL7 table 0116 has one code for awaiting clean and cleaning, one for closed and
        # blocked: the feed cannot tell them apart, nor can any other.
        expected["status"] = ONE_CODE.get(expected["status"], expected["status"])
        # Nor has NPU a place for why a bed is closed.
        expected.pop("reason")
    # PV1-37 holds the destination's code and nothing of the pathway's words; and the
    # Data Dictionary's codes count a community hospital among other NHS hospitals.
    expected.pop("destination_detail", None)
    if expected.get("destination") == DischargeDestination.COMMUNITY_HOSPITAL:
        expected["destination"] = DischargeDestination.OTHER_HOSPITAL
    if isinstance(sent, TransferCancelled):
        # An A12 cancels the spell's latest transfer, whatever its PV1-3 says.
        expected.pop("location")
    got = read.payload.model_dump()  # type: ignore[attr-defined]
    # A patient's dump holds only the fields sent; what counts is what they are.
    if "patient" in expected:
        expected["patient"] = whole(sent.payload.patient)  # type: ignore[attr-defined]
        got["patient"] = whole(read.payload.patient)  # type: ignore[attr-defined]
    return all(got.get(key) == value for key, value in expected.items() if key in got)


def whole(patient: Patient | None) -> dict[str, object] | None:
    if patient is None:
        return None
    return {name: getattr(patient, name) for name in Patient.model_fields}

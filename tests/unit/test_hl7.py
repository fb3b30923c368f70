"""HL7 v2 messages read, translated and answered: pure, no sockets or servers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hl7
import pytest

from flowcentre.domain.beds import BedStatus
from flowcentre.domain.events import (
    ActorKind,
    AdmissionRequestCancelled,
    AdmissionRequested,
    BedsSwapped,
    BedStatusChanged,
    DischargeDestination,
    EventBase,
    PatientAdmitted,
    PatientDischarged,
    PatientTransferred,
    Sex,
    SpellUpdated,
)
from flowcentre.hl7.messages import (
    AckCode,
    FieldInvalid,
    Fields,
    MessageUnreadable,
    Problem,
    acknowledge,
    parse,
    reject_unreadable,
)
from flowcentre.hl7.sources import Sources, load_sources
from flowcentre.hl7.translation import MessageRefused, Received, UnsupportedTrigger, translate
from tests import hl7_samples as samples
from tests.builders import fold

LONDON = ZoneInfo("Europe/London")
SOURCES = load_sources()
[WRH] = [sender for sender in SOURCES.senders if sender.facility == "WRH"]
NOW = datetime(2026, 11, 2, 8, 1, tzinfo=UTC)


def recorded_at(value: str) -> Fields:
    header = samples.MSH_24.format(trigger="A01", control="T")
    return Fields(parse(samples.message(header, f"EVN|A01|{value}")), LONDON)


def events_of(payload: bytes) -> list[EventBase]:
    return translate(Received(Fields(parse(payload), LONDON), WRH, SOURCES, NOW)).events


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_an_admission_names_the_patient_the_bed_and_who_admitted_them(end: str) -> None:
    [admitted] = events_of(samples.a01(end=end))

    assert isinstance(admitted, PatientAdmitted)
    payload = admitted.payload
    assert payload.spell_id == "RWP:V1001"
    assert payload.patient.nhs_number == "9434765919"
    assert payload.patient.patient_id == "MRN0042", "the local number, the NHS number beside it"
    assert (payload.patient.family_name, payload.patient.given_name) == ("LOVELACE", "ADA")
    assert payload.patient.birth_date == date(1915, 12, 10)
    assert payload.patient.sex is Sex.FEMALE
    assert payload.patient.sharing_objection is False
    assert (payload.location.ward_id, payload.location.bed_id) == ("WRH-AMU", "WRH-AMU-B01-1")
    assert payload.specialty == "MED"
    assert payload.expected_discharge_date == date(2026, 11, 5)
    assert admitted.occurred_at == datetime(2026, 11, 2, 7, 55, tzinfo=UTC)
    assert admitted.event_id == "hl7:WRH:PAS:MSG0001"
    assert admitted.source.organisation == "RWP"
    assert (admitted.caused_by.kind, admitted.caused_by.id) == (ActorKind.USER, "WRH/rn042")
    assert admitted.caused_by.name == "SAM JONES"


def test_a_resent_message_becomes_the_same_events() -> None:
    assert events_of(samples.a01()) == events_of(samples.a01())


def test_a_transfer_without_an_offset_is_in_the_feeds_local_time() -> None:
    [moved] = events_of(samples.a02_v24_lf())

    assert isinstance(moved, PatientTransferred)
    assert (moved.payload.location.ward_id, moved.payload.location.bed_id) == (
        "WRH-CCU",
        "WRH-CCU-SR02",
    )
    assert moved.payload.from_location is not None
    assert moved.payload.from_location.bed_id == "WRH-AMU-B01-1"
    # 10:00 in London in November is 10:00 UTC; the offset is the zone's, not assumed.
    assert moved.occurred_at == datetime(2026, 11, 2, 10, 0, tzinfo=LONDON)
    assert moved.caused_by.kind is ActorKind.SYSTEM


@pytest.mark.parametrize(
    ("code", "destination"),
    [("54", DischargeDestination.CARE_HOME), ("19", DischargeDestination.USUAL_RESIDENCE)],
)
def test_a_discharge_maps_its_nhs_destination(code: str, destination: DischargeDestination) -> None:
    [left] = events_of(samples.a03_v23_crlf(destination=code))

    assert isinstance(left, PatientDischarged)
    assert left.payload.destination is destination
    assert left.occurred_at == datetime(2026, 11, 3, 13, 30, tzinfo=LONDON)


def test_a_bed_status_comes_from_the_npu_segment() -> None:
    [status] = events_of(samples.a20("H"))

    assert isinstance(status, BedStatusChanged)
    assert (status.payload.bed_id, status.payload.status) == (
        "WRH-CCU-SR02",
        BedStatus.AWAITING_CLEAN,
    )


def test_an_occupied_code_sets_no_status_and_says_so() -> None:
    with pytest.raises(FieldInvalid) as refused:
        events_of(samples.a20("O"))

    assert refused.value.problem.code == "103"
    assert refused.value.problem.segment == "NPU"


def test_an_unknown_trigger_is_unsupported() -> None:
    payload = samples.message(samples.MSH_24.format(trigger="A99", control="M99"), "EVN|A99|")

    with pytest.raises(UnsupportedTrigger, match="A99"):
        events_of(payload)


def test_a_bad_date_names_the_field() -> None:
    payload = samples.a01().replace(b"20261102075500+0000", b"2026-11-02")

    with pytest.raises(FieldInvalid) as refused:
        events_of(payload)

    assert (refused.value.problem.code, refused.value.problem.segment) == ("102", "PV1")
    assert refused.value.problem.field == 44


def test_a_missing_visit_number_is_a_missing_field() -> None:
    payload = samples.a01().replace(b"V1001^^^WRH^VN", b"")

    with pytest.raises(FieldInvalid, match="PV1-19"):
        events_of(payload)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20261102", datetime(2026, 11, 2, tzinfo=LONDON)),
        ("202611020830+0100", datetime(2026, 11, 2, 8, 30, tzinfo=timezone(timedelta(hours=1)))),
        (
            "20261102083015.25-0030",
            datetime(2026, 11, 2, 8, 30, 15, 250000, tzinfo=timezone(-timedelta(minutes=30))),
        ),
    ],
)
def test_hl7_times_are_read_strictly(value: str, expected: datetime) -> None:
    fields = Fields(
        parse(
            samples.message(samples.MSH_24.format(trigger="A01", control="T"), f"EVN|A01|{value}")
        ),
        LONDON,
    )

    assert fields.time("EVN.F2", "EVN-2") == expected


@pytest.mark.parametrize("value", ["2026xx", "20261302", "202611020830+01"])
def test_a_time_that_is_not_an_hl7_time_is_refused(value: str) -> None:
    fields = Fields(
        parse(
            samples.message(samples.MSH_24.format(trigger="A01", control="T"), f"EVN|A01|{value}")
        ),
        LONDON,
    )

    with pytest.raises(FieldInvalid):
        fields.time("EVN.F2", "EVN-2")


@pytest.mark.parametrize("payload", [b"not hl7 at all", b"", b"MSH", b"EVN|A01|2026\rPID|1"])
def test_what_is_not_hl7_is_unreadable(payload: bytes) -> None:
    with pytest.raises(MessageUnreadable):
        parse(payload)


def test_an_error_ack_names_the_problem_for_old_and_new_receivers() -> None:
    problem = Problem("102", "Data type error", "PV1-44 (admit date/time) '2026-11-02'", "PV1", 44)

    ack = hl7.parse(acknowledge(parse(samples.a01()), AckCode.ERROR, problem).decode())

    assert (ack["MSA.F1"], ack["MSA.F2"]) == ("AE", "MSG0001")
    assert ack["ERR.F3.R1.C1"] == "102"
    assert (ack["ERR.F2.R1.C1"], ack["ERR.F2.R1.C3"]) == ("PV1", "44")
    assert ack["ERR.F1.R1.C1"] == "PV1"
    assert "2026-11-02" in ack["ERR.F8"]


def test_unreadable_input_gets_a_reject_all_the_same() -> None:
    ack = hl7.parse(reject_unreadable("not an HL7 v2 message").decode())

    assert ack["MSA.F1"] == "AR"
    assert ack["ERR.F3.R1.C1"] == "100"


def test_a_location_no_rule_maps_is_never_guessed() -> None:
    strict = Sources(SOURCES.senders, ())

    with pytest.raises(FieldInvalid, match="no location rule"):
        translate(Received(Fields(parse(samples.a01()), LONDON), WRH, strict, NOW))


def header(trigger: str) -> str:
    return samples.MSH_24.format(trigger=trigger, control=f"M{trigger}")


def test_a_bed_swap_moves_each_patient_to_the_others_bed() -> None:
    payload = samples.message(
        header("A17"),
        "EVN|A17|202611021200",
        samples.PID_NHS,
        samples.pv1("AMU^Bay 1^B01-2^WRH", visit="V1"),
        samples.PID_LOCAL,
        samples.pv1("AMU^Bay 1^B01-1^WRH", visit="V2"),
    )

    [swap] = events_of(payload)

    assert isinstance(swap, BedsSwapped)
    assert (swap.payload.spell_id, swap.payload.location.bed_id) == ("RWP:V1", "WRH-AMU-B01-2")
    assert (swap.payload.other_spell_id, swap.payload.other_location.bed_id) == (
        "RWP:V2",
        "WRH-AMU-B01-1",
    )


def test_an_outpatient_made_an_inpatient_is_admitted_and_the_reverse_leaves() -> None:
    admitted = samples.a01().replace(b"ADT^A01^ADT_A01", b"ADT^A06^ADT_A06")
    left = samples.a03_v23_crlf().replace(b"ADT^A03", b"ADT^A07")

    assert [type(one) for one in events_of(admitted)] == [PatientAdmitted]
    assert [type(one) for one in events_of(left)] == [PatientDischarged]


def test_a_pending_discharge_sets_the_expected_date_when_it_gives_one() -> None:
    dated = samples.message(
        header("A16"), "EVN|A16|202611021200", samples.PID_NHS, samples.pv1("AMU^^^WRH"),
        "PV2|||||||||20261104",
    )  # fmt: skip
    undated = samples.message(
        header("A16"), "EVN|A16|202611021200", samples.PID_NHS, samples.pv1("AMU^^^WRH")
    )

    [planned] = events_of(dated)

    assert isinstance(planned, SpellUpdated)
    assert planned.payload.expected_discharge_date == date(2026, 11, 4)
    assert planned.payload.model_fields_set == {"spell_id", "expected_discharge_date"}
    assert events_of(undated) == []


@pytest.mark.parametrize("trigger", ["A04", "A05", "A15"])
def test_triggers_that_change_no_board_are_taken_and_make_nothing(trigger: str) -> None:
    payload = samples.message(header(trigger), f"EVN|{trigger}|", samples.PID_NHS)

    assert events_of(payload) == []


def test_a_merge_is_refused_saying_what_to_send_instead() -> None:
    payload = samples.message(header("A40"), "EVN|A40|", samples.PID_NHS, "MRG|MRN0001")

    with pytest.raises(UnsupportedTrigger, match="merging"):
        events_of(payload)


def test_an_update_that_leaves_out_pd1_keeps_the_patients_objection() -> None:
    objecting = samples.a01().replace(b"PD1||||||||||||N", b"PD1||||||||||||Y")
    update = samples.message(
        header("A08"), "EVN|A08|202611021200", "PID|1||MRN0042^^^WRH^MR||LOVELACE^ADA",
        samples.pv1("AMU^^^WRH"),
    )  # fmt: skip

    state = fold([*events_of(objecting), *events_of(update)])

    patient = state.spells["RWP:V1001"].patient
    assert patient is not None
    assert patient.sharing_objection is True
    assert patient.birth_date == date(1915, 12, 10), "a field left out is not cleared"


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ((b"PV1|1|I|", b"PV1|1|E|"), "patient class 'E'"),
        ((b"V1001^^^WRH^VN", b""), "names no spell"),
    ],
)
def test_messages_about_no_followed_spell_are_taken_and_make_nothing(
    change: tuple[bytes, bytes], note: str
) -> None:
    update = samples.message(
        header("A08"), "EVN|A08|202611021200", samples.PID_NHS, samples.pv1("AMU^^^WRH")
    ).replace(*change)

    translation = translate(Received(Fields(parse(update), LONDON), WRH, SOURCES, NOW))

    assert translation.events == []
    assert note in translation.note


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ((b"ADT^A01^ADT_A01", b"ACK^A01^ACK"), "200"),
        ((b"|P|2.5.1|", b"|T|2.5.1|"), "202"),
        ((b"|P|2.5.1|", b"|P|2.6|"), "203"),
    ],
)
def test_what_is_not_live_adt_in_a_known_version_is_refused(
    change: tuple[bytes, bytes], code: str
) -> None:
    with pytest.raises(MessageRefused) as refused:
        events_of(samples.a01().replace(*change))

    assert refused.value.problem.code == code


def test_identifiers_are_read_whatever_their_shape() -> None:
    bare = samples.a01().replace(
        b"9434765919^^^NHS^NH~MRN0042^^^WRH^MR", b"943 476 5919^^^NHS^NH~MRN0042^^^WRH"
    )
    wrong_check = samples.a01().replace(b"9434765919", b"9434765918")
    only_local = samples.a01().replace(b"9434765919^^^NHS^NH~MRN0042^^^WRH^MR", b"MRN0042")

    [spaced] = events_of(bare)
    [checked] = events_of(wrong_check)
    [local] = events_of(only_local)

    assert isinstance(spaced, PatientAdmitted)
    assert isinstance(checked, PatientAdmitted)
    assert isinstance(local, PatientAdmitted)
    assert spaced.payload.patient.nhs_number == "9434765919"
    assert checked.payload.patient.nhs_number is None, "a number failing its check is dropped"
    assert local.payload.patient.patient_id == "MRN0042"


def test_an_offset_that_is_no_offset_is_a_bad_time() -> None:
    with pytest.raises(FieldInvalid):
        recorded_at("202611020830+2500").time("EVN.F2", "EVN-2")


@pytest.mark.parametrize(
    ("method", "destination", "expected"),
    [("4", "", DischargeDestination.DIED), ("1", "65", DischargeDestination.CARE_HOME)],
)
def test_the_discharge_method_says_who_died_and_the_destination_where_others_went(
    method: str, destination: str, expected: DischargeDestination
) -> None:
    payload = samples.message(
        samples.MSH_23.format(trigger="A03", control="D1"), "EVN|A03|20261103140000",
        samples.PID_LOCAL,
        samples.pv1("CCU^^SR02^WRH", left="20261103133000", f36=method, f37=destination),
    )  # fmt: skip

    [left] = events_of(payload)

    assert isinstance(left, PatientDischarged)
    assert left.payload.destination is expected


def test_a_pending_admission_asks_for_a_bed_on_its_pending_ward_from_the_decision() -> None:
    [request] = events_of(samples.a14())

    assert isinstance(request, AdmissionRequested)
    payload = request.payload
    assert payload.spell_id == "RWP:V2001"
    assert payload.patient.nhs_number == "9434765919"
    assert (payload.site_id, payload.ward_id, payload.specialty) == ("WRH", "WRH-AMU", "MED")
    assert payload.decided_at == request.occurred_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert payload.expected_at == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert request.event_id == "hl7:WRH:PAS:MSG0014"


def test_a_pending_admission_without_a_pending_location_waits_at_the_site_it_is_at() -> None:
    [request] = events_of(samples.a14(pending=""))
    [elsewhere] = events_of(samples.a14(pending="^^^ALX"))

    assert isinstance(request, AdmissionRequested)
    assert isinstance(elsewhere, AdmissionRequested)
    assert (request.payload.site_id, request.payload.ward_id) == ("WRH", None)
    assert (elsewhere.payload.site_id, elsewhere.payload.ward_id) == ("ALX", None)


def test_a_pending_location_no_rule_maps_is_refused_naming_pv1_42() -> None:
    strict = Sources(SOURCES.senders, ())

    with pytest.raises(FieldInvalid) as refused:
        translate(Received(Fields(parse(samples.a14()), LONDON), WRH, strict, NOW))
    unplaced = translate(Received(Fields(parse(samples.a14(pending="")), LONDON), WRH, strict, NOW))

    assert (refused.value.problem.code, refused.value.problem.field) == ("103", 42)
    assert [type(one) for one in unplaced.events] == [AdmissionRequested]


def test_a_cancelled_pending_admission_cancels_the_request() -> None:
    [cancel] = events_of(samples.a27())

    assert isinstance(cancel, AdmissionRequestCancelled)
    assert cancel.payload.spell_id == "RWP:V2001"


def test_pending_admissions_are_taken_whatever_the_patient_class() -> None:
    inpatient = samples.a14().replace(b"PV1|1|E|", b"PV1|1|I|")

    assert [type(one) for one in events_of(inpatient)] == [AdmissionRequested]
    assert b"PV1|1|E|" in samples.a14()
    assert b"PV1|1|E|" in samples.a27()


def test_a_pending_admission_waits_until_its_admission_or_its_cancel() -> None:
    request = events_of(samples.a14())
    admission = events_of(
        samples.a01()
        .replace(b"V1001^^^WRH^VN", b"V2001^^^WRH^VN")
        .replace(b"20261102075500", b"20261102100000")
    )

    assert fold(request).pending["RWP:V2001"].waiting
    assert not fold([*request, *events_of(samples.a27())]).pending["RWP:V2001"].waiting
    assert not fold([*admission, *request]).pending["RWP:V2001"].waiting

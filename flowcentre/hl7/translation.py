"""HL7 v2 ADT messages as events of the contract (``docs/hl7.md`` has the field mapping).

Each message becomes the events it means, with ids made from its sending facility and
control id (MSH-10), so a message sent again becomes the same events and is applied once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from flowcentre.domain.beds import status_from_hl7
from flowcentre.domain.configuration import describe
from flowcentre.domain.events import (
    Actor,
    ActorKind,
    Admission,
    AdmissionCancelled,
    AdmissionRequest,
    AdmissionRequestCancelled,
    AdmissionRequested,
    BedsSwapped,
    BedStatusChange,
    BedStatusChanged,
    BedSwap,
    Discharge,
    DischargeCancelled,
    DischargeDestination,
    EventBase,
    LeaveStart,
    Location,
    Patient,
    PatientAdmitted,
    PatientDischarged,
    PatientReturnedFromLeave,
    PatientTransferred,
    PatientWentOnLeave,
    Sex,
    Source,
    SpellRef,
    SpellUpdate,
    SpellUpdated,
    Transfer,
    TransferCancellation,
    TransferCancelled,
)
from flowcentre.hl7.messages import FieldInvalid, Fields, Problem
from flowcentre.hl7.sources import Sender, Sources, UnknownLocation

_IDENTIFIER = re.compile(r"^[A-Za-z0-9._:/@-]{1,100}$")

#: PID-8 (HL7 table 0001).
_SEX = {"M": Sex.MALE, "F": Sex.FEMALE, "O": Sex.OTHER, "A": Sex.OTHER, "N": Sex.OTHER}

#: PV1-37.1, as NHS feeds send it: the NHS Data Dictionary's discharge destination codes.
_DESTINATION = {
    "19": DischargeDestination.USUAL_RESIDENCE,
    "29": DischargeDestination.TEMPORARY_RESIDENCE,
    "49": DischargeDestination.OTHER_HOSPITAL,
    "50": DischargeDestination.OTHER_HOSPITAL,
    "51": DischargeDestination.OTHER_HOSPITAL,
    "52": DischargeDestination.OTHER_HOSPITAL,
    "53": DischargeDestination.OTHER_HOSPITAL,
    "84": DischargeDestination.OTHER_HOSPITAL,
    "87": DischargeDestination.OTHER_HOSPITAL,
    "54": DischargeDestination.CARE_HOME,
    "65": DischargeDestination.CARE_HOME,
    "85": DischargeDestination.CARE_HOME,
    "88": DischargeDestination.HOSPICE,
    "79": DischargeDestination.DIED,
    "98": DischargeDestination.UNKNOWN,
    "99": DischargeDestination.UNKNOWN,
}

#: PV1-36, the discharge method, where it says more than the destination does.
_METHOD = {
    "2": DischargeDestination.SELF_DISCHARGE,
    "4": DischargeDestination.DIED,
    "5": DischargeDestination.DIED,
}


#: Triggers acknowledged and kept, that change nothing on the boards: why, for each.
NOTED = {
    "A04": "a registration admits no one to a bed",
    "A05": "a pre-admission admits no one yet",
    "A15": "a pending transfer moves no one yet",
}

#: Triggers read whatever the patient class (PV1-2): a bed status names no patient, and a
#: pending admission is about a patient who is not an inpatient yet (an emergency
#: department sends its decisions to admit with its own class, E).
ANY_CLASS = frozenset({"A20", "A14", "A27"})

#: Triggers the live picture cannot honour: rejected, saying why.
REFUSED = {
    "A40": "merging two patients' records is not supported: send the surviving record's "
    "events (A08) instead",
}


#: The versions real feeds send, and this service reads.
VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1"})


class MessageRefused(ValueError):
    """A message this service does not take at all: rejected (AR)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


class UnsupportedTrigger(MessageRefused):
    def __init__(self, trigger: str) -> None:
        why = REFUSED.get(trigger, "it is not translated")
        detail = f"trigger event {trigger!r}: {why}"
        super().__init__(Problem("201", "Unsupported event code", detail, "MSH", 9))


@dataclass(frozen=True)
class Translation:
    events: list[EventBase]
    note: str = ""
    """Why a message taken made no event."""


@dataclass(frozen=True)
class Received:
    """A readable message, who sent it, and the sources that say where its places are."""

    fields: Fields
    sender: Sender
    sources: Sources
    received_at: datetime

    @property
    def control_id(self) -> str:
        return self.fields.text("MSH.F10")

    @property
    def trigger(self) -> str:
        return self.fields.text("MSH.F9.R1.C2").upper()


def _refusal(fields: Fields) -> Problem | None:
    kind, processing = fields.text("MSH.F9.R1.C1").upper(), fields.text("MSH.F11.R1.C1")
    version = fields.text("MSH.F12.R1.C1")
    if kind != "ADT":
        return Problem("200", "Unsupported message type", f"{kind!r} is not ADT", "MSH", 9)
    if processing != "P":
        # Training and debugging messages must not reach live boards.
        detail = f"processing id {processing!r}: only production (P) is taken"
        return Problem("202", "Unsupported processing id", detail, "MSH", 11)
    if version not in VERSIONS:
        detail = f"version {version!r}: {', '.join(sorted(VERSIONS))} are taken"
        return Problem("203", "Unsupported version id", detail, "MSH", 12)
    return None


def translate(received: Received) -> Translation:
    """The events the message means; MessageRefused, or FieldInvalid for a field wrong."""
    if refusal := _refusal(received.fields):
        raise MessageRefused(refusal)
    if received.trigger in NOTED:
        return Translation([], NOTED[received.trigger])
    translator = _TRIGGERS.get(received.trigger)
    if translator is None:
        raise UnsupportedTrigger(received.trigger)
    if received.trigger not in ANY_CLASS:
        patient_class = received.fields.text("PV1.F2.R1.C1").upper()
        if patient_class not in received.sender.patient_classes:
            return Translation([], f"patient class {patient_class!r} is not followed")
        if not received.fields.text("PV1.F19.R1.C1") and received.trigger == "A08":
            return Translation([], "an update without a visit number (PV1-19) names no spell")
    try:
        return Translation(translator(_Reading(received)))
    except UnknownLocation as error:
        raise FieldInvalid(Problem("103", "Table value not found", str(error), "PV1", 3)) from None
    except ValidationError as error:
        raise FieldInvalid(Problem("102", "Data type error", describe(error, 3))) from None


class _Reading:
    """One message being read into events."""

    def __init__(self, received: Received) -> None:
        self.received = received
        self.fields = received.fields
        self._made = 0

    def envelope(self, occurred: datetime | None = None) -> dict[str, Any]:
        """The envelope of the next event the message makes."""
        fields = self.fields
        recorded = (
            fields.time("EVN.F2", "EVN-2 (recorded date/time)")
            or fields.time("MSH.F7", "MSH-7 (message date/time)")
            or self.received.received_at
        )
        happened = occurred or fields.time("EVN.F6", "EVN-6 (event occurred)") or recorded
        self._made += 1
        return {
            "event_id": self._event_id(),
            "occurred_at": happened,
            "recorded_at": recorded,
            "source": Source(
                system=fields.text("MSH.F3.R1.C1") or "HL7 v2",
                organisation=self.received.sender.organisation,
            ),
            "caused_by": self._cause(),
        }

    def _event_id(self) -> str:
        # Control ids are unique per sending application, which one facility may have
        # several of (a PAS and an EPR).
        origin = f"{self.received.sender.facility}:{self.fields.text('MSH.F3.R1.C1')}"
        control = self.received.control_id
        if not _IDENTIFIER.fullmatch(f"{origin}:{control}"):
            origin = hashlib.sha256(origin.encode()).hexdigest()[:16]
        if not _IDENTIFIER.fullmatch(control):
            control = hashlib.sha256(control.encode()).hexdigest()[:32]
        suffix = f":{self._made}" if self._made > 1 else ""
        return f"hl7:{origin}:{control}{suffix}"

    def _cause(self) -> Actor:
        # EVN-5, the operator who made the change in the sending system, when it is sent.
        operator = self.fields.text("EVN.F5.R1.C1")
        # Named within the sending facility: a PAS user is not a Flow Centre account.
        user = f"{self.received.sender.facility}/{operator}"
        if operator and _IDENTIFIER.fullmatch(user):
            given, family = self.fields.text("EVN.F5.R1.C3"), self.fields.text("EVN.F5.R1.C2")
            name = " ".join(part for part in (given, family) if part)[:200] or None
            return Actor(kind=ActorKind.USER, id=user, name=name)
        application = self.fields.text("MSH.F3.R1.C1") or "hl7"
        system = application if _IDENTIFIER.fullmatch(application) else "hl7"
        return Actor(kind=ActorKind.SYSTEM, id=system, name=f"HL7 feed {application}")

    def spell_id(self, segment: str = "PV1") -> str:
        """The visit (PV1-19) as a spell; ``PV12`` reads the message's second PV1."""
        visit = self.fields.required(f"{segment}.F19.R1.C1", f"{segment[:3]}-19 (visit number)")
        return f"{self.received.sender.organisation}:{visit}"

    def location(self, field: int = 3, *, segment: str = "PV1") -> Location:
        base = f"{segment}.F{field}.R1"
        what = f"{segment[:3]}-{field}.1 (point of care)"
        point_of_care = self.fields.required(f"{base}.C1", what)
        facility = self.facility(field, segment=segment)
        place = self.received.sources.place(
            facility, point_of_care, self.fields.text(f"{base}.C2"), self.fields.text(f"{base}.C3")
        )
        return Location(ward_id=place.ward_id, bed_id=place.bed_id)

    def facility(self, field: int = 3, *, segment: str = "PV1") -> str:
        """A location's facility (its fourth component), or the sending facility."""
        sent = self.fields.text(f"{segment}.F{field}.R1.C4").split("&")[0]
        return sent or self.received.sender.facility

    def prior_location(self) -> Location | None:
        if not self.fields.text("PV1.F6.R1.C1"):
            return None
        return self.location(6)

    def identifiers(self) -> list[tuple[str, str, str]]:
        """PID-3's repetitions: identifier, assigning authority (CX.4.1), type (CX.5)."""
        count = self.fields.text_of_field("PID", 3).count("~") + 1
        return [
            (
                self.fields.text(f"PID.F3.R{n}.C1"),
                self.fields.text(f"PID.F3.R{n}.C4").split("&")[0],
                self.fields.text(f"PID.F3.R{n}.C5"),
            )
            for n in range(1, count + 1)
        ]

    def patient(self) -> Patient:
        """The patient as the message sends them: a field it leaves out is not sent, so
        an update does not clear what another message set (an objection to sharing above
        all)."""
        ids = self.identifiers()
        nhs = next(
            (
                _nhs_number(value)
                for value, authority, kind in ids
                if (kind == "NH" or authority == "NHS") and _nhs_number(value)
            ),
            None,
        )
        local = [value for value, authority, kind in ids if kind in ("MR", "PI") and value]
        own = [
            value
            for value, authority, kind in ids
            if kind in ("MR", "PI") and value and authority == self.received.sender.facility
        ]
        others = [v for v, authority, kind in ids if v and kind != "NH" and authority != "NHS"]
        patient_id = (own or local or others or [nhs or ""])[0]
        if not patient_id:
            raise FieldInvalid(Problem.missing("PID-3 (patient identifier)", "PID", 3))
        sent: dict[str, Any] = {"patient_id": patient_id}
        if nhs:
            sent["nhs_number"] = nhs
        if family := self.fields.text("PID.F5.R1.C1"):
            sent["family_name"] = family[:100]
        if given := self.fields.text("PID.F5.R1.C2"):
            sent["given_name"] = given[:100]
        if self.fields.text("PID.F7"):
            sent["birth_date"] = self.fields.day("PID.F7", "PID-7 (date of birth)")
        if sex := self.fields.text("PID.F8").upper():
            sent["sex"] = _SEX.get(sex, Sex.UNKNOWN)
        if self.fields.has("PD1"):
            sent["sharing_objection"] = self.fields.text("PD1.F12").upper() == "Y"
        return Patient(**sent)

    def expected_discharge(self) -> Any:
        return self.fields.day("PV2.F9", "PV2-9 (expected discharge date)")


def _nhs_number(value: str) -> str | None:
    """The NHS number, spaces removed, if its modulus 11 check digit holds."""
    digits = value.replace(" ", "")
    if not re.fullmatch(r"\d{10}", digits):
        return None
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    return digits if (0 if check == 11 else check) == int(digits[9]) else None


def _admitted(reading: _Reading) -> list[EventBase]:
    admitted = reading.fields.time("PV1.F44", "PV1-44 (admit date/time)")
    admission = Admission(
        spell_id=reading.spell_id(),
        patient=reading.patient(),
        location=reading.location(),
        specialty=reading.fields.text("PV1.F10") or None,
        expected_discharge_date=reading.expected_discharge(),
    )
    return [PatientAdmitted(**reading.envelope(admitted), payload=admission)]


def _transferred(reading: _Reading) -> list[EventBase]:
    transfer = Transfer(
        spell_id=reading.spell_id(),
        location=reading.location(),
        from_location=reading.prior_location(),
    )
    return [PatientTransferred(**reading.envelope(), payload=transfer)]


def _discharged(reading: _Reading) -> list[EventBase]:
    left = reading.fields.time("PV1.F45", "PV1-45 (discharge date/time)")
    # NHS feeds send the discharge method in PV1-36 and the destination in PV1-37.1.
    method = _METHOD.get(reading.fields.text("PV1.F36"))
    code = reading.fields.text("PV1.F37.R1.C1")
    if method is not None:
        discharge = Discharge(spell_id=reading.spell_id(), destination=method)
        return [PatientDischarged(**reading.envelope(left), payload=discharge)]
    destination = _DESTINATION.get(
        code, DischargeDestination.UNKNOWN if not code else DischargeDestination.OTHER
    )
    discharge = Discharge(
        spell_id=reading.spell_id(),
        destination=destination,
        destination_detail=f"PV1-37 {code}" if code and code not in _DESTINATION else None,
    )
    return [PatientDischarged(**reading.envelope(left), payload=discharge)]


def _updated(reading: _Reading) -> list[EventBase]:
    changes: dict[str, Any] = {"patient": reading.patient()}
    if reading.fields.text("PV2.F9"):
        changes["expected_discharge_date"] = reading.expected_discharge()
    update = SpellUpdate(spell_id=reading.spell_id(), **changes)
    return [SpellUpdated(**reading.envelope(), payload=update)]


def _bed_status(reading: _Reading) -> list[EventBase]:
    bed = reading.location(1, segment="NPU")
    code = reading.fields.required("NPU.F2", "NPU-2 (bed status)")
    try:
        status = status_from_hl7(code)
    except ValueError as error:
        raise FieldInvalid(Problem("103", "Table value not found", str(error), "NPU", 2)) from None
    if bed.bed_id is None:
        raise FieldInvalid(Problem.missing("NPU-1.3 (bed)", "NPU", 1))
    change = BedStatusChange(bed_id=bed.bed_id, status=status)
    return [BedStatusChanged(**reading.envelope(), payload=change)]


def _by_spell(
    event: type[
        AdmissionCancelled
        | AdmissionRequestCancelled
        | DischargeCancelled
        | PatientReturnedFromLeave
    ],
) -> Callable[[_Reading], list[EventBase]]:
    def translate_one(reading: _Reading) -> list[EventBase]:
        return [event(**reading.envelope(), payload=SpellRef(spell_id=reading.spell_id()))]

    return translate_one


def _admission_requested(reading: _Reading) -> list[EventBase]:
    # The decision to admit is the message's event (EVN-6), so the wait runs from it.
    # PV1-3 is where the patient is while they wait (often the emergency department), so
    # the ward they wait for is the pending location's, PV1-42, when one is sent; its bed
    # is not taken, since the admission is what gives the patient a bed.
    envelope = reading.envelope()
    point_of_care = reading.fields.text("PV1.F42.R1.C1")
    pending = point_of_care or reading.fields.text("PV1.F42.R1.C4")
    try:
        ward = reading.location(42).ward_id if point_of_care else None
    except UnknownLocation as error:
        problem = Problem("103", "Table value not found", str(error), "PV1", 42)
        raise FieldInvalid(problem) from None
    request = AdmissionRequest(
        spell_id=reading.spell_id(),
        patient=reading.patient(),
        site_id=reading.facility(42 if pending else 3),
        ward_id=ward,
        specialty=reading.fields.text("PV1.F10") or None,
        decided_at=envelope["occurred_at"],
        expected_at=reading.fields.time("PV2.F8", "PV2-8 (expected admit date/time)"),
    )
    return [AdmissionRequested(**envelope, payload=request)]


def _discharge_planned(reading: _Reading) -> list[EventBase]:
    # A pending discharge says when the patient is expected to go, if it says at all.
    if not reading.fields.text("PV2.F9"):
        return []
    plan = SpellUpdate(
        spell_id=reading.spell_id(), expected_discharge_date=reading.expected_discharge()
    )
    return [SpellUpdated(**reading.envelope(), payload=plan)]


def _swapped(reading: _Reading) -> list[EventBase]:
    # A17 carries each patient's PID and PV1 in turn, each PV1-3 the bed they move to.
    swap = BedSwap(
        spell_id=reading.spell_id(),
        location=reading.location(),
        other_spell_id=reading.spell_id("PV12"),
        other_location=reading.location(segment="PV12"),
    )
    return [BedsSwapped(**reading.envelope(), payload=swap)]


def _transfer_cancelled(reading: _Reading) -> list[EventBase]:
    # Which transfer is cancelled is the spell's latest: feeds differ in what PV1-3 and
    # PV1-6 hold on an A12, so neither is trusted to name it.
    cancellation = TransferCancellation(spell_id=reading.spell_id())
    return [TransferCancelled(**reading.envelope(), payload=cancellation)]


def _went_on_leave(reading: _Reading) -> list[EventBase]:
    leave = LeaveStart(spell_id=reading.spell_id())
    return [PatientWentOnLeave(**reading.envelope(), payload=leave)]


_TRIGGERS: dict[str, Callable[[_Reading], list[EventBase]]] = {
    "A01": _admitted,
    "A02": _transferred,
    "A03": _discharged,
    # An outpatient made an inpatient is admitted; an inpatient made an outpatient leaves.
    "A06": _admitted,
    "A07": _discharged,
    "A08": _updated,
    "A16": _discharge_planned,
    "A17": _swapped,
    "A11": _by_spell(AdmissionCancelled),
    "A12": _transfer_cancelled,
    "A13": _by_spell(DischargeCancelled),
    "A14": _admission_requested,
    "A20": _bed_status,
    "A21": _went_on_leave,
    "A22": _by_spell(PatientReturnedFromLeave),
    "A27": _by_spell(AdmissionRequestCancelled),
}

#: The trigger events translated, for the documentation and the listener's log.
TRANSLATED = tuple(sorted(_TRIGGERS))

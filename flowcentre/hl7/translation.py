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
from flowcentre.domain.events import (
    Actor,
    ActorKind,
    Admission,
    AdmissionCancelled,
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

#: PV1-36, as NHS feeds send it: the NHS Data Dictionary's discharge destination codes.
_DESTINATION = {
    "19": DischargeDestination.USUAL_RESIDENCE,
    "29": DischargeDestination.TEMPORARY_RESIDENCE,
    "50": DischargeDestination.OTHER_HOSPITAL,
    "51": DischargeDestination.OTHER_HOSPITAL,
    "52": DischargeDestination.OTHER_HOSPITAL,
    "87": DischargeDestination.OTHER_HOSPITAL,
    "53": DischargeDestination.CARE_HOME,
    "54": DischargeDestination.CARE_HOME,
    "65": DischargeDestination.CARE_HOME,
    "85": DischargeDestination.CARE_HOME,
    "88": DischargeDestination.HOSPICE,
    "79": DischargeDestination.DIED,
    "98": DischargeDestination.UNKNOWN,
    "99": DischargeDestination.UNKNOWN,
}


#: Triggers acknowledged and kept, that change nothing on the boards: why, for each.
NOTED = {
    "A04": "a registration admits no one to a bed",
    "A05": "a pre-admission admits no one yet",
    "A14": "a pending admission admits no one yet",
    "A15": "a pending transfer moves no one yet",
}

#: Triggers the live picture cannot honour: rejected, saying why.
REFUSED = {
    "A40": "merging two patients' records is not supported: send the surviving record's "
    "events (A08) instead",
}


class UnsupportedTrigger(ValueError):
    """A trigger event this service does not translate: the message is rejected."""

    def __init__(self, trigger: str) -> None:
        why = REFUSED.get(trigger, "it is not translated")
        super().__init__(f"trigger event {trigger!r}: {why}")
        self.problem = Problem("201", "Unsupported event code", str(self), "MSH", 9)


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


def translate(received: Received) -> list[EventBase]:
    """The events the message means, or FieldInvalid, UnknownLocation or UnsupportedTrigger."""
    if received.trigger in NOTED:
        return []
    translator = _TRIGGERS.get(received.trigger)
    if translator is None:
        raise UnsupportedTrigger(received.trigger)
    try:
        return translator(_Reading(received))
    except UnknownLocation as error:
        raise FieldInvalid(Problem("103", "Table value not found", str(error), "PV1", 3)) from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_url=False)[:3]
        )
        raise FieldInvalid(Problem("102", "Data type error", problems)) from None


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
        facility = self.received.sender.facility
        control = self.received.control_id
        if not _IDENTIFIER.fullmatch(control):
            control = hashlib.sha256(control.encode()).hexdigest()[:32]
        suffix = f":{self._made}" if self._made > 1 else ""
        return f"hl7:{facility}:{control}{suffix}"

    def _cause(self) -> Actor:
        # EVN-5, the operator who made the change in the sending system, when it is sent.
        operator = self.fields.text("EVN.F5.R1.C1")
        if operator and _IDENTIFIER.fullmatch(operator):
            given, family = self.fields.text("EVN.F5.R1.C3"), self.fields.text("EVN.F5.R1.C2")
            name = " ".join(part for part in (given, family) if part) or None
            return Actor(kind=ActorKind.USER, id=operator, name=name)
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
        facility = self.fields.text(f"{base}.C4").split("&")[0] or self.received.sender.facility
        place = self.received.sources.place(
            facility, point_of_care, self.fields.text(f"{base}.C2"), self.fields.text(f"{base}.C3")
        )
        return Location(ward_id=place.ward_id, bed_id=place.bed_id)

    def prior_location(self) -> Location | None:
        if not self.fields.text("PV1.F6.R1.C1"):
            return None
        return self.location(6)

    def patient(self) -> Patient:
        ids = self.fields.repetitions("PID", 3)
        nhs = next((str(rep(1)) for rep in ids if _is_nhs_number(rep)), None)
        local = next((str(rep(1)) for rep in ids if str(rep(5)) in ("MR", "PI")), None)
        patient_id = local or (str(ids[0](1)) if ids else "")
        if not patient_id:
            raise FieldInvalid(Problem.missing("PID-3 (patient identifier)", "PID", 3))
        return Patient(
            patient_id=patient_id,
            nhs_number=nhs,
            family_name=self.fields.text("PID.F5.R1.C1") or None,
            given_name=self.fields.text("PID.F5.R1.C2") or None,
            birth_date=self.fields.day("PID.F7", "PID-7 (date of birth)"),
            sex=_SEX.get(self.fields.text("PID.F8").upper(), Sex.UNKNOWN),
            sharing_objection=self.fields.text("PD1.F12").upper() == "Y",
        )

    def expected_discharge(self) -> Any:
        return self.fields.day("PV2.F9", "PV2-9 (expected discharge date)")


def _is_nhs_number(identifier: Any) -> bool:
    """A PID-3 repetition of type NH, or assigned by the NHS, of ten digits."""
    typed = str(identifier(5)) == "NH" or str(identifier(4)) == "NHS"
    return typed and re.fullmatch(r"\d{10}", str(identifier(1))) is not None


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
    code = reading.fields.text("PV1.F36")
    destination = _DESTINATION.get(
        code, DischargeDestination.UNKNOWN if not code else DischargeDestination.OTHER
    )
    discharge = Discharge(
        spell_id=reading.spell_id(),
        destination=destination,
        destination_detail=f"PV1-36 {code}" if code and code not in _DESTINATION else None,
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
    event: type[AdmissionCancelled | DischargeCancelled | PatientReturnedFromLeave],
) -> Callable[[_Reading], list[EventBase]]:
    def translate_one(reading: _Reading) -> list[EventBase]:
        return [event(**reading.envelope(), payload=SpellRef(spell_id=reading.spell_id()))]

    return translate_one


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
    "A20": _bed_status,
    "A21": _went_on_leave,
    "A22": _by_spell(PatientReturnedFromLeave),
}

#: The trigger events translated, for the documentation and the listener's log.
TRANSLATED = tuple(sorted(_TRIGGERS))

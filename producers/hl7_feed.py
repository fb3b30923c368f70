"""The simulated county's traffic as its patient administration systems would send it:
HL7 v2.5.1 ADT messages over MLLP to ``flowcentre hl7-listen``, each sent once the one
before is acknowledged.

What has no HL7 form is published as events, as a hospital's other systems would send
it: the registry as its bed management system would load it, and discharge planning,
community capacity, expected destinations and reserved beds (table 0116 has no code for
them) as their own systems would. Those events
name spells as the listener does, by the sending organisation and the visit number.
Locations are written as the packaged sources file reads them back: the site is the
facility, the ward's code the point of care, the bed's own part the bed.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import hl7

from flowcentre.domain.events import (
    AdmissionCancelled,
    BedsSwapped,
    BedStatusChanged,
    DischargeCancelled,
    EventBase,
    Location,
    Patient,
    PatientAdmitted,
    PatientDischarged,
    PatientReturnedFromLeave,
    PatientTransferred,
    PatientWentOnLeave,
    Sex,
    SpellUpdated,
    TransferCancelled,
)
from flowcentre.hl7.mllp import framed
from flowcentre.hl7.sources import Sources, load_sources
from flowcentre.publisher import EventPublisher, PublishFailed

log = logging.getLogger(__name__)

_SEX = {Sex.MALE: "M", Sex.FEMALE: "F", Sex.OTHER: "O", Sex.UNKNOWN: "U"}
_STATUS = {
    "clean": "U",
    "awaiting_clean": "H",
    "cleaning": "H",
    "contaminated": "K",
    "isolated": "I",
    "closed": "C",
    "blocked": "C",
}
_DESTINATION = {
    "usual_residence": "19",
    "temporary_residence": "29",
    "care_home": "54",
    "community_hospital": "51",
    "other_hospital": "50",
    "hospice": "88",
    "died": "79",
    "unknown": "99",
}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _day(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day else ""


def _escape(text: str) -> str:
    return re.sub(r"[|^~\\&]", " ", text)


class Hl7Feed(EventPublisher):
    """Sends each event that has an HL7 form as a message, and the others as events."""

    def __init__(
        self,
        host: str,
        port: int,
        events: EventPublisher,
        timeout_s: float = 30.0,
        sources: Sources | None = None,
    ) -> None:
        self._address = (host, port)
        self._events = events
        sources = sources or load_sources()
        self._organisation_of = {sender.facility: sender.organisation for sender in sources.senders}
        self._timeout_s = timeout_s
        self._socket: socket.socket | None = None
        self._reader: Any = None
        self._sending = threading.Lock()
        # HL7 messages name the site and patient of every event; events name them once.
        self._site_of: dict[str, str] = {}
        self._patient_of: dict[str, Patient] = {}

    def publish(self, events: Sequence[EventBase]) -> None:
        with self._sending:
            # In order, so that a plan never reaches the log before its admission.
            plain: list[EventBase] = []
            for event in events:
                message = self.message(event)
                if message is None:
                    plain.append(self.as_listened(event))
                    continue
                if plain:
                    self._events.publish(plain)
                    plain = []
                self._send(message, event.event_id)
            if plain:
                self._events.publish(plain)

    def as_listened(self, event: EventBase) -> EventBase:
        """The event with its spells named as the listener names those of its messages."""
        payload = event.payload  # type: ignore[attr-defined]
        spell_id = getattr(payload, "spell_id", None)
        if not isinstance(spell_id, str):
            return event
        site = self._site_of.get(spell_id)
        organisation = self._organisation_of.get(site or "", event.source.organisation)
        named = payload.model_copy(update={"spell_id": f"{organisation}:{spell_id}"})
        return event.model_copy(update={"payload": named})

    def message(self, event: EventBase) -> str | None:
        """The event as an HL7 message, or None if it has no HL7 form."""
        spell_id = getattr(event.payload, "spell_id", None)  # type: ignore[attr-defined]
        if isinstance(event, PatientAdmitted):
            payload = event.payload
            self._patient_of[payload.spell_id] = payload.patient
            self._site_of[payload.spell_id] = _place(payload.location)[0]
            pv1 = _pv1(
                payload.spell_id,
                _place(payload.location),
                admitted=event.occurred_at,
                service=payload.specialty or "",
            )
            return self._build("A01", event, pv1, pv2=_day(payload.expected_discharge_date))
        if isinstance(event, PatientTransferred):
            move = event.payload
            place = _place(move.location)
            self._site_of[move.spell_id] = place[0]
            prior = _place(move.from_location) if move.from_location else None
            return self._build("A02", event, _pv1(move.spell_id, place, prior=prior))
        if isinstance(event, PatientDischarged):
            destination = _DESTINATION.get(event.payload.destination.value, "")
            pv1 = self._pv1_of(event.payload.spell_id, left=event.occurred_at, code=destination)
            return self._build("A03", event, pv1)
        if isinstance(event, BedStatusChanged) and event.payload.status.value in _STATUS:
            # The county's beds are <site>-<ward code>-<bed>.
            site, ward, bed = event.payload.bed_id.split("-", 2)
            code = _STATUS[event.payload.status.value]
            return self._frame("A20", event, site, [f"NPU|{ward}^^{bed}^{site}|{code}"])
        if isinstance(event, BedsSwapped):
            swap = event.payload
            first = _pv1(swap.spell_id, _place(swap.location))
            second = _pv1(swap.other_spell_id, _place(swap.other_location))
            body = [self._pid(swap.spell_id), first, self._pid(swap.other_spell_id), second]
            return self._frame("A17", event, _place(swap.location)[0], body)
        trigger = {
            AdmissionCancelled: "A11",
            TransferCancelled: "A12",
            DischargeCancelled: "A13",
            PatientWentOnLeave: "A21",
            PatientReturnedFromLeave: "A22",
        }.get(type(event))
        if trigger is not None and isinstance(spell_id, str):
            return self._build(trigger, event, self._pv1_of(spell_id))
        dated = isinstance(event, SpellUpdated) and (
            "expected_discharge_date" in event.payload.model_fields_set
        )
        if isinstance(event, SpellUpdated) and dated:
            pv2 = _day(event.payload.expected_discharge_date)
            return self._build("A16", event, self._pv1_of(event.payload.spell_id), pv2=pv2)
        if isinstance(event, SpellUpdated) and event.payload.patient is not None:
            self._patient_of[event.payload.spell_id] = event.payload.patient
            return self._build("A08", event, self._pv1_of(event.payload.spell_id))
        return None

    def _pv1_of(self, spell_id: str, **details: Any) -> str:
        """A PV1 that names the visit, not where the patient is."""
        return _pv1(spell_id, (self._site_of.get(spell_id, ""), "", ""), **details)

    def _pid(self, spell_id: str) -> str:
        patient = self._patient_of.get(spell_id)
        if patient is None:
            return "PID|1||UNKNOWN^^^LOCAL^MR"
        ids = [f"{patient.patient_id}^^^LOCAL^MR"]
        if patient.nhs_number:
            ids.insert(0, f"{patient.nhs_number}^^^NHS^NH")
        name = f"{_escape(patient.family_name or '')}^{_escape(patient.given_name or '')}"
        born = _day(patient.birth_date)
        return f"PID|1||{'~'.join(ids)}||{name}||{born}|{_SEX[patient.sex]}"

    def _pd1(self, spell_id: str) -> str:
        patient = self._patient_of.get(spell_id)
        objects = "Y" if patient is not None and patient.sharing_objection else "N"
        return "PD1" + "|" * 12 + objects

    def _build(self, trigger: str, event: EventBase, pv1: str, *, pv2: str = "") -> str:
        spell_id = str(event.payload.spell_id)  # type: ignore[attr-defined]
        segments = [self._pid(spell_id), self._pd1(spell_id), pv1]
        if pv2:
            segments.append("PV2" + "|" * 9 + pv2)
        return self._frame(trigger, event, self._site_of.get(spell_id, ""), segments)

    def _frame(self, trigger: str, event: EventBase, site: str, body: list[str]) -> str:
        operator = event.caused_by
        segments = [
            f"MSH|^~\\&|SIMPAS|{site}|FLOWCENTRE|COUNTY|{_time(event.recorded_at)}||"
            f"ADT^{trigger}^ADT_A01|{event.event_id}|P|2.5.1",
            f"EVN|{trigger}|{_time(event.recorded_at)}|||"
            f"{operator.id if operator.kind.value == 'user' else ''}|{_time(event.occurred_at)}",
            *body,
        ]
        return "\r".join(segments) + "\r"

    def _send(self, message: str, event_id: str) -> None:
        try:
            connection = self._connected()
            connection.sendall(framed(message.encode()))
            answer = self._reader.readline_frame()
        except OSError as error:
            self._disconnect()
            raise PublishFailed(f"the HL7 listener did not take {event_id}: {error!r}") from error
        ack = hl7.parse(answer.decode())
        if str(ack["MSA.F1"]) != "AA":
            log.warning("%s answered %s: %s", event_id, ack["MSA.F1"], ack["ERR.F8"])

    def _connected(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.create_connection(self._address, self._timeout_s)
            self._reader = _FrameReader(self._socket)
        return self._socket

    def _disconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None

    def close(self) -> None:
        with self._sending:
            self._disconnect()
        self._events.close()


class _FrameReader:
    """Reads MLLP frames from a blocking socket."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._buffer = b""

    def readline_frame(self) -> bytes:
        while b"\x1c\r" not in self._buffer:
            chunk = self._connection.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\x1c\r")
        return frame.lstrip(b"\x0b")


def _place(location: Location) -> tuple[str, str, str]:
    """The site, the ward's code and the bed's own part: the county's wards are
    <site>-<code> and its beds <ward>-<bed>."""
    site, _, ward = location.ward_id.partition("-")
    bed = location.bed_id.removeprefix(f"{location.ward_id}-") if location.bed_id else ""
    return site, ward, bed


def _pv1(
    spell_id: str,
    place: tuple[str, str, str],
    *,
    admitted: datetime | None = None,
    left: datetime | None = None,
    code: str = "",
    service: str = "",
    prior: tuple[str, str, str] | None = None,
) -> str:
    site, ward, bed = place
    fields = [""] * 46
    fields[0], fields[1], fields[2] = "PV1", "1", "I"
    fields[3] = f"{ward}^^{bed}^{site}" if ward else ""
    if prior is not None:
        fields[6] = f"{prior[1]}^^{prior[2]}^{prior[0]}"
    fields[10] = _escape(service)
    fields[19] = f"{spell_id}^^^{site}^VN"
    fields[37] = code
    fields[44] = _time(admitted) if admitted else ""
    fields[45] = _time(left) if left else ""
    return "|".join(fields)

"""The audit trail of reads: who read which patient's identifying details, when, and where.

A change is already attributed by its own event; a read changes nothing, so each read of
patient-identifiable data is recorded as an event of its own, on the audit topic
(``FLOWCENTRE_AUDIT_TOPIC``), in the envelope every event carries: ``caused_by`` is the
reader, ``occurred_at`` the moment of the read, ``source.organisation`` the reader's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.events import EventBase, decode_with


class PatientShown(Contract):
    patient_id: Identifier
    """The patient's identifier in the record of the organisation that admitted them."""
    nhs_number: str | None = None
    spell_id: Identifier
    withheld: bool = False
    """The patient objects to sharing and the reader is of another organisation: their
    identifying fields were withheld, though the read of their record is kept here."""
    held_by: Identifier | None = None
    """The organisation running the patient's ward at the time of the read."""


class DetailsRead(Contract):
    view: Annotated[str, Field(min_length=1, max_length=200)]
    """The endpoint or view, such as ``GET /api/v1/beds/{bed_id}/patients``."""
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    """What was asked for: the bed, ward or spell named in the request."""
    patients: tuple[PatientShown, ...]


class PatientDetailsRead(EventBase):
    type: Literal["PatientDetailsRead"] = "PatientDetailsRead"
    payload: DetailsRead


_AUDIT_EVENT: TypeAdapter[PatientDetailsRead] = TypeAdapter(PatientDetailsRead)


def decode_audit_event(raw: bytes) -> PatientDetailsRead:
    """Parse one audit record from the wire, or raise EventRejected naming the problem."""
    return decode_with(_AUDIT_EVENT, raw)


#: What an administrator of another organisation sees of a withheld patient's identifiers.
WITHHELD = "withheld"


def seen_by(read: PatientDetailsRead, organisation: str) -> PatientDetailsRead:
    """The read as an administrator of ``organisation`` may see it: a patient whose details
    were withheld from the reader stays withheld from administrators of other
    organisations than the one caring for them."""
    patients = tuple(
        shown
        if not shown.withheld or shown.held_by == organisation
        else shown.model_copy(
            update={"patient_id": WITHHELD, "nhs_number": None, "spell_id": WITHHELD}
        )
        for shown in read.payload.patients
    )
    return read.model_copy(
        update={"payload": read.payload.model_copy(update={"patients": patients})}
    )


def audit_key(event: EventBase) -> bytes:
    """The Kafka key: a reader's records share a partition, so they stay in order."""
    return event.caused_by.id.encode()

"""The event contract, version 1: an envelope and one typed payload per event type.

Every change to the live picture enters the log as one of these events, encoded as JSON.
The JSON Schema files in ``flowcentre/domain/schemas`` are generated from these models
(``flowcentre schemas``), so an outside system can publish valid events with any client.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)

from flowcentre.domain.alert_rules import AlertRule, Scope
from flowcentre.domain.beds import BedStatus
from flowcentre.domain.configuration import describe
from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.opel import Scored
from flowcentre.domain.places import OrganisationKind, SiteKind, WardSex
from flowcentre.domain.triage import Pathway, TaskKind, TaskStatus, TriageAnswers

SCHEMA_VERSION: Literal[1] = 1

Parsed = TypeVar("Parsed")


class ActorKind(StrEnum):
    USER = "user"
    DEVICE = "device"
    SYSTEM = "system"
    SERVICE = "service"


class Actor(Contract):
    """Who or what caused the change: a person, a ward device, a feed or a service account."""

    kind: ActorKind
    id: Identifier
    name: str | None = Field(default=None, max_length=200)


class Source(Contract):
    """The system and organisation the event came from (for a feed, the sending PAS)."""

    system: Annotated[str, Field(min_length=1, max_length=100)]
    organisation: Identifier


class Location(Contract):
    """Where a patient is: always a ward, and a bed once one is assigned."""

    ward_id: Identifier
    bed_id: Identifier | None = None


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Patient(Contract):
    """The person in a spell. Only the spell record holds these; boards get initials."""

    patient_id: Identifier
    nhs_number: Annotated[str, Field(pattern=r"^[0-9]{10}$")] | None = None
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    sex: Sex = Sex.UNKNOWN
    sharing_objection: bool = Field(
        default=False,
        description="The patient objects to their record being shared: staff of other "
        "organisations than the one running their ward see none of their identifying "
        "fields (HL7 v2 PD1-12 protection indicator Y; FHIR Patient.meta.security R).",
    )

    @model_serializer(mode="wrap")
    def _present_fields_only(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A spell update names only what it changes: a field a feed left out (an
        # objection to sharing above all) must not come back as its default and clear
        # what another message set.
        document: dict[str, Any] = serialize(self)
        return {k: v for k, v in document.items() if k in self.model_fields_set}

    def updated_by(self, update: Patient) -> Patient:
        """This patient with the fields ``update`` sends."""
        sent = {name: getattr(update, name) for name in update.model_fields_set}
        return self.model_copy(update=sent)


class DischargeDestination(StrEnum):
    """Where the patient went, at the grain the flow centre plans pathways by."""

    USUAL_RESIDENCE = "usual_residence"
    TEMPORARY_RESIDENCE = "temporary_residence"
    CARE_HOME = "care_home"
    COMMUNITY_HOSPITAL = "community_hospital"
    OTHER_HOSPITAL = "other_hospital"
    HOSPICE = "hospice"
    DIED = "died"
    SELF_DISCHARGE = "self_discharge"
    OTHER = "other"
    UNKNOWN = "unknown"


# Payloads -----------------------------------------------------------------------------


class OrganisationDetails(Contract):
    organisation_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: OrganisationKind


class SiteDetails(Contract):
    site_id: Identifier
    organisation_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: SiteKind


class WardDetails(Contract):
    ward_id: Identifier
    site_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    specialty: str = Field(default="general", max_length=100)
    sex: WardSex = WardSex.MIXED


class BedDetails(Contract):
    bed_id: Identifier
    ward_id: Identifier
    label: Annotated[str, Field(min_length=1, max_length=50)]
    room: str | None = Field(default=None, max_length=50, description="Bay or room name.")
    side_room: bool = False
    escalation: bool = Field(
        default=False,
        description="An escalation bed: opened only under pressure (a day-case area, a "
        "bed added to a bay), not one of the ward's usual beds.",
    )


class BedRef(Contract):
    bed_id: Identifier


class Admission(Contract):
    spell_id: Identifier
    patient: Patient
    location: Location
    specialty: str | None = Field(default=None, max_length=100)
    expected_discharge_date: date | None = None


class AdmissionRequest(Contract):
    """A patient the hospital has decided to admit, waiting for a bed: an emergency
    department's decision to admit, or a booked admission."""

    spell_id: Identifier = Field(description="The spell the admission will open.")
    patient: Patient
    site_id: Identifier = Field(description="The site whose bed the patient waits for.")
    ward_id: Identifier | None = Field(default=None, description="The ward, when one is named.")
    specialty: str | None = Field(default=None, max_length=100)
    decided_at: AwareDatetime = Field(
        description="When the decision to admit was made (or the admission booked): the "
        "wait runs from it."
    )
    expected_at: AwareDatetime | None = Field(
        default=None, description="When the patient is expected to be admitted."
    )


class Transfer(Contract):
    spell_id: Identifier
    location: Location
    from_location: Location | None = Field(
        default=None, description="Informative only: the spell's own history decides."
    )


class Discharge(Contract):
    spell_id: Identifier
    destination: DischargeDestination = DischargeDestination.UNKNOWN
    destination_detail: str | None = Field(default=None, max_length=200)


class SpellRef(Contract):
    spell_id: Identifier


class TransferCancellation(Contract):
    spell_id: Identifier
    location: Location | None = Field(
        default=None,
        description="The destination of the transfer being cancelled; without it, the "
        "latest transfer is cancelled.",
    )


class SpellUpdate(Contract):
    """Only the fields present are changed; a field set to null clears it."""

    spell_id: Identifier
    patient: Patient | None = None
    expected_discharge_date: date | None = None
    expected_destination: DischargeDestination | None = None
    clinical_criteria: str | None = Field(
        default=None,
        max_length=500,
        description="The clinical criteria for discharge the senior clinician set: what "
        "must be true for the patient to leave.",
    )

    @model_serializer(mode="wrap")
    def _present_fields_only(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent and null mean different things here (keep versus clear), so a field that
        # was not sent must stay absent when the event is stored and read back.
        document: dict[str, Any] = serialize(self)
        return {k: v for k, v in document.items() if k == "spell_id" or k in self.model_fields_set}


class BedSwap(Contract):
    """Two patients exchange beds; each side carries the location it moves to."""

    spell_id: Identifier
    location: Location
    other_spell_id: Identifier
    other_location: Location


class LeaveStart(Contract):
    spell_id: Identifier
    expected_return: AwareDatetime | None = None


class BedStatusChange(Contract):
    bed_id: Identifier
    status: BedStatus
    reason: str | None = Field(default=None, max_length=200)


class ResideReview(Contract):
    """The daily review of whether the patient still needs to be in hospital."""

    spell_id: Identifier
    meets_criteria: bool = Field(description="The patient meets the criteria to reside.")
    delay_reason: Identifier | None = Field(
        default=None,
        description="Why a patient who no longer meets the criteria to reside is still in "
        "hospital: a code of the configured list.",
    )
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _delay_only_without_criteria(self) -> ResideReview:
        if self.meets_criteria and self.delay_reason is not None:
            raise ValueError("delay_reason: only a patient without criteria to reside is delayed")
        return self


class DayMark(Contract):
    """A SAFER red or green day: whether the day moved the patient towards discharge."""

    spell_id: Identifier
    day: date = Field(description="The calendar day marked, local to the hospital.")
    green: bool = Field(
        description="True: the day moved the patient towards discharge. False: a red day, "
        "which added nothing that needed a hospital bed."
    )
    reason: str | None = Field(
        default=None, max_length=200, description="Why the day was red; only for a red day."
    )

    @model_validator(mode="after")
    def _reason_only_for_a_red_day(self) -> DayMark:
        if self.green and self.reason is not None:
            raise ValueError("reason: only a red day gives a reason")
        return self


class Referral(Contract):
    spell_id: Identifier
    referral_id: Identifier
    note: str | None = Field(default=None, max_length=500)


class ReferralCancellation(Contract):
    spell_id: Identifier
    referral_id: Identifier
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ProposedPathway(Contract):
    """What the rule set proposed, and which rule of which version proposed it."""

    pathway: Pathway
    rule: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    version: Annotated[str, Field(min_length=1, max_length=100)]


class Triage(Contract):
    """Triage's answers and the pathway allocated, with the tasks the allocation sets."""

    spell_id: Identifier
    referral_id: Identifier
    answers: TriageAnswers
    proposed: ProposedPathway
    pathway: Pathway
    override_reason: str | None = Field(default=None, max_length=500)
    tasks: tuple[TaskKind, ...] = Field(
        default=(), description="The discharge tasks the pathway needs, as configured."
    )

    @model_validator(mode="after")
    def _override_says_why(self) -> Triage:
        overridden = self.pathway is not self.proposed.pathway
        if overridden and not (self.override_reason and self.override_reason.strip()):
            raise ValueError(
                f"override_reason: pathway {self.pathway.value} differs from the proposed "
                f"{self.proposed.pathway.value}: say why"
            )
        return self


class TaskUpdate(Contract):
    spell_id: Identifier
    task: TaskKind
    status: TaskStatus
    due_at: AwareDatetime | None = Field(
        default=None, description="When it is for: the booked transport's pick-up time, say."
    )
    note: str | None = Field(default=None, max_length=500)


class Service(StrEnum):
    """Community and social care capacity, by the pathway that needs it."""

    REABLEMENT = "reablement"
    HOME_CARE = "home_care"
    COMMUNITY_HOSPITAL_BED = "community_hospital_bed"
    STEP_DOWN_BED = "step_down_bed"
    REHABILITATION_BED = "rehabilitation_bed"
    CARE_HOME_RESIDENTIAL = "care_home_residential"
    CARE_HOME_NURSING = "care_home_nursing"

    @property
    def pathway(self) -> Pathway:
        return _SERVICE_PATHWAY[self]


_SERVICE_PATHWAY = {
    Service.REABLEMENT: Pathway.HOME_WITH_SUPPORT,
    Service.HOME_CARE: Pathway.HOME_WITH_SUPPORT,
    Service.COMMUNITY_HOSPITAL_BED: Pathway.BED_BASED_RECOVERY,
    Service.STEP_DOWN_BED: Pathway.BED_BASED_RECOVERY,
    Service.REHABILITATION_BED: Pathway.BED_BASED_RECOVERY,
    Service.CARE_HOME_RESIDENTIAL: Pathway.LONG_TERM_CARE,
    Service.CARE_HOME_NURSING: Pathway.LONG_TERM_CARE,
}


class CapacityRef(Contract):
    """One pool of capacity: a service's starts (or free beds) in an area on a day."""

    service: Service
    area: Identifier
    day: date

    @property
    def key(self) -> str:
        return f"{self.service.value}:{self.area}:{self.day.isoformat()}"


class CapacityDeclaration(Contract):
    organisation_id: Identifier
    capacity: CapacityRef
    available: Annotated[int, Field(ge=0, le=100_000)] = Field(
        description="Starts or beds the provider offers in the pool, reservations included."
    )


class Reservation(Contract):
    spell_id: Identifier
    reservation_id: Identifier
    capacity: CapacityRef
    expires_at: AwareDatetime = Field(description="Unless the patient is discharged by then.")


class ReservationRelease(Contract):
    spell_id: Identifier
    reservation_id: Identifier
    reason: Annotated[str, Field(min_length=1, max_length=500)]


# Events -------------------------------------------------------------------------------


class Tick(Contract):
    """The time on the log: alerts' hold times and times of day are judged by it."""

    clock: Identifier = Field(description="The clock that ticked: one a deployment.")


class RuleRef(Contract):
    rule_id: Identifier
    reason: str | None = Field(default=None, max_length=500)


class RaisedAlert(Contract):
    """An alert, with why it fired: the rule as it was, its scope, and the reading."""

    alert_id: Identifier
    rule: AlertRule
    rule_version: Annotated[int, Field(ge=1)]
    scope: Scope = Field(description="The one organisation, site, ward or pathway in trouble.")
    value: float
    wards: Annotated[int, Field(ge=0)] = Field(description="Wards that contributed.")
    patients: Annotated[int, Field(ge=0)] = Field(description="Patients counted.")


class Escalation(Contract):
    alert_id: Identifier
    step: Annotated[int, Field(ge=0)] = Field(description="The ladder's step, from 0.")
    notify: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(min_length=1)


class Acknowledgement(Contract):
    alert_id: Identifier
    note: str | None = Field(default=None, max_length=500)


class Resolution(Contract):
    alert_id: Identifier
    reason: str | None = Field(
        default=None, max_length=500, description="Why a manager resolved it; required then."
    )
    value: float | None = Field(
        default=None, description="The reading that cleared it, when the watch resolved it."
    )

    @model_validator(mode="after")
    def _a_reason_or_a_reading(self) -> Resolution:
        if (self.reason is None) == (self.value is None):
            raise ValueError("a resolution gives either the clearing reading or a reason")
        return self


class OpelReading(Contract):
    """A reported OPEL parameter's value (an ambulance handover time, the department's
    4-hour performance...), measured at the event's ``occurred_at``."""

    site_id: Identifier | None = Field(default=None, description="None: the whole system.")
    parameter: Identifier
    value: Annotated[float, Field(allow_inf_nan=False)]


class OpelChange(Contract):
    """A site's or the system's OPEL, assessed anew because its level changed, or the
    parameters it lacks did (a reading went stale): the level and what is behind it."""

    scope: Scope = Field(description="A site, or the system.")
    level: Annotated[int, Field(ge=1, le=4)] | None = Field(
        description="None when no parameter had a value to score."
    )
    previous: Annotated[int, Field(ge=1, le=4)] | None = None
    share: Annotated[float, Field(ge=0, le=100)]
    version: Identifier = Field(description="The OPEL configuration's version.")
    parameters: tuple[Scored, ...]
    drivers: tuple[Identifier, ...] = Field(description="The parameters scoring highest.")


class EventBase(Contract):
    """The envelope every event carries."""

    event_id: Identifier = Field(description="Unique per event; a repeat is a duplicate.")
    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: AwareDatetime = Field(description="When it happened in the real world.")
    recorded_at: AwareDatetime = Field(description="When the source system recorded it.")
    source: Source
    caused_by: Actor

    def order(self) -> tuple[datetime, datetime, str]:
        """Event-time order: the fold sorts by this, so arrival order never matters."""
        return (self.occurred_at, self.recorded_at, self.event_id)


class OrganisationRegistered(EventBase):
    type: Literal["OrganisationRegistered"] = "OrganisationRegistered"
    payload: OrganisationDetails


class SiteRegistered(EventBase):
    type: Literal["SiteRegistered"] = "SiteRegistered"
    payload: SiteDetails


class WardRegistered(EventBase):
    type: Literal["WardRegistered"] = "WardRegistered"
    payload: WardDetails


class BedRegistered(EventBase):
    type: Literal["BedRegistered"] = "BedRegistered"
    payload: BedDetails


class BedDecommissioned(EventBase):
    type: Literal["BedDecommissioned"] = "BedDecommissioned"
    payload: BedRef


class PatientAdmitted(EventBase):
    type: Literal["PatientAdmitted"] = "PatientAdmitted"
    payload: Admission


class PatientTransferred(EventBase):
    type: Literal["PatientTransferred"] = "PatientTransferred"
    payload: Transfer


class PatientDischarged(EventBase):
    type: Literal["PatientDischarged"] = "PatientDischarged"
    payload: Discharge


class AdmissionCancelled(EventBase):
    type: Literal["AdmissionCancelled"] = "AdmissionCancelled"
    payload: SpellRef


class AdmissionRequested(EventBase):
    type: Literal["AdmissionRequested"] = "AdmissionRequested"
    payload: AdmissionRequest


class AdmissionRequestCancelled(EventBase):
    type: Literal["AdmissionRequestCancelled"] = "AdmissionRequestCancelled"
    payload: SpellRef


class TransferCancelled(EventBase):
    type: Literal["TransferCancelled"] = "TransferCancelled"
    payload: TransferCancellation


class DischargeCancelled(EventBase):
    type: Literal["DischargeCancelled"] = "DischargeCancelled"
    payload: SpellRef


class SpellUpdated(EventBase):
    type: Literal["SpellUpdated"] = "SpellUpdated"
    payload: SpellUpdate


class BedsSwapped(EventBase):
    type: Literal["BedsSwapped"] = "BedsSwapped"
    payload: BedSwap


class PatientWentOnLeave(EventBase):
    type: Literal["PatientWentOnLeave"] = "PatientWentOnLeave"
    payload: LeaveStart


class PatientReturnedFromLeave(EventBase):
    type: Literal["PatientReturnedFromLeave"] = "PatientReturnedFromLeave"
    payload: SpellRef


class BedStatusChanged(EventBase):
    type: Literal["BedStatusChanged"] = "BedStatusChanged"
    payload: BedStatusChange


class CriteriaToResideReviewed(EventBase):
    type: Literal["CriteriaToResideReviewed"] = "CriteriaToResideReviewed"
    payload: ResideReview


class RedGreenDayMarked(EventBase):
    type: Literal["RedGreenDayMarked"] = "RedGreenDayMarked"
    payload: DayMark


class PatientReferred(EventBase):
    type: Literal["PatientReferred"] = "PatientReferred"
    payload: Referral


class ReferralCancelled(EventBase):
    type: Literal["ReferralCancelled"] = "ReferralCancelled"
    payload: ReferralCancellation


class PatientTriaged(EventBase):
    type: Literal["PatientTriaged"] = "PatientTriaged"
    payload: Triage


class DischargeTaskUpdated(EventBase):
    type: Literal["DischargeTaskUpdated"] = "DischargeTaskUpdated"
    payload: TaskUpdate


class CapacityReserved(EventBase):
    type: Literal["CapacityReserved"] = "CapacityReserved"
    payload: Reservation


class ReservationReleased(EventBase):
    type: Literal["ReservationReleased"] = "ReservationReleased"
    payload: ReservationRelease


class CapacityDeclared(EventBase):
    type: Literal["CapacityDeclared"] = "CapacityDeclared"
    payload: CapacityDeclaration


class ClockTicked(EventBase):
    type: Literal["ClockTicked"] = "ClockTicked"
    payload: Tick


class AlertRuleSaved(EventBase):
    """A rule created or changed (disabling is a change): each save a new version."""

    type: Literal["AlertRuleSaved"] = "AlertRuleSaved"
    payload: AlertRule


class AlertRuleDeleted(EventBase):
    type: Literal["AlertRuleDeleted"] = "AlertRuleDeleted"
    payload: RuleRef


class AlertRaised(EventBase):
    type: Literal["AlertRaised"] = "AlertRaised"
    payload: RaisedAlert


class AlertEscalated(EventBase):
    type: Literal["AlertEscalated"] = "AlertEscalated"
    payload: Escalation


class AlertAcknowledged(EventBase):
    type: Literal["AlertAcknowledged"] = "AlertAcknowledged"
    payload: Acknowledgement


class AlertResolved(EventBase):
    type: Literal["AlertResolved"] = "AlertResolved"
    payload: Resolution


class OpelReadingRecorded(EventBase):
    type: Literal["OpelReadingRecorded"] = "OpelReadingRecorded"
    payload: OpelReading


class OpelAssessed(EventBase):
    type: Literal["OpelAssessed"] = "OpelAssessed"
    payload: OpelChange


RegistryEvent = (
    OrganisationRegistered | SiteRegistered | WardRegistered | BedRegistered | BedDecommissioned
)
SpellEvent = (
    PatientAdmitted
    | PatientTransferred
    | PatientDischarged
    | AdmissionCancelled
    | TransferCancelled
    | DischargeCancelled
    | SpellUpdated
    | BedsSwapped
    | PatientWentOnLeave
    | PatientReturnedFromLeave
    | CriteriaToResideReviewed
    | RedGreenDayMarked
    | PatientReferred
    | ReferralCancelled
    | PatientTriaged
    | DischargeTaskUpdated
    | CapacityReserved
    | ReservationReleased
    | AdmissionRequested
    | AdmissionRequestCancelled
)
RuleEvent = AlertRuleSaved | AlertRuleDeleted
AlertEvent = AlertRaised | AlertEscalated | AlertAcknowledged | AlertResolved
OpelEvent = OpelReadingRecorded | OpelAssessed
Event = Annotated[
    RegistryEvent
    | SpellEvent
    | BedStatusChanged
    | CapacityDeclared
    | ClockTicked
    | RuleEvent
    | AlertEvent
    | OpelEvent,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[EventBase], ...] = (
    OrganisationRegistered,
    SiteRegistered,
    WardRegistered,
    BedRegistered,
    BedDecommissioned,
    PatientAdmitted,
    PatientTransferred,
    PatientDischarged,
    AdmissionCancelled,
    TransferCancelled,
    DischargeCancelled,
    SpellUpdated,
    BedsSwapped,
    PatientWentOnLeave,
    PatientReturnedFromLeave,
    AdmissionRequested,
    AdmissionRequestCancelled,
    BedStatusChanged,
    CriteriaToResideReviewed,
    RedGreenDayMarked,
    PatientReferred,
    ReferralCancelled,
    PatientTriaged,
    DischargeTaskUpdated,
    CapacityReserved,
    ReservationReleased,
    CapacityDeclared,
    ClockTicked,
    AlertRuleSaved,
    AlertRuleDeleted,
    AlertRaised,
    AlertEscalated,
    AlertAcknowledged,
    AlertResolved,
    OpelReadingRecorded,
    OpelAssessed,
)

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)
SPELL_EVENT: TypeAdapter[SpellEvent] = TypeAdapter(
    Annotated[SpellEvent, Field(discriminator="type")]
)


class EventRejected(ValueError):
    """The bytes are not a valid version-1 event; ``reason`` names the problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_event(raw: bytes) -> Event:
    """Parse one event from the wire, or raise EventRejected saying which field is wrong."""
    return decode_with(_EVENT, raw)


def decode_with(adapter: TypeAdapter[Parsed], raw: bytes) -> Parsed:
    """Parse one event of a contract (``adapter``) from the wire, or raise EventRejected."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise EventRejected(f"not JSON: {error}") from None
    return validate_document(adapter, document)


def event_from_document(document: Any) -> Event:
    """Validate an already-parsed JSON document as an event."""
    return validate_document(_EVENT, document)


def validate_document(adapter: TypeAdapter[Parsed], document: Any) -> Parsed:
    """Validate a parsed JSON document as one of a contract's event types."""
    if not isinstance(document, dict):
        raise EventRejected("event: expected a JSON object")
    version: object = document.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise EventRejected(f"schema_version: {version!r} is not supported (expected 1)")
    try:
        return adapter.validate_python(document)
    except ValidationError as error:
        raise EventRejected(describe(error, 5)) from None


def encode_event(event: EventBase) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


def message_key(event: EventBase) -> bytes:
    """The Kafka key: events that must stay in order share it, and so a partition.

    A spell's events share the spell id; a bed's status and registry share the bed id;
    other registry entries use their own id; a pool of capacity its pool's key; an
    alert's its id, a rule's its id, a clock's ticks the clock's name.
    """
    if isinstance(event, CapacityDeclared):
        return event.payload.capacity.key.encode()
    if isinstance(event, AlertRuleSaved):
        return event.payload.id.encode()
    if isinstance(event, OpelAssessed):
        return f"opel:{event.payload.scope.id or 'system'}".encode()
    payload = getattr(event, "payload", None)
    for field in (
        "spell_id",
        "bed_id",
        "ward_id",
        "site_id",
        "organisation_id",
        "alert_id",
        "rule_id",
        "clock",
        "parameter",
    ):
        value = getattr(payload, field, None)
        if isinstance(value, str):
            return value.encode()
    raise EventRejected(f"{type(event).__name__}: payload has no identifier to key by")


def event_schema() -> dict[str, Any]:
    """The JSON Schema of one event (any type), as published in the schemas folder."""
    schema = _EVENT.json_schema(mode="validation")
    schema["title"] = "Flow Centre event, version 1"
    return schema

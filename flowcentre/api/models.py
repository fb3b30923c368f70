"""Response and request bodies of the API, typed so the OpenAPI document describes them.

The read models mirror ``flowcentre.domain.board``: the least data each view needs, so a
board or a client of the API sees initials and never a patient's name or NHS number.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flowcentre.domain import board
from flowcentre.domain.access import AccessPolicy, Permission, Principal, Role
from flowcentre.domain.audit import PatientDetailsRead
from flowcentre.domain.beds import BedState, BedStatus
from flowcentre.domain.board import BoardScope
from flowcentre.domain.events import ActorKind, SiteRegistered, WardRegistered
from flowcentre.domain.model import Bed
from flowcentre.domain.places import SiteKind, WardSex


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ActorView(View):
    kind: ActorKind
    id: str
    name: str | None = None


class StampView(View):
    at: datetime
    by: ActorView | None = Field(
        default=None, description="Who or what did it; not shown on a wall display's view."
    )


class OccupantView(View):
    """The least a board needs of the patient in a bed: no name, number or spell id.

    A wall display's view carries the initials alone; the other fields are then null."""

    initials: str | None = Field(
        description="Null when withheld: the patient objects to sharing, and the ward is run "
        "by another organisation than the reader's."
    )
    sharing_objection: bool | None = None
    sex: str | None = None
    arrived_at: datetime | None = None
    admitted_at: datetime | None = None
    expected_discharge_date: date | None = None
    on_leave: bool | None = None


class BedView(View):
    bed_id: str
    ward_id: str
    label: str
    room: str | None = Field(description="Bay or room name.")
    side_room: bool
    escalation: bool = Field(description="Opened only under pressure, not a usual bed.")
    registered: bool
    state: BedState = Field(description="What a board shows for the bed.")
    hl7_status: str = Field(description="HL7 v2 table 0116 code of the state.")
    status: BedStatus | None = Field(description="The housekeeping status last set.")
    status_reason: str | None
    since: StampView | None = Field(description="When the bed entered its state, and who did it.")
    conflict: bool = Field(description="More than one patient placed in the bed by the feeds.")
    occupants: list[OccupantView]


class PatientDetails(View):
    """A patient in a bed, identified: for staff caring for them or arranging their care.

    When the patient objects to sharing and the reader works for another organisation than
    the one running the ward, the identifying fields are null and ``withheld`` is true."""

    bed_id: str
    spell_id: str
    withheld: bool
    sharing_objection: bool
    patient_id: str | None
    nhs_number: str | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    sex: str
    specialty: str | None
    admitted_at: datetime | None
    expected_discharge_date: date | None
    on_leave: bool


class PatientShownView(View):
    patient_id: str = Field(
        description='"withheld" when the reader was not shown the patient, and the '
        "administrator asking is of another organisation than the one caring for them."
    )
    nhs_number: str | None
    spell_id: str
    withheld: bool
    held_by: str | None = Field(description="The organisation caring for the patient.")


class AuditReadView(View):
    """One read of patients' details: who, when, where, and which patients."""

    read_id: str
    read_at: datetime
    reader: ActorView
    reader_organisation: str
    view: str
    subject: str
    patients: list[PatientShownView]

    @classmethod
    def of(cls, read: PatientDetailsRead) -> AuditReadView:
        return cls(
            read_id=read.event_id,
            read_at=read.occurred_at,
            reader=ActorView(**read.caused_by.model_dump()),
            reader_organisation=read.source.organisation,
            view=read.payload.view,
            subject=read.payload.subject,
            patients=[PatientShownView(**shown.model_dump()) for shown in read.payload.patients],
        )


class BedCounts(View):
    total: int = Field(description="Registered beds.")
    occupied: int
    available: int
    closed: int = Field(description="Closed or blocked beds.")
    open: int = Field(description="Beds that are not closed or blocked.")
    occupancy_pct: float | None = Field(description="Occupied as a share of open beds.")
    by_state: dict[BedState, int]


class SiteView(View):
    site_id: str
    organisation_id: str
    name: str
    kind: SiteKind


class WardView(View):
    ward_id: str
    site_id: str
    name: str
    specialty: str
    sex: WardSex


class WardSummary(WardView):
    counts: BedCounts


class SiteSummary(SiteView):
    counts: BedCounts
    wards: list[WardSummary]


class SystemView(View):
    """Every site and ward of the county with its bed counts."""

    counts: BedCounts
    sites: list[SiteSummary]


class WardDetail(WardView):
    site: SiteView | None = Field(description="The ward's site, when it is registered.")
    counts: BedCounts
    beds: list[BedView]


class BedStatusRequest(BaseModel):
    """A housekeeping status set by ward staff: it is published, and reaches the view later.

    The event is attributed to the signed-in account, never to a name the request gives."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "cleaning", "reason": None}]},
    )

    status: BedStatus
    reason: str | None = Field(default=None, max_length=200)


class EventAccepted(View):
    """The event was written to the log; the view and the boards follow within moments."""

    status: Literal["accepted"] = "accepted"
    event_id: str


class EventsAccepted(View):
    """The events were written to the log, in the order sent."""

    status: Literal["accepted"] = "accepted"
    event_ids: list[str]


class SingleSignOnView(View):
    name: str
    """How the sign-in page names the provider."""


class Check(View):
    ok: bool
    detail: str | None = None


class Health(View):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Check]


def counts_of(beds: Iterable[Bed]) -> BedCounts:
    return BedCounts.model_validate(board.bed_counts(beds))


def ward_summary(ward: WardRegistered, beds: Iterable[Bed]) -> WardSummary:
    return WardSummary(**board.ward_view(ward), counts=counts_of(beds))


def site_summary(
    site: SiteRegistered, wards: Iterable[WardRegistered], beds_by_ward: dict[str, list[Bed]]
) -> SiteSummary:
    """A site with its wards; ``beds_by_ward`` must hold the beds of every ward given."""
    own = [ward for ward in wards if ward.payload.site_id == site.payload.site_id]
    return SiteSummary(
        **board.site_view(site),
        counts=counts_of(bed for ward in own for bed in beds_by_ward[ward.payload.ward_id]),
        wards=[ward_summary(ward, beds_by_ward[ward.payload.ward_id]) for ward in own],
    )


def by_ward(beds: Iterable[Bed], wards: Iterable[WardRegistered]) -> dict[str, list[Bed]]:
    grouped: dict[str, list[Bed]] = {ward.payload.ward_id: [] for ward in wards}
    for bed in beds:
        grouped.setdefault(bed.ward_id, []).append(bed)
    return grouped


class GrantView(View):
    role: Role
    wards: list[str] | None = Field(description="The wards covered; null for the whole system.")
    permissions: list[Permission]


class SessionView(View):
    """Who is signed in and what each of their roles allows, for a page to shape itself by."""

    account_id: str
    name: str | None
    kind: ActorKind
    organisation_id: str
    grants: list[GrantView]

    @classmethod
    def of(cls, principal: Principal, policy: AccessPolicy) -> SessionView:
        return cls(
            account_id=principal.actor.id,
            name=principal.actor.name,
            kind=principal.actor.kind,
            organisation_id=principal.organisation_id,
            grants=[
                GrantView(
                    role=held.role,
                    wards=sorted(held.wards) if held.wards is not None else None,
                    permissions=sorted(policy.roles[held.role].permissions),
                )
                for held in principal.grants
            ],
        )


def beds_seen(beds: Iterable[Bed], scope: BoardScope) -> list[BedView]:
    """The beds as the scope may see them, leaving out any it may not."""
    return [
        BedView.model_validate(shown)
        for bed in beds
        if (shown := scope.bed(board.bed_view(bed))) is not None
    ]

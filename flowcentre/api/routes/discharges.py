"""Discharge planning: readiness, referral and triage, tasks and reservations of community
capacity, for one patient's spell; the ward's discharge list and the flow centre's queue.

Every change publishes one event, attributed to the signed-in account, and nothing else:
the worker folds it into the spell, and the lists and boards follow. Lists show a patient
by initials, bed and spell id; each read of them is recorded on the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from flowcentre.api.audited import SOURCE_SYSTEM, Shown, record_read, shown_to
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, WriterDep, require
from flowcentre.api.deps import AuditDep, Planning, PlanningDep, PolicyDep, PublisherDep, ReadsDep
from flowcentre.api.models import EventAccepted
from flowcentre.domain import clocks, discharge_lists
from flowcentre.domain.access import AccessPolicy, Permission, Principal
from flowcentre.domain.contract import Identifier
from flowcentre.domain.discharge import triage
from flowcentre.domain.events import (
    CapacityRef,
    CapacityReserved,
    CriteriaToResideReviewed,
    DischargeTaskUpdated,
    EventBase,
    PatientReferred,
    PatientTriaged,
    Referral,
    ReferralCancellation,
    ReferralCancelled,
    Reservation,
    ReservationRelease,
    ReservationReleased,
    ResideReview,
    Source,
    SpellUpdate,
    SpellUpdated,
    TaskUpdate,
)
from flowcentre.domain.model import Spell
from flowcentre.domain.triage import OverrideRefused, Pathway, TaskKind, TaskStatus, TriageAnswers
from flowcentre.publisher import EventPublisher
from flowcentre.store.reads import LiveReads

router = APIRouter(prefix="/api/v1/discharges", tags=["discharges"], responses=ACCESS_RESPONSES)

JSON = dict[str, Any]
SpellId = Annotated[str, Path(examples=["RWP:V1001"])]
CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No patient of that spell is in hospital."},
    409: {"description": "The change does not fit the spell as it is now."},
    422: {"description": "The body is not valid; the message names the field."},
    503: {"description": "The event log did not take the event; nothing changed."},
}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadinessChange(Body):
    """Only the fields sent change; null clears one."""

    expected_discharge_date: date | None = None
    clinical_criteria: str | None = Field(default=None, max_length=500)


class ResideReviewRequest(Body):
    meets_criteria: bool
    delay_reason: Identifier | None = None
    note: str | None = Field(default=None, max_length=500)


class ReferralRequest(Body):
    note: str | None = Field(default=None, max_length=500)


class Reason(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class TriageRequest(Body):
    answers: TriageAnswers
    pathway: Pathway | None = Field(
        default=None, description="Another pathway than the one proposed; say why."
    )
    override_reason: str | None = Field(default=None, max_length=500)


class TaskRequest(Body):
    status: TaskStatus
    due_at: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=500)


class ReservationRequest(Body):
    capacity: CapacityRef
    expires_at: AwareDatetime | None = Field(
        default=None, description="Unless sent, the reservation holds for the configured hours."
    )


class Accepted(EventAccepted):
    """Accepted, with the id of what it created, for the next step to name."""

    id: str


async def _patient_in_hospital(
    spell_id: str, reads: LiveReads, principal: Principal, policy: AccessPolicy
) -> Spell:
    spell = await reads.spell(spell_id)
    location = spell.location if spell else None
    if spell is None or location is None or not spell.in_hospital:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"spell {spell_id!r}: not in hospital")
    require(principal, policy, Permission.PLAN_DISCHARGE, location.ward_id)
    return spell


async def _planned(
    spell_id: SpellId, reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep
) -> Spell:
    return await _patient_in_hospital(spell_id, reads, principal, policy)


PlannedDep = Annotated[Spell, Depends(_planned)]


@dataclass(frozen=True, slots=True)
class _PlanChange:
    """One change to a patient's plan by the signed-in account: the spell as it stands,
    and the event that records the change."""

    spell: Spell
    principal: Principal
    publisher: EventPublisher
    organisation: str

    async def publish(self, kind: Callable[..., EventBase], payload: Any) -> EventAccepted:
        now = datetime.now(UTC)
        latest = self.spell.events[-1].occurred_at if self.spell.events else now
        # Staff act on the spell as they saw it, so the change comes after what they saw
        # even when the feed's clock runs ahead of this server's.
        event = kind(
            event_id=str(uuid.uuid4()),
            occurred_at=max(now, latest + timedelta(milliseconds=1)),
            recorded_at=now,
            source=Source(system=SOURCE_SYSTEM, organisation=self.organisation),
            caused_by=self.principal.actor,
            payload=payload,
        )
        await self.publisher.publish_async([event])
        return EventAccepted(event_id=event.event_id)


async def _plan_change(
    spell_id: SpellId,
    reads: ReadsDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
) -> _PlanChange:
    spell = await _patient_in_hospital(spell_id, reads, principal, policy)
    ward_id = spell.location.ward_id if spell.location else ""
    organisation = await reads.ward_organisation(ward_id) or "unknown"
    return _PlanChange(spell, principal, publisher, organisation)


ChangeDep = Annotated[_PlanChange, Depends(_plan_change)]


def _conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, message)


def _open_referral(spell: Spell, referral_id: str) -> None:
    referral = spell.referral
    if referral is None or referral.referral_id != referral_id or not referral.open:
        raise _conflict(f"referral {referral_id!r} is not the spell's open referral")


def _shown_item(item: JSON, shown: Shown) -> JSON:
    return {**item, "initials": None} if shown.withheld else item


async def _listed(
    spells: list[Spell], principal: Principal, reads: LiveReads, planning: Planning
) -> tuple[list[JSON], list[Shown]]:
    now = datetime.now(UTC)
    today = now.astimezone(planning.zone).date()
    items, shown = [], []
    for spell in spells:
        location = spell.location
        held_by = await reads.ward_organisation(location.ward_id) if location else None
        one = shown_to(principal, spell, held_by)
        shown.append(one)
        items.append(_shown_item(discharge_lists.discharge_summary(spell, now, today), one))
    return items, shown


@router.get("/delay-reasons", summary="The codes a criteria-to-reside review may give")
async def delay_reasons(principal: PrincipalDep, planning: PlanningDep) -> dict[str, str]:
    return dict(planning.delay_reasons.reasons)


@router.post("/triage-proposal", summary="The pathway the rule set proposes for these answers")
async def propose(answers: TriageAnswers, principal: PrincipalDep, planning: PlanningDep) -> JSON:
    proposal = planning.rules.propose(answers)
    return {
        "pathway": proposal.pathway.value,
        "rule": proposal.rule,
        "reason": proposal.reason,
        "version": proposal.version,
        "tasks": [task.value for task in planning.rules.tasks[proposal.pathway]],
    }


@router.get("/queue", summary="The flow centre's queue: by pathway, oldest referral first")
async def queue(
    reads: ReadsDep,
    audit: AuditDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    planning: PlanningDep,
    pathway: Annotated[Pathway | None, Query(description="Only this pathway's queue.")] = None,
) -> list[JSON]:
    require(principal, policy, Permission.PLAN_DISCHARGE)
    referred = [
        spell
        for spell in await reads.referred_spells()
        if spell.location is not None
        and principal.may(policy, Permission.PLAN_DISCHARGE, spell.location.ward_id)
        and (pathway is None or (spell.referral and spell.referral.pathway is pathway))
    ]
    referred.sort(key=discharge_lists.queue_order)
    items, shown = await _listed(referred, principal, reads, planning)
    await record_read(audit, principal, "GET /api/v1/discharges/queue", "queue", shown)
    return items


@router.get(
    "/wards/{ward_id}",
    summary="A ward's discharge list: its patients, expected to leave soonest first",
)
async def ward_list(
    ward_id: str,
    reads: ReadsDep,
    audit: AuditDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    planning: PlanningDep,
) -> list[JSON]:
    require(principal, policy, Permission.PLAN_DISCHARGE, ward_id)
    spells = [spell for spell in await reads.ward_spells(ward_id) if spell.in_hospital]
    spells.sort(key=lambda s: (s.expected_discharge_date or date.max, s.spell_id))
    items, shown = await _listed(spells, principal, reads, planning)
    view = "GET /api/v1/discharges/wards/{ward_id}"
    await record_read(audit, principal, view, f"ward {ward_id}", shown)
    return items


@router.get("/daily", summary="Discharges per day by pathway and destination, and before midday")
async def daily(
    reads: ReadsDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    planning: PlanningDep,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> list[JSON]:
    require(principal, policy, Permission.READ_CAPACITY)
    now = datetime.now(UTC)
    local_start = datetime.combine(
        now.astimezone(planning.zone).date() - timedelta(days=days - 1),
        datetime.min.time(),
        planning.zone,
    )
    spells = await reads.discharged_between(local_start, now)
    return [
        {
            "day": day.day.isoformat(),
            "total": day.total,
            "by_pathway": day.by_pathway,
            "by_destination": day.by_destination,
            "before_midday": day.before_midday,
            "before_midday_share": day.before_midday_share,
        }
        for day in clocks.discharges_per_day(spells, planning.zone)
    ]


@router.get("/{spell_id}", summary="One patient's discharge plan, with its clocks")
async def read_plan(
    spell: PlannedDep,
    reads: ReadsDep,
    audit: AuditDep,
    principal: PrincipalDep,
    planning: PlanningDep,
) -> JSON:
    items, shown = await _listed([spell], principal, reads, planning)
    view = "GET /api/v1/discharges/{spell_id}"
    await record_read(audit, principal, view, spell.spell_id, shown)
    return items[0]


@router.patch(
    "/{spell_id}/readiness",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Set the expected discharge date or the clinical criteria for discharge",
)
async def change_readiness(change: ReadinessChange, plan: ChangeDep) -> EventAccepted:
    sent = change.model_dump(exclude_unset=True)
    if not sent:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "send a field to change")
    return await plan.publish(SpellUpdated, SpellUpdate(spell_id=plan.spell.spell_id, **sent))


@router.post(
    "/{spell_id}/reside-reviews",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Record today's review of the criteria to reside",
)
async def review_criteria(
    review: ResideReviewRequest, plan: ChangeDep, planning: PlanningDep
) -> EventAccepted:
    if (
        review.delay_reason is not None
        and review.delay_reason not in planning.delay_reasons.reasons
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"delay_reason: {review.delay_reason!r} is not a configured delay reason"
            f" (GET /api/v1/discharges/delay-reasons lists them)",
        )
    try:
        payload = ResideReview(spell_id=plan.spell.spell_id, **review.model_dump())
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return await plan.publish(CriteriaToResideReviewed, payload)


@router.post(
    "/{spell_id}/referrals",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Refer the patient to the flow centre",
)
async def refer(referral: ReferralRequest, plan: ChangeDep) -> Accepted:
    if (open_referral := plan.spell.referral) is not None and open_referral.open:
        raise _conflict(f"the patient is already referred ({open_referral.referral_id})")
    referral_id = str(uuid.uuid4())
    payload = Referral(spell_id=plan.spell.spell_id, referral_id=referral_id, note=referral.note)
    accepted = await plan.publish(PatientReferred, payload)
    return Accepted(event_id=accepted.event_id, id=referral_id)


@router.post(
    "/{spell_id}/referrals/{referral_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Cancel the referral, saying why",
)
async def cancel_referral(referral_id: str, body: Reason, plan: ChangeDep) -> EventAccepted:
    _open_referral(plan.spell, referral_id)
    payload = ReferralCancellation(
        spell_id=plan.spell.spell_id, referral_id=referral_id, reason=body.reason
    )
    return await plan.publish(ReferralCancelled, payload)


@router.post(
    "/{spell_id}/referrals/{referral_id}/triage",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Record triage and allocate the pathway (the proposal's, or another with a reason)",
)
async def record_triage(
    referral_id: str, body: TriageRequest, plan: ChangeDep, planning: PlanningDep
) -> EventAccepted:
    _open_referral(plan.spell, referral_id)
    try:
        payload = triage(
            planning.rules,
            plan.spell.spell_id,
            referral_id,
            body.answers,
            body.pathway,
            body.override_reason,
        )
    except OverrideRefused as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"override_reason: {error}"
        ) from None
    return await plan.publish(PatientTriaged, payload)


@router.put(
    "/{spell_id}/tasks/{task}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Update a discharge task: started, done, not needed, and when it is for",
)
async def update_task(task: TaskKind, body: TaskRequest, plan: ChangeDep) -> EventAccepted:
    payload = TaskUpdate(spell_id=plan.spell.spell_id, task=task, **body.model_dump())
    return await plan.publish(DischargeTaskUpdated, payload)


@router.post(
    "/{spell_id}/reservations",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Reserve a slot or bed of community capacity for the patient",
)
async def reserve(
    body: ReservationRequest, plan: ChangeDep, reads: ReadsDep, planning: PlanningDep
) -> Accepted:
    now = datetime.now(UTC)
    pool = await reads.capacity_pool(body.capacity.key)
    if pool is None or pool.declared is None:
        raise _conflict(f"capacity {body.capacity.key}: its provider has declared none")
    if pool.free_at(now) <= 0:
        raise _conflict(f"capacity {body.capacity.key}: nothing left to reserve")
    expires_at = body.expires_at or now + planning.hold
    if expires_at <= now:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "expires_at: must be in the future"
        )
    reservation_id = str(uuid.uuid4())
    payload = Reservation(
        spell_id=plan.spell.spell_id,
        reservation_id=reservation_id,
        capacity=body.capacity,
        expires_at=expires_at,
    )
    accepted = await plan.publish(CapacityReserved, payload)
    return Accepted(event_id=accepted.event_id, id=reservation_id)


@router.post(
    "/{spell_id}/reservations/{reservation_id}/release",
    status_code=status.HTTP_202_ACCEPTED,
    responses=CHANGE_RESPONSES,
    summary="Release a reservation, saying why",
)
async def release(reservation_id: str, body: Reason, plan: ChangeDep) -> EventAccepted:
    held = [r for r in plan.spell.reservations if r.reservation_id == reservation_id]
    if not held or held[0].released is not None or held[0].used is not None:
        raise _conflict(f"reservation {reservation_id!r} is not held for the patient")
    payload = ReservationRelease(
        spell_id=plan.spell.spell_id, reservation_id=reservation_id, reason=body.reason
    )
    return await plan.publish(ReservationReleased, payload)

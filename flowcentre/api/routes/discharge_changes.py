"""Discharge planning, changed: readiness, criteria-to-reside reviews, red and green days,
referral and triage, tasks and reservations of community capacity, for one patient's spell.

Every change publishes one event, attributed to the signed-in account, and nothing else:
the worker folds it into the spell, and the lists and boards follow.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from flowcentre.api.audited import SOURCE_SYSTEM
from flowcentre.api.auth import ACCESS_RESPONSES, WriterDep
from flowcentre.api.deps import LogNowDep, PlanningDep, PolicyDep, PublisherDep, ReadsDep
from flowcentre.api.models import EventAccepted
from flowcentre.api.routes.discharge_reads import NOT_PLANNED, PREFIX, SpellId, planned_spell
from flowcentre.domain.access import Principal
from flowcentre.domain.contract import Identifier
from flowcentre.domain.discharge import (
    DayMarkInvalid,
    ReservationConflict,
    ReservationInvalid,
    day_mark,
    reservation_expiry,
    triage,
)
from flowcentre.domain.events import (
    CapacityRef,
    CapacityReserved,
    CriteriaToResideReviewed,
    DischargeTaskUpdated,
    EventBase,
    PatientReferred,
    PatientTriaged,
    RedGreenDayMarked,
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

CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ACCESS_RESPONSES,
    **NOT_PLANNED,
    409: {"description": "The change does not fit the spell as it is now."},
    422: {"description": "The body is not valid; the message names the field."},
    503: {"description": "The event log did not take the event; nothing changed."},
}
router = APIRouter(prefix=PREFIX, tags=["discharges"], responses=CHANGE_RESPONSES)


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


class DayMarkRequest(Body):
    green: bool = Field(
        description="True: the day moved the patient towards discharge. False: a red day."
    )
    reason: str | None = Field(
        default=None, max_length=200, description="Why the day was red; only for a red day."
    )


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
    capacity: CapacityRef = Field(
        description="A pool of today or later, of a service of the patient's pathway."
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="In the future, and not after the pool's day ends. Unless sent, the"
        " reservation holds for the configured hours, or until the pool's day ends if sooner.",
    )


class Accepted(EventAccepted):
    """Accepted, with the id of what it created, for the next step to name."""

    id: str


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
    spell = await planned_spell(spell_id, reads, principal, policy)
    ward_id = spell.location.ward_id if spell.location else ""
    organisation = await reads.ward_organisation(ward_id) or "unknown"
    return _PlanChange(spell, principal, publisher, organisation)


ChangeDep = Annotated[_PlanChange, Depends(_plan_change)]


def _conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, message)


def _invalid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def _open_referral(spell: Spell, referral_id: str) -> None:
    referral = spell.referral
    if referral is None or referral.referral_id != referral_id or not referral.open:
        raise _conflict(f"referral {referral_id!r} is not the spell's open referral")


@router.patch(
    "/{spell_id}/readiness",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Set the expected discharge date or the clinical criteria for discharge",
)
async def change_readiness(change: ReadinessChange, plan: ChangeDep) -> EventAccepted:
    sent = change.model_dump(exclude_unset=True)
    if not sent:
        raise _invalid("send a field to change")
    return await plan.publish(SpellUpdated, SpellUpdate(spell_id=plan.spell.spell_id, **sent))


@router.post(
    "/{spell_id}/reside-reviews",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Record today's review of the criteria to reside",
)
async def review_criteria(
    review: ResideReviewRequest, plan: ChangeDep, planning: PlanningDep
) -> EventAccepted:
    if (
        review.delay_reason is not None
        and review.delay_reason not in planning.delay_reasons.reasons
    ):
        raise _invalid(
            f"delay_reason: {review.delay_reason!r} is not a configured delay reason"
            f" (GET /api/v1/discharges/delay-reasons lists them)"
        )
    try:
        payload = ResideReview(spell_id=plan.spell.spell_id, **review.model_dump())
    except ValueError as error:
        raise _invalid(str(error)) from None
    return await plan.publish(CriteriaToResideReviewed, payload)


@router.put(
    "/{spell_id}/days/{day}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Mark a day of the stay red or green (SAFER); marking a day again corrects it",
)
async def mark_day(
    day: date, body: DayMarkRequest, plan: ChangeDep, planning: PlanningDep, now: LogNowDep
) -> EventAccepted:
    reason = body.reason.strip() if body.reason is not None else None
    try:
        payload = day_mark(plan.spell, day, body.green, reason or None, now, planning.zone)
    except DayMarkInvalid as error:
        raise _invalid(str(error)) from None
    return await plan.publish(RedGreenDayMarked, payload)


@router.post(
    "/{spell_id}/referrals",
    status_code=status.HTTP_202_ACCEPTED,
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
        raise _invalid(f"override_reason: {error}") from None
    return await plan.publish(PatientTriaged, payload)


@router.put(
    "/{spell_id}/tasks/{task}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Update a discharge task: started, done, not needed, and when it is for",
)
async def update_task(task: TaskKind, body: TaskRequest, plan: ChangeDep) -> EventAccepted:
    payload = TaskUpdate(spell_id=plan.spell.spell_id, task=task, **body.model_dump())
    return await plan.publish(DischargeTaskUpdated, payload)


@router.post(
    "/{spell_id}/reservations",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Reserve a slot or bed of community capacity for the patient",
)
async def reserve(
    body: ReservationRequest, plan: ChangeDep, reads: ReadsDep, planning: PlanningDep
) -> Accepted:
    try:
        expires_at = reservation_expiry(
            plan.spell,
            await reads.capacity_pool(body.capacity.key),
            body.capacity,
            body.expires_at,
            now=datetime.now(UTC),
            zone=planning.zone,
            hold=planning.hold,
        )
    except ReservationInvalid as error:
        raise _invalid(str(error)) from None
    except ReservationConflict as error:
        raise _conflict(str(error)) from None
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

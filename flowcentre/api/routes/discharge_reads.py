"""Discharge planning, read: the flow centre's queue, a ward's discharge list, discharges
per day, the delay reasons and triage proposals, and one patient's plan.

Lists show a patient by initials, bed and spell id; each read of them is recorded on the
audit trail. A patient on a ward the account does not plan is answered as absent, so a
refusal never tells whether they are in hospital.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from flowcentre.api.audited import Shown, record_read, shown_to
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import AuditDep, Planning, PlanningDep, PolicyDep, ReadsDep
from flowcentre.domain import clocks, discharge_lists
from flowcentre.domain.access import AccessPolicy, Permission, Principal
from flowcentre.domain.model import Spell
from flowcentre.domain.triage import Pathway, TriageAnswers
from flowcentre.store.reads import LiveReads

PREFIX = "/api/v1/discharges"
router = APIRouter(prefix=PREFIX, tags=["discharges"], responses=ACCESS_RESPONSES)

JSON = dict[str, Any]
SpellId = Annotated[str, Path(examples=["RWP:V1001"])]
NOT_PLANNED: dict[int | str, dict[str, Any]] = {
    404: {"description": "No patient of that spell is in hospital on a ward the account plans."}
}


async def planned_spell(
    spell_id: str, reads: LiveReads, principal: Principal, policy: AccessPolicy
) -> Spell:
    """The spell of a patient in hospital on a ward the account plans; 403 without
    ``discharge.plan`` over any ward, 404 otherwise."""
    require(principal, policy, Permission.PLAN_DISCHARGE)
    spell = await reads.spell(spell_id)
    location = spell.location if spell else None
    # One answer for a spell on a ward out of reach and for none at all: a different one
    # would tell the caller that the patient is in hospital.
    if (
        spell is None
        or location is None
        or not spell.in_hospital
        or not principal.may(policy, Permission.PLAN_DISCHARGE, location.ward_id)
    ):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"spell {spell_id!r}: no patient of it is in hospital on a ward you plan",
        )
    return spell


async def _planned(
    spell_id: SpellId, reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep
) -> Spell:
    return await planned_spell(spell_id, reads, principal, policy)


PlannedDep = Annotated[Spell, Depends(_planned)]


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
    responses={404: {"description": "No ward of that id is registered."}},
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
    # Reach is checked on the id asked for, before the registry is read, so a ward out of
    # reach is refused alike whether it exists or not.
    require(principal, policy, Permission.PLAN_DISCHARGE, ward_id)
    if await reads.ward(ward_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"ward {ward_id!r} is not registered")
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
    first_day = now.astimezone(planning.zone).date() - timedelta(days=days - 1)
    spells = await reads.discharged_between(clocks.day_start(first_day, planning.zone), now)
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


@router.get(
    "/{spell_id}", responses=NOT_PLANNED, summary="One patient's discharge plan, with its clocks"
)
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

"""Alert rules, owned by managers: the active set, each rule's versions, and saving or
deleting one. Every change is an event attributed to the manager; each save is a new
version, and disabling is a save with ``enabled`` false."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, WriterDep, require
from flowcentre.api.deps import AlertConfigurationDep, PolicyDep, PublisherDep, ReadsDep
from flowcentre.api.models import EventAccepted
from flowcentre.api.routes.alerts import publish_as
from flowcentre.domain.access import Permission
from flowcentre.domain.alert_history import RuleRecord
from flowcentre.domain.alert_rules import AlertRule, RuleRefused
from flowcentre.domain.alert_views import rule_history, rule_view
from flowcentre.domain.events import AlertRuleDeleted, AlertRuleSaved, RuleRef

router = APIRouter(prefix="/api/v1/alert-rules", tags=["alerts"], responses=ACCESS_RESPONSES)

JSON = dict[str, Any]
RuleId = Annotated[str, Path(examples=["acute-occupancy-high"])]
CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No rule has that id (or it was deleted)."},
    422: {"description": "The rule is not valid; the message names the field."},
    503: {"description": "The event log did not take the event; nothing changed."},
}


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


@router.get("", summary="The rules in force and disabled, each at its latest version")
async def list_rules(reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep) -> list[JSON]:
    require(principal, policy, Permission.READ_ALERTS)
    rules = [one for one in await reads.rules() if one.current is not None]
    return [rule_view(one) for one in sorted(rules, key=lambda one: one.rule_id)]


@router.get("/{rule_id}", summary="A rule and every version of it", responses=CHANGE_RESPONSES)
async def read_rule(
    rule_id: RuleId, reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep
) -> JSON:
    require(principal, policy, Permission.READ_ALERTS)
    record = await _rule(reads, rule_id, current=False)
    return {**rule_view(record), "versions": rule_history(record)}


@router.put(
    "/{rule_id}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Create or change a rule: a new version",
    responses=CHANGE_RESPONSES,
)
async def save_rule(
    rule_id: RuleId,
    rule: AlertRule,
    configuration: AlertConfigurationDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
) -> EventAccepted:
    require(principal, policy, Permission.MANAGE_ALERTS)
    if rule.id != rule_id:
        raise _invalid(f"id: the body names rule {rule.id!r}, the path {rule_id!r}")
    try:
        configuration.check(rule)
    except RuleRefused as refused:
        raise _invalid(str(refused)) from None
    return await publish_as(publisher, principal, AlertRuleSaved, rule)


@router.delete(
    "/{rule_id}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Delete a rule: its open alerts resolve",
    responses=CHANGE_RESPONSES,
)
async def delete_rule(
    rule_id: RuleId,
    reads: ReadsDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
    body: Reason | None = None,
) -> EventAccepted:
    require(principal, policy, Permission.MANAGE_ALERTS)
    await _rule(reads, rule_id, current=True)
    payload = RuleRef(rule_id=rule_id, reason=body.reason if body else None)
    return await publish_as(publisher, principal, AlertRuleDeleted, payload)


async def _rule(reads: ReadsDep, rule_id: str, *, current: bool) -> RuleRecord:
    record = await reads.rule(rule_id)
    if record is None or (current and record.current is None):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"rule {rule_id!r}: no such rule")
    return record


def _invalid(message: str) -> HTTPException:
    """A refusal whose message starts with the field at fault."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)

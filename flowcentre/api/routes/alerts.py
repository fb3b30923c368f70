"""Capacity alerts: the open ones, the history, and a manager's acknowledgement or
resolution. Raising, escalating and clearing are the alert watch's; every change here
publishes one event attributed to the signed-in manager."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from flowcentre.api.audited import SOURCE_SYSTEM
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, WriterDep, require
from flowcentre.api.deps import PolicyDep, PublisherDep, ReadsDep, SettingsDep, WebhookOutboxDep
from flowcentre.api.models import EventAccepted
from flowcentre.domain.access import Permission, Principal
from flowcentre.domain.alert_history import AlertRecord, AlertStatus
from flowcentre.domain.alert_views import alert_view
from flowcentre.domain.events import (
    Acknowledgement,
    AlertAcknowledged,
    AlertResolved,
    EventBase,
    Resolution,
    Source,
)
from flowcentre.publisher import EventPublisher

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=ACCESS_RESPONSES)

JSON = dict[str, Any]
AlertId = Annotated[str, Path(examples=["acute-occupancy-high@site:WRH@20261102T081600Z"])]
CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No alert has that id."},
    409: {"description": "The alert is already resolved (or acknowledged)."},
    422: {"description": "The body is not valid; the message names the field."},
    503: {"description": "The event log did not take the event; nothing changed."},
}
HISTORY_LIMIT = timedelta(days=31)


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.get("", summary="Alerts: those open now, or those raised in a time range")
async def list_alerts(
    reads: ReadsDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    status_: Annotated[Literal["open", "all"], Query(alias="status")] = "open",
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> list[JSON]:
    """Open alerts, most severe and oldest first; with ``status=all``, every alert raised
    from ``since`` (default: a day before ``until``) to ``until`` (default: now, or the
    clock on the log when it runs ahead, as the simulator's does), at most 31 days."""
    require(principal, policy, Permission.READ_ALERTS)
    if status_ == "open":
        found = await reads.open_alerts()
        return [alert_view(one) for one in sorted(found, key=_most_pressing)]
    clock = await reads.clock(settings.clock)
    end = until or max(datetime.now(UTC), clock.at if clock else datetime.now(UTC))
    start = since or end - timedelta(days=1)
    if start > end or end - start > HISTORY_LIMIT:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "since: must be before until, and at most 31 days before it",
        )
    return [alert_view(one) for one in await reads.alerts_between(start, end)]


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _most_pressing(alert: AlertRecord) -> tuple[int, datetime]:
    details, raised = alert.details, alert.raised
    severity = _SEVERITY_ORDER[details.rule.severity.value] if details else 3
    return severity, raised.at if raised else datetime.max.replace(tzinfo=UTC)


@router.get("/webhook-failures", summary="Webhook notices that failed for good, newest first")
async def webhook_failures(
    webhooks: WebhookOutboxDep, principal: PrincipalDep, policy: PolicyDep
) -> list[JSON]:
    """Each after every retry failed: the endpoint, the notice, the alert and the last
    reason (``answered 503``, a connection error...)."""
    require(principal, policy, Permission.MANAGE_ALERTS)
    return await webhooks.failures()


@router.get("/{alert_id}", summary="One alert and its history", responses=CHANGE_RESPONSES)
async def read_alert(
    alert_id: AlertId, reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep
) -> JSON:
    require(principal, policy, Permission.READ_ALERTS)
    return alert_view(await _alert(reads, alert_id))


@router.post(
    "/{alert_id}/acknowledge",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Acknowledge an alert: it climbs its ladder no further",
    responses=CHANGE_RESPONSES,
)
async def acknowledge(
    alert_id: AlertId,
    reads: ReadsDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
    body: Note | None = None,
) -> EventAccepted:
    require(principal, policy, Permission.MANAGE_ALERTS)
    alert = await _alert(reads, alert_id)
    if alert.status is not AlertStatus.OPEN:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the alert is already {alert.status}")
    payload = Acknowledgement(alert_id=alert_id, note=body.note if body else None)
    return await publish_as(publisher, principal, AlertAcknowledged, payload, after=_latest(alert))


@router.post(
    "/{alert_id}/resolve",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Resolve an alert by hand, saying why",
    responses=CHANGE_RESPONSES,
)
async def resolve(
    alert_id: AlertId,
    body: Reason,
    reads: ReadsDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
) -> EventAccepted:
    """The alert closes; its rule raises no new one for the same place until the measure
    has cleared, so resolving by hand is not undone at the next reading."""
    require(principal, policy, Permission.MANAGE_ALERTS)
    alert = await _alert(reads, alert_id)
    if alert.status is AlertStatus.RESOLVED:
        raise HTTPException(status.HTTP_409_CONFLICT, "the alert is already resolved")
    payload = Resolution(alert_id=alert_id, reason=body.reason)
    return await publish_as(publisher, principal, AlertResolved, payload, after=_latest(alert))


async def _alert(reads: ReadsDep, alert_id: str) -> AlertRecord:
    alert = await reads.alert(alert_id)
    if alert is None or alert.details is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id!r}: no such alert")
    return alert


def _latest(alert: AlertRecord) -> datetime | None:
    stamps = [alert.raised, alert.acknowledged, *(one.stamp for one in alert.escalations)]
    return max((stamp.at for stamp in stamps if stamp is not None), default=None)


async def publish_as(
    publisher: EventPublisher,
    principal: Principal,
    kind: type[EventBase],
    payload: object,
    *,
    after: datetime | None = None,
    at: datetime | None = None,
) -> EventAccepted:
    """One event of ``kind``, attributed to the signed-in account, that happened ``at``
    (default: now), or just after ``after``: a manager acts on the alert as they saw it,
    even when the log's clock runs ahead of this server's (as the simulator's does)."""
    now = datetime.now(UTC)
    occurred = at or now
    if after is not None:
        occurred = max(occurred, after + timedelta(milliseconds=1))
    event = kind.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "occurred_at": occurred,
            "recorded_at": now,
            "source": Source(system=SOURCE_SYSTEM, organisation=principal.organisation_id),
            "caused_by": principal.actor,
            "payload": payload,
        }
    )
    await publisher.publish_async([event])
    return EventAccepted(event_id=event.event_id)

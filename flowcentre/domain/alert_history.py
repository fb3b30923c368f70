"""The history of alert rules, alerts and clocks, folded from their events in any order.

A rule's versions are its saves in event-time order, so a save that arrives late takes
its place in the history instead of overriding a newer one. An alert gathers its raising,
the ladder steps it climbed, its acknowledgement and its resolution, whichever arrives
first; the earliest acknowledgement and resolution stand.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flowcentre.domain.alert_rules import AlertRule
from flowcentre.domain.contract import Contract
from flowcentre.domain.events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertEvent,
    AlertRaised,
    AlertResolved,
    AlertRuleDeleted,
    AlertRuleSaved,
    ClockTicked,
    RaisedAlert,
    RuleEvent,
)
from flowcentre.domain.model import Stamp


class RuleVersion(Contract):
    rule: AlertRule
    saved: Stamp


class RuleRecord(Contract):
    rule_id: str
    versions: tuple[RuleVersion, ...] = ()
    deleted: Stamp | None = None
    delete_reason: str | None = None

    @property
    def current(self) -> RuleVersion | None:
        """The latest version, unless the rule was deleted after it."""
        if not self.versions:
            return None
        latest = self.versions[-1]
        if self.deleted is not None and self.deleted.order() > latest.saved.order():
            return None
        return latest

    @property
    def version(self) -> int:
        return len(self.versions)


def _rule_saved(record: RuleRecord | None, event: AlertRuleSaved) -> RuleRecord:
    record = record or RuleRecord(rule_id=event.payload.id)
    if any(one.saved.event_id == event.event_id for one in record.versions):
        return record
    versions = sorted(
        (*record.versions, RuleVersion(rule=event.payload, saved=Stamp.of(event))),
        key=lambda one: one.saved.order(),
    )
    return record.model_copy(update={"versions": tuple(versions)})


def _rule_deleted(record: RuleRecord | None, event: AlertRuleDeleted) -> RuleRecord:
    record = record or RuleRecord(rule_id=event.payload.rule_id)
    stamp = Stamp.of(event)
    if record.deleted is not None and record.deleted.order() >= stamp.order():
        return record
    return record.model_copy(update={"deleted": stamp, "delete_reason": event.payload.reason})


def fold_rule(record: RuleRecord | None, event: RuleEvent) -> RuleRecord:
    if isinstance(event, AlertRuleSaved):
        return _rule_saved(record, event)
    return _rule_deleted(record, event)


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Climbed(Contract):
    step: int
    notify: tuple[str, ...]
    stamp: Stamp


class AlertRecord(Contract):
    alert_id: str
    raised: Stamp | None = None
    details: RaisedAlert | None = None
    escalations: tuple[Climbed, ...] = ()
    acknowledged: Stamp | None = None
    note: str | None = None
    resolved: Stamp | None = None
    reason: str | None = None
    """Why a manager resolved it; None when its condition cleared."""
    cleared_at_value: float | None = None

    @property
    def status(self) -> AlertStatus:
        if self.resolved is not None:
            return AlertStatus.RESOLVED
        return AlertStatus.ACKNOWLEDGED if self.acknowledged else AlertStatus.OPEN

    @property
    def climbed(self) -> int:
        """How many of its ladder's steps it has reached."""
        return max((one.step + 1 for one in self.escalations), default=0)


def _earlier(current: Stamp | None, stamp: Stamp) -> bool:
    return current is None or stamp.order() < current.order()


def _alert_raised(record: AlertRecord | None, event: AlertRaised) -> AlertRecord:
    record = record or AlertRecord(alert_id=event.payload.alert_id)
    stamp = Stamp.of(event)
    if not _earlier(record.raised, stamp):
        return record
    return record.model_copy(update={"raised": stamp, "details": event.payload})


def _alert_escalated(record: AlertRecord | None, event: AlertEscalated) -> AlertRecord:
    payload = event.payload
    record = record or AlertRecord(alert_id=payload.alert_id)
    if any(one.step == payload.step for one in record.escalations):
        return record
    climbed = Climbed(step=payload.step, notify=payload.notify, stamp=Stamp.of(event))
    steps = sorted((*record.escalations, climbed), key=lambda one: one.step)
    return record.model_copy(update={"escalations": tuple(steps)})


def _alert_acknowledged(record: AlertRecord | None, event: AlertAcknowledged) -> AlertRecord:
    record = record or AlertRecord(alert_id=event.payload.alert_id)
    stamp = Stamp.of(event)
    if not _earlier(record.acknowledged, stamp):
        return record
    return record.model_copy(update={"acknowledged": stamp, "note": event.payload.note})


def _alert_resolved(record: AlertRecord | None, event: AlertResolved) -> AlertRecord:
    payload = event.payload
    record = record or AlertRecord(alert_id=payload.alert_id)
    stamp = Stamp.of(event)
    if not _earlier(record.resolved, stamp):
        return record
    return record.model_copy(
        update={"resolved": stamp, "reason": payload.reason, "cleared_at_value": payload.value}
    )


def fold_alert(record: AlertRecord | None, event: AlertEvent) -> AlertRecord:
    if isinstance(event, AlertRaised):
        return _alert_raised(record, event)
    if isinstance(event, AlertEscalated):
        return _alert_escalated(record, event)
    if isinstance(event, AlertAcknowledged):
        return _alert_acknowledged(record, event)
    return _alert_resolved(record, event)


class ClockRecord(Contract):
    clock: str
    at: datetime
    event_id: str


def clock_ticked(record: ClockRecord | None, event: ClockTicked) -> ClockRecord:
    """The latest tick stands: a clock never runs back."""
    if record is not None and (record.at, record.event_id) >= (event.occurred_at, event.event_id):
        return record
    return ClockRecord(clock=event.payload.clock, at=event.occurred_at, event_id=event.event_id)

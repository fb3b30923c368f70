"""Alerts, rules and the clock as the API and the managers' boards show them.

Who did something is shown by kind and id, as on the bed boards; the record keeps the
name for the audit of it.
"""

from __future__ import annotations

from typing import Any

from flowcentre.domain.alert_history import AlertRecord, ClockRecord, RuleRecord
from flowcentre.domain.model import Stamp
from flowcentre.domain.opel_history import OpelRecord, ReadingRecord

JSON = dict[str, Any]


def _stamp(stamp: Stamp | None) -> JSON | None:
    if stamp is None:
        return None
    return {"at": stamp.at.isoformat(), "by": {"kind": stamp.by.kind.value, "id": stamp.by.id}}


def alert_view(record: AlertRecord) -> JSON:
    details = record.details
    return {
        "alert_id": record.alert_id,
        "status": record.status.value,
        "rule": details.rule.model_dump(mode="json") if details else None,
        "rule_version": details.rule_version if details else None,
        "scope": details.scope.model_dump(mode="json") if details else None,
        "severity": details.rule.severity.value if details else None,
        "value": details.value if details else None,
        "wards": details.wards if details else None,
        "patients": details.patients if details else None,
        "raised": _stamp(record.raised),
        "escalations": [
            {"step": one.step, "notify": list(one.notify), **(_stamp(one.stamp) or {})}
            for one in record.escalations
        ],
        "acknowledged": _stamp(record.acknowledged),
        "note": record.note,
        "resolved": _stamp(record.resolved),
        "reason": record.reason,
        "cleared_at_value": record.cleared_at_value,
    }


def rule_view(record: RuleRecord) -> JSON:
    current = record.current
    return {
        "rule_id": record.rule_id,
        "version": record.version,
        "active": current is not None and current.rule.enabled,
        "rule": current.rule.model_dump(mode="json") if current else None,
        "saved": _stamp(current.saved) if current else None,
        "deleted": _stamp(record.deleted) if current is None else None,
    }


def rule_history(record: RuleRecord) -> list[JSON]:
    """Every version of the rule, oldest first."""
    return [
        {"version": number, "rule": one.rule.model_dump(mode="json"), "saved": _stamp(one.saved)}
        for number, one in enumerate(record.versions, start=1)
    ]


def reading_view(record: ReadingRecord) -> JSON:
    return {
        "key": record.key,
        "site_id": record.site_id,
        "parameter": record.parameter,
        "value": record.value,
        "measured": _stamp(record.measured),
    }


def opel_view(record: OpelRecord) -> JSON:
    """A place's level now, with the parameters behind it, and its levels of the week."""
    current = record.current
    return {
        "place": record.place,
        "level": current.change.level if current else None,
        "share": current.change.share if current else None,
        "version": current.change.version if current else None,
        "since": _stamp(current.stamp) if current else None,
        "drivers": list(current.change.drivers) if current else [],
        "parameters": [one.model_dump(mode="json") for one in current.change.parameters]
        if current
        else [],
        "history": [
            {"at": one.stamp.at.isoformat(), "level": one.change.level} for one in record.levels
        ],
    }


def clock_view(record: ClockRecord) -> JSON:
    return {"clock": record.clock, "at": record.at.isoformat(), "event_id": record.event_id}


Told = tuple[str, int]
"""What outside systems were last told of an alert: its status and the steps climbed."""


def told(record: AlertRecord) -> Told:
    return record.status.value, record.climbed


def notices(before: Told | None, after: AlertRecord) -> list[JSON]:
    """What to tell outside systems of an alert last told as ``before`` (None: never) and
    now ``after``: a notice a change, each named by the alert and the change, so that a
    receiver can drop a repeat."""
    status, climbed = before or ("", 0)
    changes: list[tuple[str, JSON]] = []
    if before is None and after.details is not None:
        changes.append(("raised", {}))
    changes += [
        (f"escalated-{one.step}", {"step": one.step, "notify": list(one.notify)})
        for one in after.escalations
        if one.step >= climbed
    ]
    if after.acknowledged is not None and status in ("", "open"):
        changes.append(("acknowledged", {}))
    if after.resolved is not None and status != "resolved":
        changes.append(("resolved", {}))
    view = alert_view(after)
    return [
        {
            "delivery_id": f"{after.alert_id}/{change}",
            "type": f"alert.{change.split('-')[0]}",
            **extra,
            "alert": view,
        }
        for change, extra in changes
    ]

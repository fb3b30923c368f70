"""Alerts: when a rule's condition has held long enough to raise one, when it has cleared
long enough to resolve it, and who is told while nobody acknowledges it.

Time is the clock on the log, never the machine's: the same log gives the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flowcentre.domain.alert_rules import AlertRule, Ladder
from flowcentre.domain.contract import Contract
from flowcentre.domain.measures import Reading


class Watch(Contract):
    """A rule's watch over one scope instance: since when its condition has held, and
    the alert it raised while that alert is open."""

    breached_since: datetime | None = None
    clearing_since: datetime | None = None
    alert_id: str | None = None
    waits_for_clear: bool = False
    """A manager resolved the alert while the condition held: no new alert until the
    condition has cleared, so resolving by hand is not undone at the next reading."""
    cleared_at: datetime | None = None
    """When its last alert cleared: no new one at that same instant, which would be
    named as the one that cleared."""


@dataclass(frozen=True, slots=True)
class Raise:
    alert_id: str
    reading: Reading


@dataclass(frozen=True, slots=True)
class Clear:
    alert_id: str
    reading: Reading
    why: str | None = None
    """Why it cleared when not by the measure crossing back: the rule is off, out of its
    hours, or has nothing to measure."""


def judged(rule: AlertRule, now: datetime, zone: ZoneInfo) -> bool:
    """Whether the rule judges its measure at ``now``: always, or from its time of day."""
    return rule.by is None or now.astimezone(zone).time() >= rule.by


def alert_id(rule: AlertRule, scope_key: str, now: datetime) -> str:
    """Named by what raised it and when, so a replay of the same log names it alike."""
    return f"{rule.id}@{scope_key}@{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def observe(
    rule: AlertRule,
    scope_key: str,
    reading: Reading,
    watch: Watch,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[Watch, Raise | Clear | None]:
    """The watch after a reading at ``now``, and the alert it raises or clears.

    An alert is raised once the condition has held for ``hold_minutes``; it clears once
    the measure has been back across ``clear`` for ``clear_minutes``. A disabled rule, or
    one outside its time of day, holds no condition, so its open alert clears.
    """
    value = reading.value
    live = rule.enabled and value is not None and judged(rule, now, zone)
    breached = live and value is not None and rule.comparison.holds(value, rule.threshold)
    still = live and value is not None and rule.comparison.holds(value, rule.clear_at)
    if watch.alert_id is not None:
        if still:
            return watch.model_copy(update={"clearing_since": None}), None
        why = _why_not_judged(rule, reading, now, zone)
        since = watch.clearing_since or now
        # Only a measure crossing back waits: a rule switched off or out of its hours
        # holds no condition to wait on.
        if why is None and now - since < timedelta(minutes=rule.clear_minutes):
            return watch.model_copy(update={"clearing_since": since}), None
        return Watch(cleared_at=now), Clear(watch.alert_id, reading, why)
    if watch.waits_for_clear:
        return (watch, None) if still else (Watch(), None)
    if not breached or watch.cleared_at == now:
        return Watch(cleared_at=watch.cleared_at), None
    since = watch.breached_since or now
    if now - since < timedelta(minutes=rule.hold_minutes):
        return Watch(breached_since=since, cleared_at=watch.cleared_at), None
    raised = alert_id(rule, scope_key, now)
    return Watch(breached_since=since, alert_id=raised), Raise(raised, reading)


def _why_not_judged(rule: AlertRule, reading: Reading, now: datetime, zone: ZoneInfo) -> str | None:
    if not rule.enabled:
        return "the rule was disabled"
    if not judged(rule, now, zone):
        return "the rule's hours ended"
    if reading.value is None:
        return "nothing is left to measure"
    return None


def resolved_by_hand(watch: Watch) -> Watch:
    """The watch once a manager has resolved its open alert."""
    return Watch(waits_for_clear=True)


def due_steps(ladder: Ladder, raised_at: datetime, climbed: int, now: datetime) -> list[int]:
    """The ladder's steps (by index) an unacknowledged alert raised at ``raised_at``
    reaches by ``now``, beyond the ``climbed`` it has reached already."""
    return [
        index
        for index, step in enumerate(ladder.steps)
        if index >= climbed and now - raised_at >= timedelta(minutes=step.after_minutes)
    ]

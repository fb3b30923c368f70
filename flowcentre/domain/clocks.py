"""The flow centre's clocks, defined once: referral to discharge, time in each pathway's
queue, long stays, discharges per day, and where a local day begins and ends. Each is a
pure function of spells and the moment asked about, so a board, the API and the tests read
the same definition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flowcentre.domain.model import ReferralRecord, Spell, TaskRecord
from flowcentre.domain.triage import Pathway, TaskStatus

REFERRAL_TARGET = timedelta(hours=24)
STRANDED = timedelta(days=7)
SUPER_STRANDED = timedelta(days=21)
MIDDAY = time(12)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant the local day begins: its midnight in ``zone``."""
    return datetime.combine(day, time(), zone)


def day_end(day: date, zone: ZoneInfo) -> datetime:
    """The instant the local day ends: the next day's midnight, so a day of a clock change
    is 23 or 25 hours long."""
    return day_start(day + timedelta(days=1), zone)


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime | None
    """None while it runs."""

    def length_at(self, now: datetime) -> timedelta:
        return (self.end or now) - self.start


@dataclass(frozen=True, slots=True)
class ReferralClock:
    interval: Interval
    within_target: bool
    """Under 24 hours: completed within it, or still running and not yet past it."""


def referral_to_discharge(referral: ReferralRecord, now: datetime) -> ReferralClock | None:
    """From the referral to the discharge it led to; none for a cancelled referral."""
    if referral.cancelled is not None:
        return None
    end = referral.discharged.at if referral.discharged else None
    interval = Interval(referral.referred.at, end)
    return ReferralClock(interval, interval.length_at(now) < REFERRAL_TARGET)


@dataclass(frozen=True, slots=True)
class QueueWait:
    pathway: Pathway
    interval: Interval


def queue_waits(referral: ReferralRecord) -> list[QueueWait]:
    """Each stretch the patient waited in a pathway's queue: from the triage that allocated
    it until a triage allocated another, the discharge, or the referral's cancelling."""
    closed = referral.discharged or referral.cancelled
    waits: list[QueueWait] = []
    for allocation in referral.allocations:
        pathway, at = allocation.triage.pathway, allocation.stamp.at
        if waits and waits[-1].pathway is pathway:
            continue
        if waits:
            waits[-1] = QueueWait(waits[-1].pathway, Interval(waits[-1].interval.start, at))
        waits.append(QueueWait(pathway, Interval(at, None)))
    if waits and closed is not None:
        last = waits[-1]
        waits[-1] = QueueWait(last.pathway, Interval(last.interval.start, closed.at))
    return waits


def length_of_stay(spell: Spell, now: datetime) -> timedelta | None:
    if spell.admitted is None:
        return None
    return (spell.discharged.at if spell.discharged else now) - spell.admitted.at


def long_stay(spell: Spell, now: datetime) -> str | None:
    """``super_stranded`` at 21 days or more, ``stranded`` at 7 or more."""
    stay = length_of_stay(spell, now)
    if stay is None or stay < STRANDED:
        return None
    return "super_stranded" if stay >= SUPER_STRANDED else "stranded"


def outstanding(spell: Spell) -> list[TaskRecord]:
    return [task for task in spell.tasks if task.status in (TaskStatus.PENDING, TaskStatus.STARTED)]


def flagged_tasks(spell: Spell, today: date) -> list[TaskRecord]:
    """Tasks still outstanding on the day the patient is expected to leave, or after it."""
    expected = spell.expected_discharge_date
    if not spell.in_hospital or expected is None or expected > today:
        return []
    return outstanding(spell)


@dataclass(frozen=True, slots=True)
class DischargeDay:
    day: date
    total: int
    by_pathway: dict[str, int]
    """By the pathway allocated when the patient left; ``none`` if never triaged."""
    by_destination: dict[str, int]
    before_midday: int

    @property
    def before_midday_share(self) -> float | None:
        return self.before_midday / self.total if self.total else None


def discharges_per_day(spells: Iterable[Spell], zone: ZoneInfo) -> list[DischargeDay]:
    """Discharges by local day, pathway and destination, and how many left before midday."""
    days: dict[date, list[Spell]] = {}
    for spell in spells:
        if spell.discharged is not None:
            days.setdefault(spell.discharged.at.astimezone(zone).date(), []).append(spell)
    summary = []
    for day in sorted(days):
        left = days[day]
        pathways = Counter(_pathway_left_on(spell) for spell in left)
        destinations = Counter(
            spell.destination.value if spell.destination else "unknown" for spell in left
        )
        early = sum(
            1
            for spell in left
            if spell.discharged is not None and spell.discharged.at.astimezone(zone).time() < MIDDAY
        )
        summary.append(DischargeDay(day, len(left), dict(pathways), dict(destinations), early))
    return summary


def _pathway_left_on(spell: Spell) -> str:
    completed = [r for r in spell.referrals if r.discharged == spell.discharged]
    pathway = completed[-1].pathway if completed else None
    return pathway.value if pathway is not None else "none"

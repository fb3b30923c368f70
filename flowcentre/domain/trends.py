"""Trends: the measures a manager watches over a day and a week, sampled for each acute
site and for the whole system once every quarter hour of the log's clock, and kept for
eight days.

A sample is taken at the first tick of the clock within its quarter hour and dated by
that quarter hour's start. A series keeps the first sample of each quarter hour, so
sampling a quarter hour again (the watch restarted, or read the same ticks once more)
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowcentre.domain.alert_rules import Level, Measure, Scope
from flowcentre.domain.contract import Contract
from flowcentre.domain.measures import SYSTEM, Picture, read
from flowcentre.domain.places import SiteKind

EVERY = timedelta(minutes=15)
KEPT = timedelta(days=8)
"""Enough for a week of samples on the managers' charts, whatever the hour."""

SAMPLED: tuple[Measure, ...] = (
    Measure.OCCUPANCY_PCT,
    Measure.AVAILABLE_BEDS,
    Measure.NO_CRITERIA_TO_RESIDE,
    Measure.STRANDED,
    Measure.PENDING_ADMISSIONS,
)
"""Each read over general and acute beds: the wards of acute sites, as OPEL reads them."""


class Reference(Contract):
    """A value a chart of the measure marks, with what it means."""

    value: float
    meaning: str


REFERENCES: dict[Measure, tuple[Reference, ...]] = {
    Measure.OCCUPANCY_PCT: (
        Reference(value=85, meaning="problems grow quickly above it"),
        Reference(value=92, meaning="the usual NHS ceiling for general and acute beds"),
    ),
}

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def quarter_hour(moment: datetime) -> datetime:
    """The start of the quarter hour ``moment`` falls in."""
    return moment - (moment - _EPOCH) % EVERY


class Sample(Contract):
    at: datetime
    """The start of the quarter hour of the log's clock it was taken in."""
    values: dict[Measure, float | None]
    """None where there was nothing to measure (an occupancy of no open beds)."""


class TrendRecord(Contract):
    place: str
    """An acute site's id, or ``system``."""
    samples: tuple[Sample, ...] = ()
    """In time order, of the eight days up to the latest."""

    def between(self, start: datetime, end: datetime) -> list[Sample]:
        return [one for one in self.samples if start <= one.at <= end]


def sampled(record: TrendRecord, sample: Sample) -> TrendRecord:
    """The series with ``sample``, unless it has one of that quarter hour already; a
    sample older than eight days before the latest is let go."""
    if any(one.at == sample.at for one in record.samples):
        return record
    samples = sorted((*record.samples, sample), key=lambda one: one.at)
    latest = samples[-1].at
    kept = tuple(one for one in samples if latest - one.at <= KEPT)
    return record.model_copy(update={"samples": kept})


def places(picture: Picture) -> list[str]:
    """Where trends are sampled: each acute site, then the whole system."""
    acute = (
        site_id for site_id, site in picture.sites.items() if site.kind is SiteKind.ACUTE_HOSPITAL
    )
    return [*sorted(acute), SYSTEM]


def scope_of(place: str) -> Scope:
    return Scope(level=Level.SYSTEM) if place == SYSTEM else Scope(level=Level.SITE, id=place)


@dataclass
class TrendSampler:
    """Samples every place at the first tick of each quarter hour it is given."""

    taken: datetime | None = None
    """The quarter hour last sampled."""

    def take(self, picture: Picture, now: datetime | None) -> dict[str, Sample]:
        """Each place's sample, by place, when ``now`` (the clock's latest tick) is in a
        quarter hour after the last one sampled; nothing otherwise."""
        if now is None:
            return {}
        at = quarter_hour(now)
        if self.taken is not None and at <= self.taken:
            return {}
        self.taken = at
        return {
            place: Sample(
                at=at,
                values={
                    measure: read(
                        picture, measure, scope_of(place), now, site_kind=SiteKind.ACUTE_HOSPITAL
                    ).value
                    for measure in SAMPLED
                },
            )
            for place in places(picture)
        }

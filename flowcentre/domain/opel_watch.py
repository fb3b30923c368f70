"""OPEL assessed at each tick of the clock, for each acute site and for the system: the
derived parameters read from the live picture, the reported ones from their latest
readings, and an assessment published when the level, or the parameters it lacks,
changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flowcentre.domain.alert_rules import PATHWAY_MEASURES, Level, Scope
from flowcentre.domain.apply import State
from flowcentre.domain.events import OpelAssessed, OpelChange
from flowcentre.domain.measures import Picture, read
from flowcentre.domain.opel import (
    OpelConfiguration,
    OpelLevel,
    ParameterSource,
    ReportedReading,
    level,
)
from flowcentre.domain.opel_history import ReadingRecord, reading_key
from flowcentre.domain.places import SiteKind
from flowcentre.domain.watched import watched

SYSTEM = Scope(level=Level.SYSTEM)


@dataclass
class OpelWatch:
    configuration: OpelConfiguration
    readings: dict[str, ReadingRecord] = field(default_factory=dict)
    assessed: dict[str, tuple[int | None, tuple[str, ...]]] = field(default_factory=dict)
    """Each place's last level and the parameters it lacked."""

    def absorb(self, change: State) -> None:
        self.readings.update(change.readings)
        for place, record in change.opel.items():
            if (current := record.current) is not None:
                lacked = tuple(
                    one.parameter for one in current.change.parameters if one.score is None
                )
                self.assessed[place] = (current.change.level, lacked)

    def assess(self, picture: Picture, now: datetime, organisation: str) -> list[OpelAssessed]:
        published: list[OpelAssessed] = []
        acute = sorted(
            site_id
            for site_id, site in picture.sites.items()
            if site.kind is SiteKind.ACUTE_HOSPITAL
        )
        for site_id in [*acute, None]:
            place = site_id or "system"
            found = self.level_of(picture, site_id, now)
            before = self.assessed.get(place)
            if before == (found.level, found.missing):
                continue
            change = OpelChange(
                scope=Scope(level=Level.SITE, id=site_id) if site_id else SYSTEM,
                level=found.level,
                previous=before[0] if before else None,
                share=found.share,
                version=self.configuration.version,
                parameters=found.parameters,
                drivers=found.drivers,
            )
            event_id = f"opel@{place}@{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            assessment = watched(OpelAssessed, event_id, now, organisation, change)
            assert isinstance(assessment, OpelAssessed)
            published.append(assessment)
            self.assessed[place] = (found.level, found.missing)
        return published

    def level_of(self, picture: Picture, site_id: str | None, now: datetime) -> OpelLevel:
        """A site's level, or the system's (``site_id`` None) over every acute site."""
        scope = Scope(level=Level.SITE, id=site_id) if site_id else SYSTEM
        derived = {}
        reported = {}
        for parameter in self.configuration.parameters:
            if parameter.source is ParameterSource.DERIVED:
                assert parameter.measure is not None
                # The flow centre's queues are the whole system's, whichever site asks.
                where = SYSTEM if parameter.measure in PATHWAY_MEASURES else scope
                reading = read(
                    picture, parameter.measure, where, now, site_kind=SiteKind.ACUTE_HOSPITAL
                )
                derived[parameter.id] = reading.value
            elif (record := self.readings.get(reading_key(site_id, parameter.id))) is not None:
                reported[parameter.id] = ReportedReading(record.value, record.measured.at)
        return level(self.configuration, derived, reported, now)

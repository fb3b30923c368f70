"""Alert rules as data: the live measure a manager asks to be told about, where, past
which threshold and for how long, and who hears. A rule that could not work is refused
with the field in error named.

A rule watches one scope instance at a time: a rule for ``site`` with no id watches
every site, each on its own, and raises an alert per site in trouble.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.places import SiteKind, WardSex
from flowcentre.domain.triage import Pathway

DEFAULT_ALERTS = Path(__file__).with_name("alerts.toml")


class Measure(StrEnum):
    """The live measures a rule may watch; ``docs/alerts.md`` defines each exactly."""

    OCCUPANCY_PCT = "occupancy_pct"
    AVAILABLE_BEDS = "available_beds"
    CLOSED_BEDS = "closed_beds"
    NO_CRITERIA_TO_RESIDE = "no_criteria_to_reside"
    NO_CRITERIA_TO_RESIDE_PCT = "no_criteria_to_reside_pct"
    STRANDED = "stranded"
    SUPER_STRANDED = "super_stranded"
    SUPER_STRANDED_PCT = "super_stranded_pct"
    QUEUE_LENGTH = "queue_length"
    OLDEST_WAIT_HOURS = "oldest_wait_hours"
    DEMAND_OVER_CAPACITY = "demand_over_capacity"
    TASKS_OUTSTANDING = "tasks_outstanding"
    DISCHARGES_TODAY = "discharges_today"
    DISCHARGES_AGAINST_ADMISSIONS_PCT = "discharges_against_admissions_pct"
    ESCALATION_BEDS_PCT = "escalation_beds_pct"
    OPEL_LEVEL = "opel_level"
    PENDING_ADMISSIONS = "pending_admissions"
    LONGEST_PENDING_HOURS = "longest_pending_hours"


class Level(StrEnum):
    """Where a rule looks."""

    SYSTEM = "system"
    ORGANISATION = "organisation"
    SITE = "site"
    WARD = "ward"
    SPECIALTY = "specialty"
    PATHWAY = "pathway"


#: Measures of beds, which a bed filter narrows.
BED_MEASURES = frozenset(
    {
        Measure.OCCUPANCY_PCT,
        Measure.AVAILABLE_BEDS,
        Measure.CLOSED_BEDS,
        Measure.ESCALATION_BEDS_PCT,
    }
)
#: Measures of the flow centre's queues, which are the whole system's, by pathway.
PATHWAY_MEASURES = frozenset(
    {Measure.QUEUE_LENGTH, Measure.OLDEST_WAIT_HOURS, Measure.DEMAND_OVER_CAPACITY}
)
#: Measures of the patients waiting for a bed, which count where their requests name.
PENDING_MEASURES = frozenset({Measure.PENDING_ADMISSIONS, Measure.LONGEST_PENDING_HOURS})
PLACE_LEVELS = frozenset(Level) - {Level.PATHWAY}
PATHWAY_LEVELS = frozenset({Level.SYSTEM, Level.PATHWAY})


#: OPEL is assessed for each acute site and for the system.
OPEL_LEVELS = frozenset({Level.SYSTEM, Level.SITE})


def levels_of(measure: Measure) -> frozenset[Level]:
    if measure is Measure.OPEL_LEVEL:
        return OPEL_LEVELS
    return PATHWAY_LEVELS if measure in PATHWAY_MEASURES else PLACE_LEVELS


class Comparison(StrEnum):
    ABOVE = ">"
    AT_LEAST = ">="
    BELOW = "<"
    AT_MOST = "<="

    @property
    def holds(self) -> Callable[[float, float], bool]:
        return _OPERATORS[self]

    @property
    def upward(self) -> bool:
        """Whether it fires as the measure rises."""
        return self in (Comparison.ABOVE, Comparison.AT_LEAST)


_OPERATORS: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.ABOVE: operator.gt,
    Comparison.AT_LEAST: operator.ge,
    Comparison.BELOW: operator.lt,
    Comparison.AT_MOST: operator.le,
}


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Scope(Contract):
    level: Level
    id: Identifier | None = None
    """One site, ward, organisation, specialty or pathway; none for each of them."""

    @field_validator("id")
    @classmethod
    def _fits_level(cls, value: str | None, info: ValidationInfo) -> str | None:
        level = info.data.get("level")
        if level is Level.SYSTEM and value is not None:
            raise ValueError("the system scope takes no id")
        if level is Level.PATHWAY and value is not None and value not in set(Pathway):
            raise ValueError(f"a pathway is one of {', '.join(Pathway)}")
        return value


class BedFilter(Contract):
    """Which beds a bed measure counts: all of them unless narrowed."""

    side_room: bool | None = None
    sex: WardSex | None = Field(default=None, description="The ward's designation.")


Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]


RuleId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
"""Short enough for the ids of its alerts (rule, scope and time) to fit an identifier,
and without ``/`` or ``@``, which those ids use."""
Number = Annotated[float, Field(allow_inf_nan=False)]


class AlertRule(Contract):
    id: RuleId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    measure: Measure
    scope: Scope
    site_kind: SiteKind | None = None
    """Only sites of this kind (general and acute occupancy: acute hospitals)."""
    beds: BedFilter = BedFilter()
    comparison: Comparison
    threshold: Number
    clear: Number | None = None
    """Where an open alert clears, on the safe side of the threshold; the threshold
    itself when not given. The gap keeps a measure hovering at the threshold from
    raising and clearing an alert over and over."""
    hold_minutes: Minutes = 0
    """How long the condition must hold before the alert is raised."""
    clear_minutes: Minutes = 0
    """How long the clear condition must hold before the alert resolves itself."""
    by: time | None = None
    """Judged only from this local time of day until midnight (discharges by noon)."""
    severity: Severity = Severity.WARNING
    ladder: Identifier | None = None
    """The escalation ladder of the configuration it climbs while unacknowledged."""
    webhooks: tuple[Identifier, ...] = ()
    """Configured endpoints told of each of its alerts' changes."""
    enabled: bool = True

    @field_validator("scope")
    @classmethod
    def _scope_fits_measure(cls, scope: Scope, info: ValidationInfo) -> Scope:
        measure = info.data.get("measure")
        if measure is not None and scope.level not in levels_of(measure):
            allowed = ", ".join(sorted(levels_of(measure)))
            raise ValueError(f"{measure} is measured at {allowed}, not {scope.level}")
        return scope

    @field_validator("site_kind")
    @classmethod
    def _sites_of_a_place_measure(
        cls, kind: SiteKind | None, info: ValidationInfo
    ) -> SiteKind | None:
        if kind is not None and info.data.get("measure") in PATHWAY_MEASURES:
            raise ValueError("the flow centre's queues belong to no site")
        return kind

    @field_validator("beds")
    @classmethod
    def _beds_of_a_bed_measure(cls, beds: BedFilter, info: ValidationInfo) -> BedFilter:
        measure = info.data.get("measure")
        if beds != BedFilter() and measure is not None and measure not in BED_MEASURES:
            raise ValueError(f"{measure} counts no beds: a bed filter does not apply")
        return beds

    @field_validator("by")
    @classmethod
    def _a_local_time(cls, by: time | None) -> time | None:
        if by is not None and by.tzinfo is not None:
            raise ValueError("a local time of day, without a zone (FLOWCENTRE_TIMEZONE is used)")
        return by

    @field_validator("clear")
    @classmethod
    def _clear_on_the_safe_side(cls, clear: float | None, info: ValidationInfo) -> float | None:
        comparison, threshold = info.data.get("comparison"), info.data.get("threshold")
        if clear is None or comparison is None or threshold is None:
            return clear
        if comparison.upward and clear > threshold:
            raise ValueError(f"an alert above {threshold} clears at or below it, not at {clear}")
        if not comparison.upward and clear < threshold:
            raise ValueError(f"an alert below {threshold} clears at or above it, not at {clear}")
        return clear

    @property
    def clear_at(self) -> float:
        return self.threshold if self.clear is None else self.clear


class LadderStep(Contract):
    after_minutes: Minutes
    """From the alert's raising, while nobody has acknowledged it."""
    notify: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(min_length=1)


class Ladder(Contract):
    steps: tuple[LadderStep, ...] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _climbing(cls, steps: tuple[LadderStep, ...]) -> tuple[LadderStep, ...]:
        times = [step.after_minutes for step in steps]
        if times != sorted(set(times)):
            raise ValueError("steps come in order of after_minutes, each later than the last")
        return steps


class Webhook(Contract):
    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]


class AlertConfiguration(Contract):
    """The alerts file: escalation ladders, webhook endpoints, and the default rules."""

    ladders: dict[Identifier, Ladder] = Field(default_factory=dict)
    webhooks: dict[Identifier, Webhook] = Field(default_factory=dict)
    rules: tuple[AlertRule, ...] = ()

    @model_validator(mode="after")
    def _rules_name_what_exists(self) -> Self:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules.{index}.id: rule {rule.id!r} is defined twice")
            seen.add(rule.id)
            try:
                self.check(rule)
            except RuleRefused as refused:
                raise ValueError(f"rules.{index}.{refused}") from None
        return self

    def check(self, rule: AlertRule) -> None:
        """Refuses a rule that names a ladder or a webhook this configuration lacks."""
        if rule.ladder is not None and rule.ladder not in self.ladders:
            raise RuleRefused("ladder", f"no escalation ladder is called {rule.ladder!r}")
        for name in rule.webhooks:
            if name not in self.webhooks:
                raise RuleRefused("webhooks", f"no webhook endpoint is called {name!r}")


class RuleRefused(ValueError):
    """A rule that names what the configuration does not have."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AlertConfigurationInvalid(ValueError):
    """The alerts file cannot be used; the message names the file and the problem."""


def load_alerts(path: Path = DEFAULT_ALERTS) -> AlertConfiguration:
    return load_toml(path, AlertConfiguration, AlertConfigurationInvalid)

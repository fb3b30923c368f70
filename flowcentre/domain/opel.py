"""OPEL, the NHS operational pressures escalation level (1 to 4), scored as configured:
each parameter's value falls in a band that scores 1 to 4, the scores are weighted and
summed, and the total, as a share of the most it could be, decides the level.

Parameters the flow centre derives itself are read from the live picture; the others
arrive as readings on the log, each with its time. A reading older than its parameter
allows is stale: it is shown as stale and left out of the score, never silently reused,
and the level says which parameters it lacked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from flowcentre.domain.alert_rules import Measure
from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract, Identifier

DEFAULT_OPEL = Path(__file__).with_name("opel.toml")
LEVELS = (1, 2, 3, 4)


class ParameterSource(StrEnum):
    DERIVED = "derived"
    """Read from the live picture by a measure."""
    REPORTED = "reported"
    """Sent by another system, or entered by a manager, as a reading on the log."""


class Parameter(Contract):
    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    source: ParameterSource
    measure: Measure | None = None
    """For a derived parameter: the measure read for the site (or the system)."""
    stale_after_minutes: Annotated[int, Field(gt=0, le=7 * 24 * 60)] = 240
    """For a reported parameter: how long a reading stands."""
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    bands: tuple[float, float, float]
    """The values from which the parameter scores 2, 3 and 4; below the first it scores
    1. With ``higher_is_worse`` false, the values at or below which it scores 2, 3 and 4."""
    higher_is_worse: bool = True

    @field_validator("bands")
    @classmethod
    def _bands_in_order(cls, bands: tuple[float, float, float]) -> tuple[float, float, float]:
        if not (bands[0] < bands[1] < bands[2]) and not (bands[0] > bands[1] > bands[2]):
            raise ValueError("the three bands go in order, each past the one before")
        return bands

    @model_validator(mode="after")
    def _derived_names_a_measure(self) -> Self:
        if self.source is ParameterSource.DERIVED and self.measure is None:
            raise ValueError("measure: a derived parameter names the measure it reads")
        if self.source is ParameterSource.REPORTED and self.measure is not None:
            raise ValueError("measure: a reported parameter is read from readings, not a measure")
        rising = self.bands[0] < self.bands[2]
        if rising != self.higher_is_worse:
            raise ValueError(
                "bands: rise for a parameter where higher is worse, fall where lower is"
            )
        return self

    def score(self, value: float) -> int:
        """1 to 4: how many of the bands the value has reached, plus one."""
        if self.higher_is_worse:
            return 1 + sum(1 for band in self.bands if value >= band)
        return 1 + sum(1 for band in self.bands if value <= band)


class OpelConfiguration(Contract):
    """The OPEL file: where the framework it follows comes from, its parameters, and the
    share of the most a total could score from which each level starts."""

    framework: Annotated[str, Field(min_length=1, max_length=500)]
    version: Identifier
    levels: dict[int, Annotated[float, Field(gt=0, lt=100)]]
    """Levels 2, 3 and 4, each from a share (per cent) of the most the parameters with a
    value could score above their least."""
    parameters: tuple[Parameter, ...] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _three_climbing_levels(cls, levels: dict[int, float]) -> dict[int, float]:
        if sorted(levels) != [2, 3, 4]:
            raise ValueError("give the share from which levels 2, 3 and 4 start")
        if not levels[2] < levels[3] < levels[4]:
            raise ValueError("each level starts at a greater share than the one below")
        return levels

    @field_validator("parameters")
    @classmethod
    def _parameters_named_once(cls, parameters: tuple[Parameter, ...]) -> tuple[Parameter, ...]:
        names = [parameter.id for parameter in parameters]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"parameters named twice: {', '.join(duplicates)}")
        return parameters


class OpelConfigurationInvalid(ValueError):
    """The OPEL file cannot be used; the message names the file and the problem."""


def load_opel(path: Path = DEFAULT_OPEL) -> OpelConfiguration:
    return load_toml(path, OpelConfiguration, OpelConfigurationInvalid)


@dataclass(frozen=True, slots=True)
class ReportedReading:
    """A reported parameter's value, and when it was measured."""

    value: float
    at: datetime


class Scored(Contract):
    """One parameter's part in a level."""

    parameter: str
    value: float | None
    """None when there is none, or the reading is stale."""
    score: int | None
    weight: float
    measured_at: datetime | None = None
    stale: bool = False


class OpelLevel(Contract):
    level: int | None
    """None when no parameter has a value to score: unknown, not level 1."""
    share: float
    """The weighted score above its least, as a per cent of the most it could be."""
    parameters: tuple[Scored, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Parameters left out of the score: no value, or a stale one."""
        return tuple(one.parameter for one in self.parameters if one.score is None)

    @property
    def drivers(self) -> tuple[str, ...]:
        """The parameters scoring highest, which drove the level."""
        scored = [one for one in self.parameters if one.score is not None]
        top = max((one.score for one in scored if one.score), default=None)
        return tuple(one.parameter for one in scored if one.score == top and top and top > 1)


def level(
    configuration: OpelConfiguration,
    derived: Mapping[str, float | None],
    reported: Mapping[str, ReportedReading],
    now: datetime,
) -> OpelLevel:
    """The level from the derived parameters' values and the reported ones' readings at
    ``now``; a parameter without a value, or with a stale reading, is left out."""
    parts: list[Scored] = []
    for parameter in configuration.parameters:
        if parameter.source is ParameterSource.DERIVED:
            value = derived.get(parameter.id)
            parts.append(_scored(parameter, value))
            continue
        reading = reported.get(parameter.id)
        if reading is None:
            parts.append(_scored(parameter, None))
            continue
        stale = now - reading.at > timedelta(minutes=parameter.stale_after_minutes)
        part = _scored(parameter, None if stale else reading.value)
        parts.append(part.model_copy(update={"measured_at": reading.at, "stale": stale}))
    counted = [part for part in parts if part.score is not None]
    least = sum(part.weight for part in counted)
    most = 4 * least
    total = sum(part.weight * (part.score or 0) for part in counted)
    share = round(100 * (total - least) / (most - least), 1) if counted else 0.0
    reached = max((lvl for lvl, start in configuration.levels.items() if share >= start), default=1)
    return OpelLevel(level=reached if counted else None, share=share, parameters=tuple(parts))


def _scored(parameter: Parameter, value: float | None) -> Scored:
    score = None if value is None else parameter.score(value)
    return Scored(parameter=parameter.id, value=value, score=score, weight=parameter.weight)

"""Triage: what the flow centre asks about a patient's ongoing needs, and the discharge
pathway the answers point to, by a rule set kept as versioned configuration.

The rules are tried in order and the first whose conditions all hold proposes the
pathway, with its reason; when none does, the patient goes home (pathway 0), the
default the discharge guidance sets. Staff may allocate another pathway, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract

DEFAULT_RULES = Path(__file__).with_name("pathways.toml")


class Pathway(StrEnum):
    HOME = "0"
    """Home or usual residence, no new support."""
    HOME_WITH_SUPPORT = "1"
    """Home with new or restarted support: reablement, home care, intermediate care."""
    BED_BASED_RECOVERY = "2"
    """Short-term bed-based rehabilitation or recovery: community hospital, step-down."""
    LONG_TERM_CARE = "3"
    """Long-term residential or nursing care."""


class TaskKind(StrEnum):
    """The logistics of a discharge, brought forward."""

    TRANSPORT = "transport"
    MEDICINES = "medicines"
    EQUIPMENT = "equipment"
    CARE_START = "care_start"
    PLACEMENT = "placement"
    FAMILY_INFORMED = "family_informed"


class TaskStatus(StrEnum):
    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    NOT_NEEDED = "not_needed"


class Residence(StrEnum):
    OWN_HOME = "own_home"
    SHELTERED_HOUSING = "sheltered_housing"
    CARE_HOME = "care_home"
    NURSING_HOME = "nursing_home"
    NO_FIXED_ABODE = "no_fixed_abode"


class PreviousCare(StrEnum):
    NONE = "none"
    FAMILY = "family"
    HOME_CARE = "home_care"
    RESIDENTIAL = "residential"


class Mobility(StrEnum):
    INDEPENDENT = "independent"
    WITH_AID = "with_aid"
    ONE_TO_ASSIST = "one_to_assist"
    TWO_TO_ASSIST = "two_to_assist"
    BED_BOUND = "bed_bound"


class DailyLiving(StrEnum):
    """Washing, dressing, eating, toileting."""

    INDEPENDENT = "independent"
    SOME_HELP = "some_help"
    FULL_HELP = "full_help"


class Cognition(StrEnum):
    INTACT = "intact"
    MILD_IMPAIRMENT = "mild_impairment"
    SEVERE_IMPAIRMENT = "severe_impairment"


class RehabilitationPotential(StrEnum):
    NONE = "none"
    SOME = "some"
    GOOD = "good"


class TriageAnswers(Contract):
    """The structured conversation about a patient's ongoing needs."""

    residence: Residence
    lives_alone: bool
    previous_care: PreviousCare
    mobility: Mobility
    daily_living: DailyLiving
    cognition: Cognition
    rehabilitation_potential: RehabilitationPotential
    equipment_needed: bool = False
    preference: str | None = Field(default=None, max_length=500)
    """What the patient and their family want, in their words."""


class RulesInvalid(ValueError):
    """The rule set cannot be used; the message names the file and the problem."""


class OverrideRefused(ValueError):
    """A pathway other than the one proposed, allocated without saying why."""


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    pathway: Pathway
    reason: str = Field(min_length=1)
    when: dict[str, tuple[str, ...]]
    """Each answer named must be one of the values listed."""

    @model_validator(mode="after")
    def _names_real_answers(self) -> _Rule:
        for name, values in self.when.items():
            field = TriageAnswers.model_fields.get(name)
            if field is None or name == "preference":
                raise ValueError(f"rule {self.id!r}: no answer {name!r}")
            allowed = _values_of(field.annotation)
            unknown = [value for value in values if value not in allowed]
            if unknown:
                raise ValueError(
                    f"rule {self.id!r}: {name} has no value {', '.join(map(repr, unknown))}"
                    f" (it takes {', '.join(sorted(allowed))})"
                )
        return self

    def holds(self, answers: TriageAnswers) -> bool:
        return all(_text(getattr(answers, name)) in values for name, values in self.when.items())


def _values_of(annotation: Any) -> set[str]:
    if annotation is bool:
        return {"true", "false"}
    return {member.value for member in annotation}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _RuleSetFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    rules: tuple[_Rule, ...]
    tasks: dict[Pathway, tuple[TaskKind, ...]]
    """The discharge tasks each pathway needs."""

    @model_validator(mode="after")
    def _tasks_for_every_pathway(self) -> _RuleSetFile:
        missing = [pathway.value for pathway in Pathway if pathway not in self.tasks]
        if missing:
            raise ValueError(f"tasks: no list for pathway {', '.join(missing)}")
        return self


@dataclass(frozen=True)
class Proposal:
    pathway: Pathway
    reason: str
    rule: str
    """The rule that proposed it, or ``default``."""
    version: str
    """The rule set's version, so a proposal can be explained after the rules change."""


@dataclass(frozen=True)
class Allocation:
    pathway: Pathway
    proposal: Proposal
    override_reason: str | None = None


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[_Rule, ...]
    tasks: dict[Pathway, tuple[TaskKind, ...]]

    def propose(self, answers: TriageAnswers) -> Proposal:
        for rule in self.rules:
            if rule.holds(answers):
                return Proposal(rule.pathway, rule.reason, rule.id, self.version)
        reason = "no rule points elsewhere: home is the default"
        return Proposal(Pathway.HOME, reason, "default", self.version)


def allocate(proposal: Proposal, chosen: Pathway, reason: str | None = None) -> Allocation:
    """The pathway allocated: the proposal's, or another with the reason for it."""
    if chosen is proposal.pathway:
        return Allocation(chosen, proposal)
    if not reason or not reason.strip():
        raise OverrideRefused(
            f"pathway {chosen.value} differs from the proposed {proposal.pathway.value}"
            f" ({proposal.reason}): say why"
        )
    return Allocation(chosen, proposal, reason.strip())


def load_rules(path: Path = DEFAULT_RULES) -> RuleSet:
    parsed = load_toml(path, _RuleSetFile, RulesInvalid)
    return RuleSet(parsed.version, parsed.rules, parsed.tasks)

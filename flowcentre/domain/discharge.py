"""Discharge planning as staff do it: triage turned into the payload that records it, and
the delay reasons a review may give."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.events import ProposedPathway, Triage
from flowcentre.domain.triage import Pathway, RuleSet, TriageAnswers, allocate

DEFAULT_DELAY_REASONS = Path(__file__).with_name("delay_reasons.toml")


class DelayReasonsInvalid(ValueError):
    """The delay reason list cannot be used; the message names the file and the problem."""


class DelayReasons(Contract):
    reasons: dict[Identifier, Annotated[str, Field(min_length=1, max_length=200)]]


def load_delay_reasons(path: Path = DEFAULT_DELAY_REASONS) -> DelayReasons:
    return load_toml(path, DelayReasons, DelayReasonsInvalid)


def triage(
    rules: RuleSet,
    spell_id: str,
    referral_id: str,
    answers: TriageAnswers,
    chosen: Pathway | None = None,
    override_reason: str | None = None,
) -> Triage:
    """The triage of a referral: the rule set's proposal, the pathway allocated (the
    proposal's unless ``chosen`` overrides it, with a reason) and the tasks it needs.

    Raises ``OverrideRefused`` for an override without a reason."""
    proposal = rules.propose(answers)
    allocation = allocate(proposal, chosen or proposal.pathway, override_reason)
    return Triage(
        spell_id=spell_id,
        referral_id=referral_id,
        answers=answers,
        proposed=ProposedPathway(
            pathway=proposal.pathway,
            rule=proposal.rule,
            reason=proposal.reason,
            version=proposal.version,
        ),
        pathway=allocation.pathway,
        override_reason=allocation.override_reason,
        tasks=rules.tasks[allocation.pathway],
    )

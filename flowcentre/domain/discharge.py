"""Discharge planning as staff do it: triage turned into the payload that records it."""

from __future__ import annotations

from flowcentre.domain.events import ProposedPathway, Triage
from flowcentre.domain.triage import Pathway, RuleSet, TriageAnswers, allocate


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

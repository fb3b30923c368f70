"""The discharge pathway rule set: each pathway, the default, overrides, bad rule files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowcentre.domain.triage import (
    OverrideRefused,
    Pathway,
    RulesInvalid,
    allocate,
    load_rules,
)
from tests.builders import answers

RULES = load_rules()


@pytest.mark.parametrize(
    ("changes", "pathway", "rule"),
    [
        ({}, Pathway.HOME, "default"),
        (
            {"lives_alone": True, "daily_living": "some_help"},
            Pathway.HOME_WITH_SUPPORT,
            "alone-and-needs-help",
        ),
        ({"mobility": "one_to_assist"}, Pathway.HOME_WITH_SUPPORT, "needs-hands-on-help"),
        ({"previous_care": "home_care"}, Pathway.HOME_WITH_SUPPORT, "care-to-restart"),
        ({"equipment_needed": True}, Pathway.HOME_WITH_SUPPORT, "equipment-at-home"),
        ({"mobility": "bed_bound"}, Pathway.BED_BASED_RECOVERY, "bed-based-recovery"),
        (
            {"residence": "nursing_home", "previous_care": "residential"},
            Pathway.LONG_TERM_CARE,
            "already-in-long-term-care",
        ),
        (
            {
                "daily_living": "full_help",
                "cognition": "severe_impairment",
                "rehabilitation_potential": "none",
                "mobility": "bed_bound",
            },
            Pathway.LONG_TERM_CARE,
            "needs-round-the-clock-care",
        ),
    ],
)
def test_the_answers_propose_a_pathway_and_say_why(
    changes: dict[str, Any], pathway: Pathway, rule: str
) -> None:
    proposal = RULES.propose(answers(**changes))

    assert (proposal.pathway, proposal.rule) == (pathway, rule)
    assert proposal.reason
    assert proposal.version == RULES.version


def test_the_first_rule_that_holds_wins() -> None:
    # Bed-bound with no rehabilitation potential is not bed-based recovery: the rule
    # for round-the-clock care comes first.
    severe = answers(
        mobility="bed_bound",
        daily_living="full_help",
        cognition="severe_impairment",
        rehabilitation_potential="none",
    )

    assert RULES.propose(severe).pathway is Pathway.LONG_TERM_CARE


def test_another_pathway_than_proposed_needs_a_reason() -> None:
    proposal = RULES.propose(answers())

    with pytest.raises(OverrideRefused, match="say why"):
        allocate(proposal, Pathway.HOME_WITH_SUPPORT, "  ")
    overridden = allocate(proposal, Pathway.HOME_WITH_SUPPORT, "daughter away for a month")
    agreed = allocate(proposal, Pathway.HOME)

    assert (overridden.pathway, overridden.override_reason) == (
        Pathway.HOME_WITH_SUPPORT,
        "daughter away for a month",
    )
    assert (agreed.pathway, agreed.override_reason) == (Pathway.HOME, None)


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ('when = { shoe_size = ["9"] }', "shoe_size"),
        ('when = { mobility = ["flying"] }', "flying"),
    ],
)
def test_a_rule_naming_what_triage_does_not_ask_is_refused(
    tmp_path: Path, rule: str, named: str
) -> None:
    path = tmp_path / "pathways.toml"
    path.write_text(
        f'version = "x"\n[[rules]]\nid = "r"\npathway = "1"\nreason = "r"\n{rule}\n',
        encoding="utf-8",
    )

    with pytest.raises(RulesInvalid, match=named):
        load_rules(path)

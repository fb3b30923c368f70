"""Alert rules as data: the default file, and rules refused with the field in error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flowcentre.domain.alert_rules import (
    AlertConfiguration,
    AlertConfigurationInvalid,
    AlertRule,
    Level,
    Measure,
    RuleRefused,
    levels_of,
    load_alerts,
)
from flowcentre.domain.configuration import describe
from tests.builders import OCCUPANCY_RULE as OCCUPANCY


def refusal(**changes: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        AlertRule.model_validate({**OCCUPANCY, **changes})
    return describe(refused.value)


def test_the_default_rules_load_and_each_names_a_ladder_the_file_defines() -> None:
    configuration = load_alerts()

    assert {rule.id for rule in configuration.rules} >= {
        "acute-occupancy-high",
        "no-side-room",
        "pathway-1-wait",
    }
    assert all(rule.ladder in configuration.ladders for rule in configuration.rules)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"scope": {"level": "pathway"}}, "scope", "occupancy_pct is measured at"),
        (
            {"measure": "queue_length", "scope": {"level": "site"}},
            "scope",
            "queue_length is measured at pathway, system",
        ),
        ({"scope": {"level": "system", "id": "WRH"}}, "scope.id", "takes no id"),
        (
            {"measure": "queue_length", "scope": {"level": "pathway", "id": "7"}},
            "scope.id",
            "a pathway is one of 0, 1, 2, 3",
        ),
        ({"clear": 95}, "clear", "clears at or below it"),
        ({"comparison": "<", "threshold": 1, "clear": 0}, "clear", "clears at or above it"),
        ({"measure": "stranded", "beds": {"side_room": True}}, "beds", "counts no beds"),
        (
            {
                "measure": "queue_length",
                "scope": {"level": "system"},
                "site_kind": "acute_hospital",
            },
            "site_kind",
            "belong to no site",
        ),
        ({"comparison": "above"}, "comparison", "Input should be"),
        ({"hold_minutes": -1}, "hold_minutes", "greater than or equal to 0"),
        ({"measure": "beds_free"}, "measure", "Input should be"),
        ({"severity": "urgent"}, "severity", "Input should be"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"by": "12:00:00+01:00"}, "by", "a local time of day"),
        ({"threshold": "NaN"}, "threshold", "finite number"),
        ({"clear": "Infinity"}, "clear", "finite number"),
        ({"id": "occupancy/high"}, "id", "String should match pattern"),
        ({"id": "r" * 65}, "id", "at most 64 characters"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_naming_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    problem = refusal(**changes)

    assert problem.startswith(f"{field}: "), problem
    assert words in problem


def test_hysteresis_defaults_to_the_threshold() -> None:
    rule = AlertRule.model_validate(OCCUPANCY)
    gap = AlertRule.model_validate({**OCCUPANCY, "clear": 90})

    assert (rule.clear_at, gap.clear_at) == (92, 90)


def test_a_rule_naming_a_ladder_or_webhook_the_configuration_lacks_is_refused() -> None:
    configuration = AlertConfiguration.model_validate(
        {"ladders": {"site": {"steps": [{"after_minutes": 0, "notify": ["site manager"]}]}}}
    )

    configuration.check(AlertRule.model_validate({**OCCUPANCY, "ladder": "site"}))
    with pytest.raises(RuleRefused) as ladder:
        configuration.check(AlertRule.model_validate({**OCCUPANCY, "ladder": "board"}))
    with pytest.raises(RuleRefused) as webhook:
        configuration.check(AlertRule.model_validate({**OCCUPANCY, "webhooks": ["pager"]}))

    assert ladder.value.field == "ladder"
    assert webhook.value.field == "webhooks"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[rules]]\nid = 'x'\n", "rules.0.name: Field required"),
        (
            "[ladders.site]\nsteps = [{after_minutes = 30, notify = ['a']},"
            " {after_minutes = 10, notify = ['b']}]\n",
            "ladders.site.steps: Value error, steps come in order of after_minutes",
        ),
        (
            "[webhooks.pager]\nurl = 'ftp://pager'\n",
            "webhooks.pager.url: String should match pattern",
        ),
    ],
)
def test_an_alerts_file_that_cannot_be_used_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(text)

    with pytest.raises(AlertConfigurationInvalid) as refused:
        load_alerts(path)

    assert str(refused.value).startswith(f"{path}: ")
    assert words in str(refused.value)


def test_a_file_defining_a_rule_twice_or_naming_a_missing_ladder_is_refused(
    tmp_path: Path,
) -> None:
    rule = "[[rules]]\nid = 'x'\nname = 'X'\nmeasure = 'stranded'\nscope = {level = 'system'}\n"
    rule += "comparison = '>'\nthreshold = 10\n"
    twice, missing = tmp_path / "twice.toml", tmp_path / "missing.toml"
    twice.write_text(rule + rule)
    missing.write_text(rule + "ladder = 'site'\n")

    with pytest.raises(AlertConfigurationInvalid, match=r"rules\.1\.id: rule 'x' is defined twice"):
        load_alerts(twice)
    with pytest.raises(AlertConfigurationInvalid, match=r"rules\.0\.ladder: no escalation ladder"):
        load_alerts(missing)


def test_every_level_is_a_scope_some_measure_is_read_at() -> None:
    assert set().union(*(levels_of(measure) for measure in Measure)) == set(Level)

"""OPEL scored as configured: each band's edge, each level's boundary, stale readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flowcentre.domain.configuration import describe
from flowcentre.domain.opel import (
    OpelConfiguration,
    OpelConfigurationInvalid,
    Parameter,
    ReportedReading,
    level,
    load_opel,
)

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
OCCUPANCY: dict[str, Any] = {
    "id": "occupancy",
    "name": "G&A occupancy",
    "source": "derived",
    "measure": "occupancy_pct",
    "bands": [85, 92, 97],
}
FOUR_HOUR: dict[str, Any] = {
    "id": "four_hour",
    "name": "4-hour performance",
    "source": "reported",
    "stale_after_minutes": 240,
    "higher_is_worse": False,
    "bands": [78, 70, 60],
}


def configuration(*parameters: dict[str, Any], **changes: Any) -> OpelConfiguration:
    return OpelConfiguration.model_validate(
        {
            "framework": "test",
            "version": "t1",
            "levels": {2: 25, 3: 50, 4: 75},
            "parameters": list(parameters or (OCCUPANCY, FOUR_HOUR)),
            **changes,
        }
    )


@pytest.mark.parametrize(
    ("value", "score"),
    [(84.9, 1), (85.0, 2), (91.9, 2), (92.0, 3), (96.9, 3), (97.0, 4), (120.0, 4)],
)
def test_a_rising_parameter_scores_from_each_band_on(value: float, score: int) -> None:
    assert Parameter.model_validate(OCCUPANCY).score(value) == score


@pytest.mark.parametrize(
    ("value", "score"), [(78.1, 1), (78.0, 2), (70.0, 3), (60.1, 3), (60.0, 4), (10.0, 4)]
)
def test_a_falling_parameter_scores_from_each_band_down(value: float, score: int) -> None:
    assert Parameter.model_validate(FOUR_HOUR).score(value) == score


@pytest.mark.parametrize(
    ("scores", "expected_level", "share"),
    [
        # Two parameters, weight 1 each: least 2, most 8, so each point is 1/6 (16.7 %).
        ((1, 1), 1, 0.0),
        ((2, 1), 1, 16.7),
        ((2, 2), 2, 33.3),
        ((3, 2), 2, 50.0),
        ((4, 2), 3, 66.7),
        ((4, 3), 3, 83.3),
        ((4, 4), 4, 100.0),
    ],
)
def test_the_weighted_share_decides_the_level_from_each_boundary_on(
    scores: tuple[int, int], expected_level: int, share: float
) -> None:
    occupancy_for = {1: 80.0, 2: 86.0, 3: 93.0, 4: 98.0}
    four_hour_for = {1: 90.0, 2: 75.0, 3: 65.0, 4: 50.0}
    found = level(
        configuration(levels={2: 25, 3: 66.7, 4: 99}),
        {"occupancy": occupancy_for[scores[0]]},
        {"four_hour": ReportedReading(four_hour_for[scores[1]], NOW)},
        NOW,
    )
    assert (found.level, found.share) == (expected_level, share)


def test_a_level_starts_exactly_at_its_share() -> None:
    found = level(
        configuration(), {"occupancy": 86.0}, {"four_hour": ReportedReading(75.0, NOW)}, NOW
    )

    assert found.share == 33.3
    assert found.level == 2
    from_there = configuration(levels={2: 33.3, 3: 50, 4: 75})
    assert (
        level(from_there, {"occupancy": 86.0}, {"four_hour": ReportedReading(75.0, NOW)}, NOW).level
        == 2
    )
    past_it = configuration(levels={2: 33.4, 3: 50, 4: 75})
    assert (
        level(past_it, {"occupancy": 86.0}, {"four_hour": ReportedReading(75.0, NOW)}, NOW).level
        == 1
    )


def test_weights_count_each_parameter_as_configured() -> None:
    heavy = configuration({**OCCUPANCY, "weight": 3}, FOUR_HOUR)

    found = level(heavy, {"occupancy": 98.0}, {"four_hour": ReportedReading(90.0, NOW)}, NOW)

    assert found.share == 75.0, "(3x3 + 0) / (3x3 + 1x3)"
    assert found.level == 4
    assert found.drivers == ("occupancy",)


def test_a_stale_reading_is_shown_stale_and_left_out_never_reused() -> None:
    fresh = NOW - timedelta(minutes=240)
    stale = NOW - timedelta(minutes=241)

    kept = level(
        configuration(), {"occupancy": 98.0}, {"four_hour": ReportedReading(50.0, fresh)}, NOW
    )
    left = level(
        configuration(), {"occupancy": 98.0}, {"four_hour": ReportedReading(50.0, stale)}, NOW
    )

    assert kept.share == 100.0
    assert kept.missing == ()
    four_hour = left.parameters[1]
    assert (four_hour.stale, four_hour.value, four_hour.score) == (True, None, None)
    assert four_hour.measured_at == stale
    assert left.missing == ("four_hour",)
    assert left.share == 100.0, "scored on occupancy alone"


def test_no_value_at_all_is_an_unknown_level_with_everything_missing() -> None:
    found = level(configuration(), {"occupancy": None}, {}, NOW)

    assert (found.level, found.missing) == (None, ("occupancy", "four_hour"))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"levels": {2: 50, 3: 25, 4: 75}}, "levels: Value error, each level starts"),
        ({"levels": {2: 25, 3: 50}}, "levels: Value error, give the share"),
        (
            {"parameters": [{**OCCUPANCY, "bands": [85, 97, 92]}]},
            "parameters.0.bands: Value error, the three bands go in order",
        ),
        (
            {"parameters": [{**OCCUPANCY, "measure": None}]},
            "measure: a derived parameter names the measure",
        ),
        (
            {"parameters": [{**OCCUPANCY, "higher_is_worse": False}]},
            "bands: rise for a parameter where higher is worse",
        ),
        ({"parameters": [OCCUPANCY, OCCUPANCY]}, "parameters named twice: occupancy"),
        ({"parameters": [{**OCCUPANCY, "measure": "beds_free"}]}, "parameters.0.measure"),
    ],
)
def test_an_opel_configuration_that_cannot_work_is_refused_naming_the_field(
    tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        configuration(**changes)
    assert words in describe(refused.value)


def test_the_default_configuration_loads_and_an_unreadable_one_is_refused(tmp_path: Path) -> None:
    defaults = load_opel()
    assert {p.source for p in defaults.parameters} == {"derived", "reported"}
    broken = tmp_path / "opel.toml"
    broken.write_text("framework = 'x'\n")

    with pytest.raises(OpelConfigurationInvalid, match=str(broken)):
        load_opel(broken)

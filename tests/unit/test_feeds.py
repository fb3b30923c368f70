"""Source feeds: when each was heard, when a configured one is silent, and a feeds file
refused with the problem named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowcentre.domain.feeds import (
    DEFAULT_FEEDS,
    Feed,
    FeedConfiguration,
    FeedsInvalid,
    Heard,
    hear,
    judge,
    load_feeds,
)
from producers.county import COUNTY_FEEDS, COUNTY_FEEDS_HL7, County
from tests.builders import bed_status

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
ACUTE = Feed(organisation="RWP", system="PAS", name="Worcestershire Acute ADT")
COMMUNITY = Feed(
    organisation="R1A", system="EPR", name="Community trust EPR", silent_after_minutes=60
)
FEEDS = FeedConfiguration(feeds=(ACUTE, COMMUNITY))


def heard_at(last: datetime, first: datetime | None = None) -> Heard:
    return Heard(first or last, last)


def silent_names(heard: dict[tuple[str, str], Heard], now: datetime | None) -> list[str]:
    return [status.feed.name for status in judge(FEEDS, heard, now) if status.silent]


def test_a_feed_is_silent_only_once_more_than_its_allowed_silence_has_passed() -> None:
    heard = {ACUTE.key: heard_at(NOON), COMMUNITY.key: heard_at(NOON)}
    assert ACUTE.silent_after == timedelta(minutes=10)
    assert silent_names(heard, NOON + timedelta(minutes=10)) == []
    assert silent_names(heard, NOON + timedelta(minutes=10, milliseconds=1)) == [ACUTE.name]
    assert silent_names(heard, NOON + timedelta(minutes=61)) == [ACUTE.name, COMMUNITY.name]


def test_heard_again_it_is_no_longer_silent() -> None:
    now = NOON + timedelta(minutes=30)
    assert silent_names({ACUTE.key: heard_at(NOON)}, now) == [ACUTE.name]
    assert silent_names({ACUTE.key: heard_at(now - timedelta(seconds=1), NOON)}, now) == []


def test_nothing_is_silent_before_the_clock_has_ticked() -> None:
    assert silent_names({ACUTE.key: heard_at(NOON - timedelta(days=3))}, None) == []


def test_a_feed_whose_clock_runs_ahead_of_the_log_is_not_silent() -> None:
    assert silent_names({ACUTE.key: heard_at(NOON + timedelta(hours=1))}, NOON) == []


def test_a_feed_never_heard_counts_from_when_the_first_feed_was() -> None:
    began = {COMMUNITY.key: heard_at(NOON + timedelta(minutes=9), NOON)}
    [acute, community] = judge(FEEDS, began, NOON + timedelta(minutes=10))
    assert (acute.silent, acute.last_heard) == (False, None)
    [acute, community] = judge(FEEDS, began, NOON + timedelta(minutes=11))
    assert (acute.silent, community.silent) == (True, False)
    assert acute.view()["heard_at"] is None
    assert judge(FEEDS, {}, NOON)[0].silent is False


def test_a_feed_not_configured_is_heard_but_never_judged() -> None:
    heard = {("E10000034", "Social care"): heard_at(NOON - timedelta(days=30))}
    assert [status.feed.key for status in judge(FEEDS, heard, NOON)] == [
        ACUTE.key,
        COMMUNITY.key,
    ]


def test_boards_are_sent_when_a_feed_was_last_heard_only_once_it_is_silent() -> None:
    heard = {ACUTE.key: heard_at(NOON), COMMUNITY.key: heard_at(NOON)}
    acute, community = (s.view() for s in judge(FEEDS, heard, NOON + timedelta(minutes=20)))
    assert acute == {
        "organisation": "RWP",
        "system": "PAS",
        "name": "Worcestershire Acute ADT",
        "silent_after_minutes": 10,
        "silent": True,
        "heard_at": NOON.isoformat(),
    }
    assert (community["silent"], community["heard_at"]) == (False, None)


def test_hearing_keeps_each_feeds_first_and_last_recorded_times() -> None:
    late, early = bed_status("B1", "clean", minute=30), bed_status("B1", "cleaning", minute=5)
    heard = hear({}, [late, early, late])
    assert heard == {("RWP", "PAS"): Heard(early.recorded_at, late.recorded_at)}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            '[[feeds]]\norganisation = "RWP"\nsystem = "PAS"\nname = "A"\n'
            "silent_after_minutes = 0\n",
            "feeds.0.silent_after_minutes: Input should be greater than 0",
        ),
        (
            '[[feeds]]\norganisation = "RWP"\nsystem = "PAS"\nname = "A"\n'
            '[[feeds]]\norganisation = "RWP"\nsystem = "PAS"\nname = "B"\n',
            "the feed of system 'PAS' of organisation 'RWP' is listed twice",
        ),
        ('[[feeds]]\norganisation = "RWP"\nsystem = "PAS"\n', "feeds.0.name: Field required"),
        (
            '[[feeds]]\norganisation = "RWP"\nsystem = "PAS"\nname = "A"\nsilent_after = 5\n',
            "feeds.0.silent_after: Extra inputs are not permitted",
        ),
        ('[[feeds]]\norganisation = "RWP PAS"\nsystem = "PAS"\nname = "A"\n', "organisation"),
        ("feeds = [", "feeds.toml"),
    ],
)
def test_a_feeds_file_in_error_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FeedsInvalid) as refused:
        load_feeds(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert named in str(refused.value)


def test_a_missing_feeds_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(FeedsInvalid, match=r"nowhere\.toml"):
        load_feeds(tmp_path / "nowhere.toml")


def test_the_packaged_file_expects_no_feed_and_the_county_files_name_its_systems() -> None:
    assert load_feeds(DEFAULT_FEEDS).feeds == ()
    county = County.load()
    systems = {
        (org.id, system)
        for org in county.organisations
        for system in (org.record_system, org.housekeeping_system)
        if system
    }
    expected = load_feeds(COUNTY_FEEDS).feeds
    assert expected
    assert {feed.key for feed in expected} <= systems
    by_hl7 = load_feeds(COUNTY_FEEDS_HL7).feeds
    assert {feed.key for feed in by_hl7} <= systems | {("RWP", "SIMPAS"), ("R1A", "SIMPAS")}

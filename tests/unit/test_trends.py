"""Trends sampled at the log's clock: each acute site and the system once a quarter hour,
the same again on a replay or a restart, and a week and a day kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flowcentre.domain.alert_rules import Measure, load_alerts
from flowcentre.domain.alert_watch import AlertWatch
from flowcentre.domain.apply import State, apply
from flowcentre.domain.events import EventBase
from flowcentre.domain.measures import Picture
from flowcentre.domain.trends import (
    KEPT,
    Sample,
    TrendRecord,
    TrendSampler,
    quarter_hour,
    sampled,
)
from tests.builders import (
    T0,
    admitted,
    bed,
    discharged,
    event,
    organisation,
    reside_reviewed,
    site,
    ward,
)

CLOCK = "county"
ZONE = ZoneInfo("Europe/London")


def tick(minute: float) -> EventBase:
    return event("ClockTicked", {"clock": CLOCK}, minute)


def royal_and_a_community_hospital() -> list[EventBase]:
    """Royal (acute) with a ward of four beds, and a community hospital with one bed."""
    community = event(
        "SiteRegistered",
        {
            "site_id": "EVE",
            "organisation_id": "RWP",
            "name": "Evesham",
            "kind": "community_hospital",
        },
        -80,
    )
    return [
        organisation(),
        site(),
        community,
        ward("W1", "WRH"),
        ward("C1", "EVE"),
        *(bed(f"B{n}", "W1") for n in range(4)),
        bed("C1-B1", "C1"),
        admitted("C", "C1-B1", -30, "C1"),
    ]


def sampled_through(story: list[EventBase], records: dict[str, TrendRecord]) -> None:
    """Runs the alert watch over ``story``, as the watch process does, keeping each
    quarter hour's samples in ``records``."""
    state = State()
    watch = AlertWatch(load_alerts(), Picture(ZONE), CLOCK, "FC")
    sampler = TrendSampler()
    for one in story:
        change = apply(state, one)
        state.absorb(change)
        watch.take(change)
        for place, sample in sampler.take(watch.picture, watch.now).items():
            records[place] = sampled(records.get(place) or TrendRecord(place=place), sample)


def series(record: TrendRecord, measure: Measure) -> list[tuple[float, float | None]]:
    """The record's samples of ``measure`` as (minutes from T0, value)."""
    return [((one.at - T0) / timedelta(minutes=1), one.values[measure]) for one in record.samples]


STORY = [
    *royal_and_a_community_hospital(),
    tick(1),
    admitted("S0", "B0", 2, "W1"),
    admitted("S1", "B1", 3, "W1"),
    tick(5),  # the same quarter hour: no second sample
    tick(16),
    admitted("S2", "B2", 20, "W1"),
    reside_reviewed("S1", 21, meets=False),
    tick(31),
    discharged("S0", 40),
    tick(46),
]


def test_each_acute_site_and_the_system_is_sampled_once_a_quarter_hour_at_the_clock() -> None:
    records: dict[str, TrendRecord] = {}

    sampled_through(STORY, records)

    assert sorted(records) == ["WRH", "system"], "a community hospital is not sampled"
    royal = records["WRH"]
    assert series(royal, Measure.OCCUPANCY_PCT) == [(0, 0.0), (15, 50.0), (30, 75.0), (45, 50.0)]
    # The bed S0 left waits to be cleaned: not yet available.
    assert series(royal, Measure.AVAILABLE_BEDS) == [(0, 4), (15, 2), (30, 1), (45, 1)]
    assert [value for _, value in series(royal, Measure.NO_CRITERIA_TO_RESIDE)] == [0, 0, 1, 1]
    assert [value for _, value in series(royal, Measure.PENDING_ADMISSIONS)] == [0, 0, 0, 0]
    # The system's general and acute beds are the acute sites': Evesham's patient is not in.
    assert records["system"].samples == royal.samples


def test_a_replay_or_a_restart_samples_nothing_twice() -> None:
    records: dict[str, TrendRecord] = {}
    sampled_through(STORY, records)
    first = dict(records)

    sampled_through(STORY, records)
    assert records == first
    assert all(records[place] is first[place] for place in records), "nothing written again"

    # A watch started again mid-way, with the view as it is later in that quarter hour,
    # leaves the quarter hour's first sample as it was.
    sampled_through([*STORY, admitted("S3", "B3", 47, "W1"), tick(50)], records)
    assert series(records["WRH"], Measure.OCCUPANCY_PCT)[-1] == (45, 50.0)


def test_the_first_tick_of_a_quarter_hour_dates_the_sample_by_its_start() -> None:
    at = T0 + timedelta(minutes=37, seconds=12)

    assert quarter_hour(at) == T0 + timedelta(minutes=30)
    assert quarter_hour(T0 + timedelta(minutes=45)) == T0 + timedelta(minutes=45)

    picture = Picture(ZONE)
    sampler = TrendSampler()
    assert sampler.take(picture, None) == {}, "nothing is sampled before the first tick"
    assert list(sampler.take(picture, at)) == ["system"]
    assert sampler.take(picture, at + timedelta(minutes=7)) == {}
    assert sampler.take(picture, at - timedelta(hours=1)) == {}, "the clock never runs back"
    [later] = sampler.take(picture, at + timedelta(minutes=8)).values()
    assert later.at == T0 + timedelta(minutes=45)


def sample(at: datetime, occupancy: float) -> Sample:
    return Sample(at=at, values={Measure.OCCUPANCY_PCT: occupancy})


def test_a_week_and_a_day_are_kept_in_time_order() -> None:
    record = TrendRecord(place="WRH")
    nine_days = [T0 + timedelta(hours=hours) for hours in range(0, 9 * 24 + 1, 6)]
    # Out of order, as a replay may bring them.
    for at in [*nine_days[1::2], *nine_days[::2]]:
        record = sampled(record, sample(at, 90))

    latest = nine_days[-1]
    assert [one.at for one in record.samples] == [at for at in nine_days if latest - at <= KEPT]
    assert record.samples[0].at == latest - KEPT
    assert record.between(latest - timedelta(hours=24), latest) == list(record.samples[-5:])


def test_a_quarter_hour_sampled_again_keeps_its_first_sample() -> None:
    record = sampled(TrendRecord(place="WRH"), sample(T0, 91.0))

    again = sampled(record, sample(T0, 97.0))

    assert again is record
    assert again.samples[0].values[Measure.OCCUPANCY_PCT] == 91.0

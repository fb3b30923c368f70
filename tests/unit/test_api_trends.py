"""The trends route over samples in memory: who may read them, the day or the week up to
the log's clock, and refusals that name the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from flowcentre.api.deps import get_reads, get_trends
from flowcentre.domain.access import Principal, Role
from flowcentre.domain.alert_rules import Measure
from flowcentre.domain.trends import EVERY, SAMPLED, Sample, TrendRecord, quarter_hour, sampled
from tests.api_app import HISTORY, StateReads, app_over, signed_in
from tests.builders import event, fold, minutes_from_t0
from tests.fakes import KeptTrends
from tests.unit.conftest import RecordingPublisher

MANAGER = signed_in(Role.MANAGER)


def week_and_a_day(place: str, until: datetime) -> TrendRecord:
    """A sample every quarter hour of the eight days to ``until``, occupancy rising by a
    tenth each."""
    record = TrendRecord(place=place)
    at = quarter_hour(until - timedelta(days=8))
    occupancy = 50.0
    while at <= until:
        values: dict[Measure, float | None] = dict.fromkeys(SAMPLED, 3)
        values[Measure.OCCUPANCY_PCT] = round(occupancy, 1)
        record = sampled(record, Sample(at=at, values=values))
        at += EVERY
        occupancy += 0.1
    return record


def the_clock() -> datetime:
    """The log's clock, ahead of this machine's as the simulator's runs, and off the
    quarter hour."""
    return quarter_hour(datetime.now(UTC) + timedelta(days=2)) + timedelta(minutes=7)


@asynccontextmanager
async def api(
    principal: Principal, clock: datetime, sampled_places: tuple[str, ...] = ("WRH", "system")
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a week and a day of samples of ``sampled_places`` up to the log's
    clock."""
    app = app_over(RecordingPublisher(), principal)
    tick = event("ClockTicked", {"clock": "flowcentre"}, minutes_from_t0(clock))
    state = fold([*HISTORY, tick])
    app.dependency_overrides[get_reads] = lambda: StateReads(state)
    kept = KeptTrends({place: week_and_a_day(place, clock) for place in sampled_places})
    app.dependency_overrides[get_trends] = lambda: kept
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def at(answer: httpx.Response, index: int) -> datetime:
    return datetime.fromisoformat(answer.json()["samples"][index]["at"])


async def test_a_manager_reads_a_sites_last_day_and_week_of_samples_to_the_logs_clock() -> None:
    clock = the_clock()
    async with api(MANAGER, clock) as client:
        day = await client.get("/api/v1/trends", params={"scope": "WRH", "hours": 24})
        week = await client.get("/api/v1/trends", params={"scope": "WRH", "hours": 168})

    assert day.status_code == 200, day.text
    body = day.json()
    assert (body["scope"], body["every_minutes"]) == ("WRH", 15)
    assert datetime.fromisoformat(body["until"]) == clock
    assert datetime.fromisoformat(body["from"]) == clock - timedelta(hours=24)
    assert [one["measure"] for one in body["measures"]] == [
        "occupancy_pct",
        "available_beds",
        "no_criteria_to_reside",
        "stranded",
        "pending_admissions",
    ]
    assert [one["value"] for one in body["measures"][0]["references"]] == [85, 92]
    assert body["measures"][1]["references"] == []
    assert len(body["samples"]) == 24 * 4, "a sample each quarter hour of the day"
    assert at(day, 0) == quarter_hour(clock) - timedelta(hours=24) + EVERY
    assert at(day, -1) == quarter_hour(clock)
    assert set(body["samples"][-1]["values"]) == set(SAMPLED)

    assert week.status_code == 200, week.text
    assert len(week.json()["samples"]) == 7 * 24 * 4
    assert week.json()["samples"][-1] == body["samples"][-1]


async def test_the_flow_centre_reads_the_systems_day_by_default() -> None:
    async with api(signed_in(Role.FLOW_CENTRE), the_clock()) as client:
        answer = await client.get("/api/v1/trends")

    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "system"
    assert len(answer.json()["samples"]) == 24 * 4


async def test_a_site_not_yet_sampled_has_no_samples() -> None:
    async with api(MANAGER, the_clock(), sampled_places=()) as client:
        answer = await client.get("/api/v1/trends", params={"scope": "WRH"})

    assert answer.status_code == 200, answer.text
    assert answer.json()["samples"] == []


async def test_only_readers_of_alerts_read_trends_and_bad_queries_name_the_field() -> None:
    async with api(signed_in(Role.WARD_STAFF, "AVON4"), the_clock()) as client:
        assert (await client.get("/api/v1/trends")).status_code == 403
    async with api(MANAGER, the_clock()) as client:
        unknown = await client.get("/api/v1/trends", params={"scope": "NOPE"})
        too_long = await client.get("/api/v1/trends", params={"hours": 169})
        none = await client.get("/api/v1/trends", params={"hours": 0})

    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("scope: 'NOPE'")
    for refused in (too_long, none):
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["query", "hours"]

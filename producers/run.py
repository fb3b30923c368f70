"""Publishing the simulated county to the events topic in scaled real time.

The simulated clock starts at ``start`` and runs ``speed`` times faster than the wall
clock. Each event is published once the simulated clock passes its ``recorded_at``, which
is when a real feed would have sent it, so the log sees the small reorderings real feeds
produce while the core orders by event time. The history before ``start`` (the registry
and ``warm_up`` of traffic) is published at once, so boards open on a county already in
its usual state instead of on empty hospitals.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from flowcentre import bootstrap
from flowcentre.config import Settings
from flowcentre.domain.events import Actor, ActorKind, ClockTicked, EventBase, Source, Tick
from flowcentre.publisher import EventPublisher
from producers.county import County
from producers.simulator import simulate

log = logging.getLogger(__name__)

DEFAULT_WARM_UP = timedelta(days=28)
"""Long enough for occupancy to settle and for super-stranded (21+ day) stays to exist."""

_PUBLISH_BATCH = 1000
TICK = timedelta(minutes=1)
"""How often, in simulated time, the simulator ticks the clock on the log."""
_SIMULATED_CLOCK = Actor(kind=ActorKind.SYSTEM, id="simulator-clock", name="Simulated clock")


class Scenario(StrEnum):
    USUAL = "usual"
    SURGE = "surge"
    """The county's surge (``county.json``), shortly after live traffic starts."""


class SimulatedClock:
    """Simulated time: ``start`` when created, then ``speed`` simulated seconds a second."""

    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self._start = start
        self._speed = speed
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._began) * self._speed)

    def seconds_until(self, moment: datetime) -> float:
        """Wall-clock seconds until the simulated clock reaches ``moment``."""
        return max(0.0, (moment - self.now()).total_seconds() / self._speed)


def run_simulator(
    settings: Settings,
    *,
    speed: float,
    seed: int,
    start: datetime | None = None,
    stop: threading.Event | None = None,
    warm_up: timedelta = DEFAULT_WARM_UP,
    county: County | None = None,
    publisher: EventPublisher | None = None,
    scenario: Scenario = Scenario.USUAL,
) -> None:
    """Publish the county's events until ``stop`` is set.

    ``start`` is the simulated time at the moment of the call (default: now); the
    simulation itself begins ``warm_up`` earlier with the registry. The publisher is
    built from ``settings`` unless one is given, and closed only if built here.
    """
    start = (start or datetime.now(UTC)).replace(microsecond=0)
    clock = SimulatedClock(start, speed)
    stop = stop or threading.Event()
    county = county or County.load()
    owned = publisher is None
    sink = publisher or bootstrap.publisher(settings)
    began = start - warm_up
    surge = None
    if scenario is Scenario.SURGE:
        surge = start + timedelta(minutes=county.surge.begins_after_minutes)
        log.info("A surge at %s begins at %s", county.surge.site, surge.isoformat())
    log.info(
        "Simulating %s (seed %d, %g x real time) from %s, live from %s",
        county.name,
        seed,
        speed,
        began.isoformat(),
        start.isoformat(),
    )
    ticks = _Ticks(settings.clock, settings.organisation_id, start)
    try:
        _publish_paced(simulate(county, began, seed, surge=surge), clock, stop, sink, ticks)
    finally:
        if owned:
            sink.close()


class _Ticks:
    """The clock on the log, ticked each simulated minute from ``start``, so alerts keep
    simulated time."""

    def __init__(self, clock: str, organisation: str, start: datetime) -> None:
        self._clock = clock
        self._source = Source(system="simulator", organisation=organisation)
        self.next = start

    def due(self, now: datetime) -> list[EventBase]:
        due: list[EventBase] = []
        while self.next <= now:
            due.append(
                ClockTicked(
                    event_id=f"tick/{self._clock}/{self.next:%Y%m%dT%H%M%SZ}",
                    occurred_at=self.next,
                    recorded_at=self.next,
                    source=self._source,
                    caused_by=_SIMULATED_CLOCK,
                    payload=Tick(clock=self._clock),
                )
            )
            self.next += TICK
        return due


def _publish_paced(
    events: Iterator[EventBase],
    clock: SimulatedClock,
    stop: threading.Event,
    publisher: EventPublisher,
    ticks: _Ticks,
) -> None:
    # Events are taken from the generator by event time and released by recorded time;
    # recorded_at is never before occurred_at, so nothing taken later can be due sooner.
    pending: list[tuple[datetime, tuple[datetime, datetime, str], EventBase]] = []
    upcoming = next(events)
    published = 0
    day = clock.now().date()
    while not stop.is_set():
        now = clock.now()
        while upcoming.occurred_at <= now:
            heapq.heappush(pending, (upcoming.recorded_at, upcoming.order(), upcoming))
            upcoming = next(events)
        due = []
        while pending and pending[0][0] <= now:
            due.append(heapq.heappop(pending)[2])
        due = list(heapq.merge(due, ticks.due(now), key=lambda event: event.recorded_at))
        published += _publish(due, publisher, stop)
        if now.date() != day:
            day = now.date()
            log.info("Simulated time %s: %d events published", now.isoformat(), published)
        following = min(upcoming.occurred_at, ticks.next)
        if pending:
            following = min(following, pending[0][0])
        stop.wait(clock.seconds_until(following))


def _publish(events: Sequence[EventBase], publisher: EventPublisher, stop: threading.Event) -> int:
    """Publish in batches the broker takes comfortably; a stop ends it between batches."""
    sent = 0
    for offset in range(0, len(events), _PUBLISH_BATCH):
        if stop.is_set():
            break
        batch = events[offset : offset + _PUBLISH_BATCH]
        publisher.publish(batch)
        sent += len(batch)
    return sent

"""Source feeds: which are expected, when each was last heard, and when one is silent.

A feed is a system of an organisation (an event's ``source``): the acute trust's PAS, the
community trust's EPR, a housekeeping system. Every feed is recorded as heard, configured
or not; a configured one whose silence runs past its allowed silence is silent, judged
against the clock on the log, so the judgement keeps simulated time under the simulator
and wall time in production, and a stopped event stream (whose ticks stop too) makes no
feed look silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.events import EventBase

DEFAULT_FEEDS = Path(__file__).with_name("feeds.toml")

JSON = dict[str, Any]
FeedKey = tuple[str, str]
"""A feed: its organisation and its system, as events name them in ``source``."""


class FeedsInvalid(ValueError):
    """The file cannot be used; the message names the file and the problem."""


class Feed(Contract):
    organisation: Identifier
    """The organisation its events come from (``source.organisation``)."""
    system: Annotated[str, Field(min_length=1, max_length=100)]
    """The sending system, exactly as its events name it (``source.system``; for HL7 v2,
    the sending application, MSH-3)."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    """What boards call it."""
    silent_after_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 10
    """How long it may go unheard, in minutes of the log's clock, before boards say so."""

    @property
    def key(self) -> FeedKey:
        return (self.organisation, self.system)

    @property
    def silent_after(self) -> timedelta:
        return timedelta(minutes=self.silent_after_minutes)


class FeedConfiguration(Contract):
    feeds: tuple[Feed, ...] = ()

    @model_validator(mode="after")
    def _each_feed_once(self) -> Self:
        seen: set[FeedKey] = set()
        for feed in self.feeds:
            if feed.key in seen:
                raise ValueError(
                    f"the feed of system {feed.system!r} of organisation "
                    f"{feed.organisation!r} is listed twice"
                )
            seen.add(feed.key)
        return self


def load_feeds(path: Path = DEFAULT_FEEDS) -> FeedConfiguration:
    return load_toml(path, FeedConfiguration, FeedsInvalid)


@dataclass(frozen=True, slots=True)
class Heard:
    """When a feed was first and last heard: the earliest and latest ``recorded_at`` of
    its events. The source's own time is used, not the moment of applying, so that a
    replay of the log in any interleaving records the same."""

    first: datetime
    last: datetime

    def also(self, other: Heard) -> Heard:
        return Heard(min(self.first, other.first), max(self.last, other.last))


def hear(heard: dict[FeedKey, Heard], events: Iterable[EventBase]) -> dict[FeedKey, Heard]:
    """``heard`` with the events' feeds heard at their recorded times (changed in place)."""
    for event in events:
        key = (event.source.organisation, event.source.system)
        at = Heard(event.recorded_at, event.recorded_at)
        before = heard.get(key)
        heard[key] = at if before is None else before.also(at)
    return heard


@dataclass(frozen=True, slots=True)
class FeedStatus:
    feed: Feed
    last_heard: datetime | None
    silent: bool

    def view(self) -> JSON:
        """The feed as boards are sent it: no patient data, and words that stay the same
        while its state does (when it was last heard is given only once it is silent)."""
        return {
            "organisation": self.feed.organisation,
            "system": self.feed.system,
            "name": self.feed.name,
            "silent_after_minutes": self.feed.silent_after_minutes,
            "silent": self.silent,
            "heard_at": self.last_heard.isoformat() if self.silent and self.last_heard else None,
        }


def judge(
    configuration: FeedConfiguration, heard: Mapping[FeedKey, Heard], now: datetime | None
) -> list[FeedStatus]:
    """The configured feeds as of ``now``, the clock on the log's latest tick (None: the
    clock has never ticked, so nothing can be judged silent).

    A feed is silent once more than its allowed silence has passed since it was last
    heard. One never heard counts from the first moment any feed was heard: the log's
    start, as far as this view knows it.
    """
    began = min((one.first for one in heard.values()), default=None)
    statuses = []
    for feed in configuration.feeds:
        last = heard[feed.key].last if feed.key in heard else None
        since = last or began
        silent = now is not None and since is not None and now - since > feed.silent_after
        statuses.append(FeedStatus(feed, last, silent))
    return statuses

"""Fixtures for unit tests: in-memory stand-ins for the adapters the API talks to."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from flowcentre.domain.events import EventBase
from flowcentre.publisher import EventPublisher, PublishFailed


class RecordingPublisher(EventPublisher):
    """Keeps what it is asked to publish, in order, as the log would."""

    def __init__(self) -> None:
        self.published: list[EventBase] = []
        self.closed = False

    def publish(self, events: Sequence[EventBase]) -> None:
        self.published.extend(events)

    def close(self) -> None:
        self.closed = True


class UnreachableLog(EventPublisher):
    """A log no broker acknowledges."""

    def publish(self, events: Sequence[EventBase]) -> None:
        raise PublishFailed("no broker acknowledged the event in time")

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()

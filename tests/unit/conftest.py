"""Fixtures for unit tests: in-memory stand-ins for the adapters the API talks to."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from flowcentre.domain.events import EventBase
from flowcentre.publisher import EventPublisher


class RecordingPublisher(EventPublisher):
    """Keeps what it is asked to publish, in order, as the log would."""

    def __init__(self) -> None:
        self.published: list[EventBase] = []
        self.closed = False

    def publish(self, events: Sequence[EventBase]) -> None:
        self.published.extend(events)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()

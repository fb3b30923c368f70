"""Publishing events to the log with kafka-python: the one way anything writes a change."""

from __future__ import annotations

import abc
import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from flowcentre.domain.events import EventBase, encode_event, message_key


class EventPublisher(abc.ABC):
    """The port the API, the simulator and the feeds publish through."""

    @abc.abstractmethod
    def publish(self, events: Sequence[EventBase]) -> None:
        """Send the events and return once the broker has acknowledged every one."""

    async def publish_async(self, events: Sequence[EventBase]) -> None:
        """The same, without blocking the event loop while the broker acknowledges."""
        await asyncio.to_thread(self.publish, events)

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


class PublishFailed(RuntimeError):
    """The log did not acknowledge the events, so nothing has changed."""


class KafkaPublisher(EventPublisher):
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        timeout_s: float = 30.0,
        key: Callable[[EventBase], bytes] = message_key,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """``options`` are kafka-python's security settings (``Settings.kafka_client_options``)."""
        self._bootstrap = bootstrap
        self._options = dict(options or {})
        self._topic = topic
        self._timeout_s = timeout_s
        self._key = key
        self._producer: Any = None
        self._connecting = threading.Lock()

    def _connected(self) -> Any:
        # Connecting on first use lets a process start, and report the broker down on its
        # health check, while the broker is unreachable.
        with self._connecting:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    linger_ms=2,
                    # Keeps a spell's events in order even when a send is retried.
                    max_in_flight_requests_per_connection=1,
                    retries=5,
                    **self._options,
                )
            return self._producer

    def publish(self, events: Sequence[EventBase]) -> None:
        self.send([Record(self._key(event), encode_event(event)) for event in events])

    def send(self, records: Sequence[Record]) -> None:
        """Send records as they are, and return once the broker has acknowledged each."""
        try:
            producer = self._connected()
            futures = [
                producer.send(
                    self._topic, key=record.key, value=record.value, headers=list(record.headers)
                )
                for record in records
            ]
            producer.flush(timeout=self._timeout_s)
            for future in futures:
                future.get(timeout=self._timeout_s)
        except KafkaError as error:
            raise PublishFailed(f"the log did not take the records: {error}") from error

    def close(self) -> None:
        with self._connecting:
            if self._producer is not None:
                self._producer.close(timeout=self._timeout_s)
                self._producer = None

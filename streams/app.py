"""The Faust application, built from Settings so the worker and the tests build it alike."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

import aiokafka
import faust
from faust.transport.drivers import aiokafka as kafka_driver
from faust.types import AppT
from faust.types.transports import ConsumerT

from flowcentre.config import Settings

if TYPE_CHECKING:
    from yarl import URL

DEFAULT_APP_ID = "flowcentre-streams"


class FetchWaitConsumerThread(kafka_driver.AIOKafkaConsumerThread):
    """The worker consumer thread, with the fetch wait taken from the transport."""

    def _create_worker_consumer(
        self, transport: kafka_driver.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        if isinstance(transport, FetchWaitTransport):
            # Faust passes fetch_max_wait_ms=1500 and offers no setting for it. A broker
            # that holds an empty fetch for part of that wait (Tansu does) delays every
            # event by hundreds of milliseconds. aiokafka hands the value to its fetcher
            # in start(), which has not run yet, so lowering it here takes effect.
            consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


class FetchWaitConsumer(kafka_driver.Consumer):
    """The aiokafka driver consumer, running a FetchWaitConsumerThread."""

    def _new_consumer_thread(self) -> kafka_driver.AIOKafkaConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchWaitTransport(kafka_driver.Transport):
    """The aiokafka transport whose worker consumer waits at most ``fetch_max_wait_ms``."""

    Consumer: ClassVar[type[ConsumerT]] = FetchWaitConsumer

    def __init__(
        self,
        url: list[URL],
        app: AppT,
        *,
        fetch_max_wait_ms: int,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(url, app, loop=loop)
        self.fetch_max_wait_ms = fetch_max_wait_ms


def broker_urls(bootstrap: str) -> list[str]:
    """Faust broker URLs for a Kafka bootstrap list such as ``host1:9092,host2:9092``."""
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


def _credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The worker's Kafka credentials, as the other clients get them from the settings."""
    context = settings.kafka_ssl_context()
    password = settings.kafka_sasl_password
    if settings.kafka_security_protocol.startswith("SASL") and password:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None


def create_app(settings: Settings, *, app_id: str = DEFAULT_APP_ID) -> faust.App:
    """A Faust app for ``settings``; ``app_id`` is also the Kafka consumer group."""
    if settings.kafka_bootstrap is None:
        raise ValueError("the stream processors need kafka_bootstrap set")
    app = faust.App(
        app_id,
        broker=broker_urls(settings.kafka_bootstrap),
        store="memory://",
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        # A new group (a fresh deployment, a test) must read the log from its start.
        consumer_auto_offset_reset="earliest",
        datadir=str(settings.worker_data_dir),
        # Several workers, and the tests, share a machine; none of them serves HTTP.
        web_enabled=False,
        # No agent runs only on a leader, so the leader election topic would be unused.
        topic_disable_leader=True,
        autodiscover=False,
        broker_credentials=_credentials(settings),
    )
    # Faust picks the transport class from the broker URL scheme; the app's transport
    # setter is its supported way to supply an instance of our own instead.
    app.transport = FetchWaitTransport(
        app.conf.broker_consumer,
        app,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )
    return app

"""The embedded broker and Redis server are real servers that clients can use."""

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaAdminClient, KafkaProducer
from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.runtime import (
    EmbeddedBroker,
    EmbeddedProcessError,
    EmbeddedRedis,
    ensure_topics,
)


async def test_broker_round_trips_a_message(broker: str, settings: Settings) -> None:
    ensure_topics(broker, settings)
    producer = KafkaProducer(bootstrap_servers=broker)
    try:
        sent = producer.send(
            settings.events_topic,
            key=b"bed-7",
            value=b'{"type": "bed.cleaned"}',
            headers=[("schema", b"v1")],
        ).get(timeout=10)
    finally:
        producer.close()

    consumer = AIOKafkaConsumer(bootstrap_servers=broker, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(settings.events_topic, sent.partition)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"bed-7", b'{"type": "bed.cleaned"}')
    assert list(record.headers) == [("schema", b"v1")]
    assert record.offset == sent.offset


async def test_embedded_redis_answers(redis_client: Redis) -> None:
    assert await redis_client.ping()
    await redis_client.set("fc:probe", "1")
    assert await redis_client.get("fc:probe") == b"1"
    # The store applies each event with a server-side script, which needs Lua.
    assert await redis_client.eval("return redis.call('INCR', KEYS[1])", 1, "fc:probe") == 2


async def test_redis_client_starts_from_an_empty_database(redis_client: Redis) -> None:
    assert await redis_client.dbsize() == 0


def test_ensure_topics_is_idempotent(broker: str, settings: Settings) -> None:
    # The access log is read whole and in order by every API process: one partition.
    wanted = {
        settings.events_topic: settings.topic_partitions,
        settings.dead_letter_topic: settings.topic_partitions,
        settings.access_topic: 1,
        settings.audit_topic: settings.topic_partitions,
        settings.hl7_topic: settings.topic_partitions,
    }

    assert set(ensure_topics(broker, settings)) == set(wanted)
    assert ensure_topics(broker, settings) == []

    admin = KafkaAdminClient(bootstrap_servers=broker)
    try:
        described = admin.describe_topics(sorted(wanted))
    finally:
        admin.close()
    assert {topic["name"]: len(topic["partitions"]) for topic in described} == wanted


def test_ensure_topics_creates_only_what_is_missing(broker: str, settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker)
    try:
        admin.create_topics(
            {settings.events_topic: {"num_partitions": 1, "replication_factor": 1}},
            wait_for_metadata=True,
        )
    finally:
        admin.close()

    assert sorted(ensure_topics(broker, settings)) == sorted(
        [
            settings.dead_letter_topic,
            settings.access_topic,
            settings.audit_topic,
            settings.hl7_topic,
        ]
    )


def test_concurrent_ensure_topics_create_each_topic_once(broker: str, settings: Settings) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: ensure_topics(broker, settings), range(4)))

    created = [topic for result in results for topic in result]
    assert sorted(created) == sorted(
        [
            settings.events_topic,
            settings.dead_letter_topic,
            settings.access_topic,
            settings.audit_topic,
            settings.hl7_topic,
        ]
    )


@pytest.mark.parametrize("server_type", [EmbeddedBroker, EmbeddedRedis])
def test_stop_closes_the_port_and_can_be_repeated(
    server_type: type[EmbeddedBroker | EmbeddedRedis],
) -> None:
    server = server_type()
    with server:
        assert server.is_running()
        log_dir = server.log_path.parent
    assert not server.is_running()
    assert not log_dir.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.stop()


@pytest.mark.parametrize("server_type", [EmbeddedBroker, EmbeddedRedis])
def test_a_taken_port_is_reported(server_type: type[EmbeddedBroker | EmbeddedRedis]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(EmbeddedProcessError, match="already in use"):
            server_type(taken).start()


class _MisconfiguredRedis(EmbeddedRedis):
    def _command(self, work_dir: Path) -> list[str]:
        # An option Valkey does not know makes it exit at once, saying why in its log.
        return [*super()._command(work_dir), "--no-such-option", "1"]


def test_a_failed_start_quotes_the_log(tmp_path: Path) -> None:
    redis = _MisconfiguredRedis(log_dir=tmp_path)

    with pytest.raises(EmbeddedProcessError, match=r"(?s)exited with status 1.*no-such-option"):
        redis.start()
    assert not redis.is_running()
    assert (tmp_path / "valkey.log").exists()

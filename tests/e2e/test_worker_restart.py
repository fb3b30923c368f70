"""A worker killed mid-stream loses nothing and applies nothing twice; a rebuild matches."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.domain.events import EventBase
from flowcentre.domain.feeds import hear
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from flowcentre.store.keyspace import Keyspace
from flowcentre.store.reads import LiveReads
from flowcentre.store.view import replace_view
from producers.county import County
from producers.simulator import simulate
from tests.builders import fold
from tests.e2e.conftest import Processes
from tests.view_dump import dump_view

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def county_history(days: float) -> list[EventBase]:
    return list(simulate(County.load(), START, seed=11, until=START + timedelta(days=days)))


async def applied_count(redis: Redis, settings: Settings) -> int:
    tracked = await redis.hgetall(Keyspace(settings.redis_prefix).tracking(settings.events_topic))
    return sum(int(offset) + 1 for offset in tracked.values())


async def wait_for_applied(redis: Redis, settings: Settings, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await applied_count(redis, settings) < count:
        assert time.monotonic() < deadline, f"only {await applied_count(redis, settings)} applied"
        await asyncio.sleep(0.2)


async def test_killed_worker_is_replaced_without_loss_or_repeat(
    settings: Settings, redis_client: Redis, processes: Processes
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    history = county_history(days=2)
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.events_topic)

    def publish_steadily() -> None:
        for start in range(0, len(history), 200):
            publisher.publish(history[start : start + 200])
            time.sleep(0.05)

    first = processes.start("worker")
    sender = threading.Thread(target=publish_steadily)
    sender.start()
    await wait_for_applied(redis_client, settings, len(history) // 3, timeout_s=90)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = await applied_count(redis_client, settings)
    processes.start("worker")
    sender.join()
    publisher.close()
    await wait_for_applied(redis_client, settings, len(history), timeout_s=120)
    assert killed_at < len(history), "the worker was killed after the stream had ended"

    # Nothing lost: the view equals the whole history folded by the core in memory.
    expected = fold(history)
    heard = hear({}, history)
    await replace_view(
        redis_client, Keyspace("expected"), settings.events_topic, expected, {}, heard
    )
    live = await dump_view(redis_client, settings.redis_prefix)
    wanted = await dump_view(redis_client, "expected")
    live.pop(f"tracking:{settings.events_topic}")
    assert live == wanted

    # Nothing twice: each event's deltas were published once, across the restart.
    entries = await LiveReads(redis_client, prefix=settings.redis_prefix).deltas_after(
        "0-0", count=len(history) * 2
    )
    repeats = Counter(entry["event_id"] for _, entry in entries if "event_id" in entry)
    assert max(repeats.values()) == 1

    # And the rebuild command reproduces the live view exactly.
    before = await dump_view(redis_client, settings.redis_prefix)
    rebuilt = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flowcentre",
        "rebuild",
        env=processes.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(rebuilt.communicate(), timeout=120)
    assert rebuilt.returncode == 0, err.decode()
    assert f"from {len(history)} events" in out.decode()
    assert await dump_view(redis_client, settings.redis_prefix) == before

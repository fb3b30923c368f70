"""Measurement 1, throughput: the real worker's sustained rate against the raw ceiling.

The pipeline figure is a ``flowcentre worker`` process draining a topic filled in advance,
timed from its first applied event to its last through the tracking hash, which the
worker writes in the same transaction as the records; start-up and the group join are
left out. Its Redis writes per event are counted by the server itself (``INFO
commandstats``, commands flagged ``write``), not assumed.

The ceiling is what the same broker and Redis allow with no domain at all: a bare
consumer, manually assigned, taking batches of the worker's size and doing per event as
many pipelined writes as the pipeline did. The ratio is the share of that reach the
worker keeps after its own work: decoding, the core, Faust, and the reads before writes.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from flowcentre.bench.harness import (
    POLL_S,
    Bench,
    BenchError,
    Figures,
    History,
    applied,
    cpu_seconds,
    publish,
)
from flowcentre.config import Settings
from flowcentre.store.keyspace import Keyspace

if TYPE_CHECKING:
    from faust.types import StreamT

#: Time for the worker to start, join the group and apply its first batch, and the longest
#: either consumer may then go without progress before the measurement is abandoned.
STALL_TIMEOUT_S = 60.0


async def command_calls(redis: Redis) -> Counter[str]:
    """Calls so far of each command the server has run, by name.

    Subcommands (``client|setinfo``, ``config|get``) belong to administrative containers,
    none of which touches data, so they are left out.
    """
    stats: dict[str, dict[str, Any]] = await redis.info("commandstats")
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(figures["calls"])
            for name, figures in stats.items()
            if "|" not in name
        }
    )


async def writes_among(redis: Redis, calls: Counter[str]) -> Counter[str]:
    """The calls of commands the server flags as writes (SET, SADD, XADD, HSET, UNLINK...)."""
    if not calls:
        return Counter()
    # redis-py sends COMMAND INFO only through execute_command, which it leaves unannotated.
    reply = await redis.execute_command("COMMAND", "INFO", *calls)  # type: ignore[no-untyped-call]
    described = cast(dict[str, dict[str, Any] | None], reply)
    return Counter(
        {
            name: count
            for name, count in calls.items()
            if (info := described.get(name)) is not None and "write" in info["flags"]
        }
    )


@dataclass(frozen=True, slots=True)
class Drain:
    """How fast a consumer got through the topic, and the CPU it spent doing it."""

    events_per_s: float
    cpu_us_per_event: float
    """CPU time of the consumer's process per event, over the same interval. Unlike the
    rate, it does not change when something else on the machine takes the cores."""


def _drain(began: tuple[float, float, int], count: int, cpu_now: float) -> Drain:
    at, cpu, already = began
    # A run drained within one poll has no measurable interval; one poll is its bound.
    events = max(count - already, 1)
    return Drain(
        events_per_s=events / max(time.monotonic() - at, POLL_S),
        cpu_us_per_event=(cpu_now - cpu) / events * 1e6,
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drain_progress(
    redis: Redis,
    space: Settings,
    count: int,
    cpu: Callable[[], float],
    check: Callable[[], None],
    who: str,
) -> Drain:
    """A consumer recording positions in ``space``'s tracking hash, from its first applied
    event to its last, sampled every POLL_S; ``check`` raises if the consumer has died."""
    first: tuple[float, float, int] | None = None
    progress_at = time.monotonic()
    done = 0
    while done < count:
        await asyncio.sleep(POLL_S)
        now = time.monotonic()
        seen = await applied(redis, space)
        if seen > done:
            done, progress_at = seen, now
            if first is None:
                first = (now, cpu(), seen)
        elif now - progress_at > STALL_TIMEOUT_S:
            check()
            raise BenchError(f"the {who} applied {done} of {count} events, then stopped")
        else:
            check()
    if first is None:
        raise BenchError("there were no events to measure")
    return _drain(first, count, cpu())


async def faust_ceiling(bench: Bench, space: Settings, count: int) -> Drain:
    """Events a second Faust itself reaches on this topic, with nothing of ours to do.

    The worker's app, transport settings and batching, in a consumer group of its own; its
    agent acks each event and records the batch's positions, and decodes and applies
    nothing. Run in this process, whose own work meanwhile is the progress polls.
    """
    # Imported here because they bring in Faust, which the rest of the bench does not need.
    from streams.agents import event_batches
    from streams.app import create_app
    from streams.topics import declare_topics
    from streams.worker import running_app

    ceiling = space.model_copy(update={"redis_prefix": f"{space.redis_prefix}-faust"})
    app = create_app(ceiling, app_id=ceiling.redis_prefix)
    redis = bench.redis()
    tracking = Keyspace(ceiling.redis_prefix).tracking(ceiling.events_topic)

    async def record_positions(stream: StreamT[bytes]) -> None:
        async for events in event_batches(stream):
            reached: dict[FieldT, EncodableT] = {
                event.message.partition: event.message.offset for event in events
            }
            await redis.hset(tracking, mapping=reached)
            for event in events:
                await stream.ack(event)

    app.agent(declare_topics(app, ceiling).events, name="bench.positions")(record_positions)
    try:
        async with running_app(app) as worker:

            def check() -> None:
                if worker.crash_reason is not None:
                    raise BenchError(f"the Faust-only worker crashed: {worker.crash_reason!r}")

            return await _drain_progress(
                redis, ceiling, count, _own_cpu, check, "Faust-only worker"
            )
    finally:
        await redis.aclose()


async def raw_ceiling(
    bench: Bench,
    topic: str,
    count: int,
    writes_per_event: float,
    prefix: str,
    batch: int,
) -> Drain:
    """Events a second a bare consumer reaches doing ``writes_per_event`` writes per event.

    Timed like the pipeline: from the first batch written to the last. The writes are SETs
    of the event's bytes under a key per message key and write, so they land on as many
    distinct keys as the records do; fractional counts are spread so the total matches.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bench.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    redis = bench.redis()
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        owed = 0.0
        done = 0
        first: tuple[float, float, int] | None = None
        progress_at = time.monotonic()
        while done < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=batch)
            taken = 0
            pipe = redis.pipeline(transaction=False)
            for messages in batches.values():
                for message in messages:
                    owed += writes_per_event
                    writes = int(owed)
                    owed -= writes
                    base = f"{prefix}:{message.key.decode()}"
                    for index in range(writes):
                        pipe.set(f"{base}:{index}", message.value)
                    taken += 1
            if not taken:
                if time.monotonic() - progress_at > STALL_TIMEOUT_S:
                    raise BenchError(f"the raw consumer took {done} of {count} events, then none")
                continue
            await pipe.execute()
            done += taken
            progress_at = time.monotonic()
            if first is None:
                first = (progress_at, _own_cpu(), done)
        if first is None:
            raise BenchError("there were no events to measure")
        return _drain(first, count, _own_cpu())
    finally:
        await consumer.stop()
        await redis.aclose()


async def measure_throughput(bench: Bench, history: History, events: int) -> Figures:
    # The worker's batch cap, so both consumers write in batches of the same size; imported
    # here because it brings in Faust, which nothing else in this process needs.
    from streams.agents import BATCH_MAX_EVENTS

    space = bench.namespace("throughput")
    records = history.records[:events]
    await publish(bench.bootstrap, space.events_topic, records)
    redis = bench.redis()
    try:
        before = await command_calls(redis)
        started = time.monotonic()
        worker = bench.start_flowcentre("worker", space)
        pipeline = await _drain_progress(
            redis, space, len(records), lambda: cpu_seconds(worker.pid), worker.check, "worker"
        )
        finished = time.monotonic()
        calls = await command_calls(redis) - before
        writes = await writes_among(redis, calls)
        # Stopped before the ceiling is measured: even idle, it polls the broker.
        bench.stop(worker)
    finally:
        await redis.aclose()
    writes_per_event = writes.total() / len(records)
    faust = await faust_ceiling(bench, space, len(records))
    raw = await raw_ceiling(
        bench,
        space.events_topic,
        len(records),
        writes_per_event,
        f"{space.redis_prefix}:raw",
        BATCH_MAX_EVENTS,
    )
    return {
        "throughput_events": len(records),
        "pipeline_events_per_s": pipeline.events_per_s,
        "pipeline_writes_per_event": writes_per_event,
        "pipeline_writes_by_command": dict(writes.most_common()),
        # Each applied batch is one MULTI/EXEC, so this is the worker's mean batch size.
        "pipeline_events_per_transaction": len(records) / max(calls["exec"], 1),
        "pipeline_start_to_done_s": finished - started,
        "raw_events_per_s": raw.events_per_s,
        "throughput_ratio": pipeline.events_per_s / raw.events_per_s,
        "faust_events_per_s": faust.events_per_s,
        "faust_ratio": faust.events_per_s / raw.events_per_s,
        "faust_cpu_us_per_event": faust.cpu_us_per_event,
        "pipeline_cpu_us_per_event": pipeline.cpu_us_per_event,
        "raw_cpu_us_per_event": raw.cpu_us_per_event,
    }

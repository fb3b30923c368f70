"""Wiring: the one place real adapters are built from settings."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from flowcentre.access_log import AccessLog
from flowcentre.config import Settings
from flowcentre.domain.access_events import access_key
from flowcentre.domain.audit import audit_key
from flowcentre.domain.events import EventBase, message_key
from flowcentre.publisher import KafkaPublisher
from flowcentre.store.audit_index import RedisAuditIndex
from flowcentre.store.rate_limits import SignInAttempts, WriteLimit, moving_window
from flowcentre.store.reads import LiveReads
from flowcentre.store.sessions import Sessions
from flowcentre.store.view import RedisView


class NotConfigured(RuntimeError):
    """A process that needs an external server was started without its address."""


def kafka_bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise NotConfigured(
            "FLOWCENTRE_KAFKA_BOOTSTRAP is not set (or use `flowcentre up` to start one)"
        )
    return settings.kafka_bootstrap


def redis_url(settings: Settings) -> str:
    if not settings.redis_url:
        raise NotConfigured("FLOWCENTRE_REDIS_URL is not set (or use `flowcentre up` to start one)")
    return settings.redis_url


def redis_client(settings: Settings) -> Redis:
    client: Redis = Redis.from_url(redis_url(settings))
    return client


def live_view(settings: Settings, redis: Redis) -> RedisView:
    return RedisView(redis, prefix=settings.redis_prefix, deltas_maxlen=settings.deltas_maxlen)


def live_reads(settings: Settings, redis: Redis) -> LiveReads:
    return LiveReads(redis, prefix=settings.redis_prefix)


def _publisher(
    settings: Settings, topic: str, key: Callable[[EventBase], bytes] = message_key
) -> KafkaPublisher:
    options = settings.kafka_client_options()
    return KafkaPublisher(kafka_bootstrap(settings), topic, key=key, options=options)


def raw_publisher(settings: Settings, topic: str) -> KafkaPublisher:
    """A publisher of records as they are, to ``topic``."""
    return _publisher(settings, topic)


def publisher(settings: Settings) -> KafkaPublisher:
    return _publisher(settings, settings.events_topic)


def access_publisher(settings: Settings) -> KafkaPublisher:
    return _publisher(settings, settings.access_topic, access_key)


def audit_publisher(settings: Settings) -> KafkaPublisher:
    return _publisher(settings, settings.audit_topic, audit_key)


def audit_index(settings: Settings, redis: Redis) -> RedisAuditIndex:
    return RedisAuditIndex(redis, settings.redis_prefix, settings.audit_index_days)


def access_log(settings: Settings) -> AccessLog:
    return AccessLog(
        kafka_bootstrap(settings), settings.access_topic, settings.kafka_client_options()
    )


def sessions(settings: Settings, redis: Redis) -> Sessions:
    return Sessions(redis, settings.redis_prefix, settings.session_idle_s)


def sign_in_attempts(settings: Settings, redis: Redis) -> SignInAttempts:
    return SignInAttempts(
        moving_window(redis, redis_url(settings), settings.redis_prefix),
        per_username=settings.sign_in_limit_per_username,
        per_address=settings.sign_in_limit_per_address,
    )


def write_limit(settings: Settings, redis: Redis) -> WriteLimit:
    return WriteLimit(
        moving_window(redis, redis_url(settings), settings.redis_prefix),
        settings.write_limit_per_account,
    )

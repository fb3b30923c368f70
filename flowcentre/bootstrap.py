"""Wiring: the one place real adapters are built from settings."""

from __future__ import annotations

from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.publisher import KafkaPublisher
from flowcentre.store.reads import LiveReads
from flowcentre.store.view import RedisView


class NotConfigured(RuntimeError):
    """A process that needs an external server was started without its address."""


def kafka_bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise NotConfigured(
            "FLOWCENTRE_KAFKA_BOOTSTRAP is not set (or use `flowcentre up` to start one)"
        )
    return settings.kafka_bootstrap


def redis_client(settings: Settings) -> Redis:
    if not settings.redis_url:
        raise NotConfigured("FLOWCENTRE_REDIS_URL is not set (or use `flowcentre up` to start one)")
    client: Redis = Redis.from_url(settings.redis_url)
    return client


def live_view(settings: Settings, redis: Redis) -> RedisView:
    return RedisView(redis, prefix=settings.redis_prefix, deltas_maxlen=settings.deltas_maxlen)


def live_reads(settings: Settings, redis: Redis) -> LiveReads:
    return LiveReads(redis, prefix=settings.redis_prefix)


def publisher(settings: Settings) -> KafkaPublisher:
    return KafkaPublisher(kafka_bootstrap(settings), settings.events_topic)

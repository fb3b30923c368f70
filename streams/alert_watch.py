"""The alert watch process: the view's board deltas fed to the alert watch, the clock
ticked on the log, what the watch decides published as events, and the managers' trends
sampled each quarter hour of the clock.

It starts from the view, so a restart or a rebuild of the view costs nothing but a
reload; what it publishes is named by its cause, so publishing again after a crash
changes nothing. Run exactly one per deployment: two would judge at different moments
and raise alerts of their own names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from flowcentre import bootstrap
from flowcentre.config import Settings
from flowcentre.domain.alert_history import AlertRecord
from flowcentre.domain.alert_rules import AlertConfiguration, AlertRule, load_alerts
from flowcentre.domain.alert_views import Told, notices
from flowcentre.domain.alert_views import told as told_of
from flowcentre.domain.alert_watch import KEPT_PAST, AlertWatch, resumed
from flowcentre.domain.apply import State
from flowcentre.domain.events import AlertRuleSaved, ClockTicked, EventBase, Source
from flowcentre.domain.measures import Picture
from flowcentre.domain.opel import OpelConfiguration, load_opel
from flowcentre.domain.opel_watch import OpelWatch
from flowcentre.domain.trends import TrendSampler
from flowcentre.domain.watched import WATCH
from flowcentre.heap import freeze_start_up_objects
from flowcentre.publisher import EventPublisher, PublishFailed
from flowcentre.store.trends import Trends
from flowcentre.store.watch_feed import Place, WatchFeed
from flowcentre.webhooks import WebhookOutbox, WebhookSender

log = logging.getLogger(__name__)

#: How long a read of the deltas waits for one before the loop looks at its stop.
WAIT_MS = 1000
#: How long after a run of changes the next read waits, to gather what follows.
GATHER_S = 0.5


def run_alert_watch(settings: Settings) -> None:
    """Watch until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await watch_alerts(settings, stop)

    freeze_start_up_objects()
    asyncio.run(main())


async def watch_alerts(settings: Settings, stop: asyncio.Event) -> None:
    configuration = load_alerts(settings.alerts)
    opel = load_opel(settings.opel)
    secret = settings.webhook_secret
    if configuration.webhooks and secret is None:
        raise bootstrap.NotConfigured(
            f"{settings.alerts} names webhooks: set FLOWCENTRE_WEBHOOK_SECRET to sign them"
        )
    publisher = bootstrap.publisher(settings)
    redis = bootstrap.redis_client(settings)
    feed = WatchFeed(redis, prefix=settings.redis_prefix)
    outbox = WebhookOutbox(redis, prefix=settings.redis_prefix)
    trends = Trends(redis, prefix=settings.redis_prefix)
    running = []
    if settings.clock_tick_s:
        running.append(asyncio.create_task(_tick(settings, publisher, stop)))
    if configuration.webhooks and secret is not None:
        sender = WebhookSender(outbox, configuration.webhooks, secret.get_secret_value().encode())
        running.append(asyncio.create_task(sender.run(stop)))
    for task in running:
        # A ticker or sender that dies stops the process, for its supervisor to restart,
        # rather than leaving alerts without a clock or webhooks without deliveries.
        task.add_done_callback(lambda _: stop.set())
    try:
        while not stop.is_set():
            try:
                await _watch_until_rebuilt(
                    settings, configuration, opel, feed, outbox, trends, publisher, stop
                )
            except RedisConnectionError:
                # `flowcentre up` stops its servers with the watch: no fault then.
                if not stop.is_set():
                    raise
    finally:
        stop.set()
        await asyncio.gather(*running)
        await redis.aclose()
        publisher.close()


async def _watch_until_rebuilt(
    settings: Settings,
    configuration: AlertConfiguration,
    opel: OpelConfiguration,
    feed: WatchFeed,
    outbox: WebhookOutbox,
    trends: Trends,
    publisher: EventPublisher,
    stop: asyncio.Event,
) -> None:
    cursor, state = await feed.start(settings.clock, KEPT_PAST)
    watch = AlertWatch(
        configuration,
        Picture(settings.zone),
        settings.clock,
        settings.organisation_id,
        opel=OpelWatch(opel),
    )
    place = await feed.place()
    if place is None:
        # The first run tells outside systems nothing of alerts from before it.
        place = Place(told={alert_id: told_of(alert) for alert_id, alert in state.alerts.items()})
    watch.watches = resumed(place.watches, state.alerts.values())
    await _publish(publisher, default_rules(settings, configuration, state))
    await _publish(publisher, watch.take(state))
    sampler = TrendSampler()
    await trends.keep(sampler.take(watch.picture, watch.now))
    # Alerts told of before and resolved since are not among the open ones; once told,
    # they are forgotten.
    resolved = await feed.alerts(set(place.told) - set(state.alerts))
    await _tell(outbox, place.told, [*state.alerts.values(), *resolved.values()])
    for alert_id in resolved:
        place.told.pop(alert_id, None)
    log.info("Watching %d alert rules from delta %s", len(watch.rules), cursor)
    while not stop.is_set():
        cursor, changes = await feed.changes_after(cursor, settings.clock, block_ms=WAIT_MS)
        if changes is None:
            log.info("The view was rebuilt: starting again from it")
            return
        for change in changes:
            await _publish(publisher, watch.take(change))
            await trends.keep(sampler.take(watch.picture, watch.now))
            await _tell(outbox, place.told, change.alerts.values())
        place.watches = watch.watches
        await feed.keep_place(place)
        if changes and feed.caught_up:
            # What comes in the meantime is read in one run: judged delta by delta,
            # rules would cost a core under a busy feed, and alerts need no second.
            # Behind, it reads on at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), GATHER_S)


async def _tell(
    outbox: WebhookOutbox, told: dict[str, Told], alerts: Iterable[AlertRecord]
) -> None:
    """Queues a notice of each change of an alert for the webhooks of its rule."""
    for alert in alerts:
        before = told.get(alert.alert_id)
        # What comes after a resolution (a later copy of it) tells nothing new.
        if alert.details is None or (before is not None and before[0] == "resolved"):
            continue
        for notice in notices(before, alert):
            for endpoint in alert.details.rule.webhooks:
                await outbox.add(endpoint, notice)
        told[alert.alert_id] = told_of(alert)


async def _publish(publisher: EventPublisher, events: list[EventBase]) -> None:
    if events:
        await publisher.publish_async(events)


def default_rules(
    settings: Settings, configuration: AlertConfiguration, state: State
) -> list[EventBase]:
    """The configuration's rules that the log has never had, as their first versions.

    Each is named by its content, so two watches starting at once save it once; a rule a
    manager deleted stays deleted."""
    now = datetime.now(UTC)
    return [
        AlertRuleSaved(
            event_id=f"default-rule/{rule.id}/{_digest(rule)}",
            occurred_at=now,
            recorded_at=now,
            source=_source(settings),
            caused_by=WATCH,
            payload=rule,
        )
        for rule in configuration.rules
        if rule.id not in state.rules
    ]


def _digest(rule: AlertRule) -> str:
    return hashlib.sha256(rule.model_dump_json().encode()).hexdigest()[:12]


def _source(settings: Settings) -> Source:
    return Source(system=WATCH.id, organisation=settings.organisation_id)


async def _tick(settings: Settings, publisher: EventPublisher, stop: asyncio.Event) -> None:
    """Ticks the clock on the log until stopped. A tick that cannot be published is
    logged and the next one tried: the watch keeps the time it has."""
    while not stop.is_set():
        now = datetime.now(UTC)
        tick: dict[str, Any] = {
            "event_id": f"tick/{settings.clock}/{now:%Y%m%dT%H%M%S.%fZ}",
            "occurred_at": now,
            "recorded_at": now,
            "source": _source(settings),
            "caused_by": WATCH,
            "payload": {"clock": settings.clock},
        }
        try:
            await _publish(publisher, [ClockTicked.model_validate(tick)])
        except PublishFailed:
            log.warning("could not tick the clock", exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), settings.clock_tick_s)
        except TimeoutError:
            continue

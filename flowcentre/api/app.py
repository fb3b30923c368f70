"""The FastAPI application: read API, ward staff's writes, whiteboard socket and pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from flowcentre import __version__, bootstrap
from flowcentre.api import whiteboard
from flowcentre.api.audited import BoardAudit
from flowcentre.api.deps import Access, Planning, Services
from flowcentre.api.routes import (
    alert_rules,
    alerts,
    audit,
    beds,
    capacity,
    discharge_changes,
    discharge_reads,
    events,
    fhir,
    health,
    opel,
    patients,
    session,
    sites,
    sso,
    system,
    trends,
    wards,
)
from flowcentre.api.security import CrossSiteRefusal, SecurityHeaders
from flowcentre.api.whiteboard import HubOptions, WhiteboardHub, feed_statuses
from flowcentre.config import Settings
from flowcentre.domain.access import load_policy
from flowcentre.domain.alert_rules import load_alerts
from flowcentre.domain.feeds import load_feeds
from flowcentre.domain.opel import load_opel
from flowcentre.heap import freeze_start_up_objects
from flowcentre.passwords import Passwords
from flowcentre.publisher import EventPublisher, PublishFailed
from flowcentre.sso import SingleSignOn
from flowcentre.store.pending_sign_ins import PendingSignIns
from flowcentre.webhooks import WebhookOutbox

log = logging.getLogger(__name__)

ROUTERS = tuple(
    module.router
    for module in (
        health,
        session,
        sso,
        system,
        sites,
        wards,
        beds,
        patients,
        events,
        alerts,
        alert_rules,
        opel,
        trends,
        audit,
        discharge_reads,
        discharge_changes,
        capacity,
        fhir,
        whiteboard,
    )
)

MAX_BODY_BYTES = 64 * 1024
WS_MAX_INCOMING_BYTES = 4096


DESCRIPTION = """\
Live beds, wards and sites of the county, read from the Redis view of the event log.

Sign in first (`POST /api/v1/session`), or, as a device or a system, send its token
(`Authorization: Bearer ...`): every read and write checks the account's roles and the
wards they cover, and answers 401 or 403 otherwise.

Writes are events: `POST /api/v1/beds/{bed_id}/status` publishes a `BedStatusChanged`
event, attributed to the signed-in account, and answers 202 once the log has it; the
view and every whiteboard follow.
Feeds publish events with `POST /api/v1/events` (integration accounts).
Whiteboards connect to `/ws/whiteboard` for a snapshot and then live deltas.
"""


async def _event_log_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("%s %s: publishing to the event log failed: %r", request.method, request.url, error)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": f"the event log did not take the event, so nothing changed: {error}"},
    )


def create_app(
    settings: Settings,
    *,
    redis: Redis | None = None,
    publisher: EventPublisher | None = None,
    hub_options: HubOptions | None = None,
) -> FastAPI:
    """The app; adapters not given are built from the settings when it starts, and closed
    when it stops (adapters given stay the caller's to close)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            client = redis
            if client is None:
                client = bootstrap.redis_client(settings)
                stack.push_async_callback(client.aclose)
            events = publisher
            if events is None:
                # Closing flushes kafka-python's buffer, which blocks: it runs off the loop.
                events = await asyncio.to_thread(bootstrap.publisher, settings)
                stack.push_async_callback(asyncio.to_thread, events.close)
            audit_trail = await asyncio.to_thread(bootstrap.audit_publisher, settings)
            stack.push_async_callback(asyncio.to_thread, audit_trail.close)
            log_writer = await asyncio.to_thread(bootstrap.access_publisher, settings)
            stack.push_async_callback(asyncio.to_thread, log_writer.close)
            access_log = bootstrap.access_log(settings)
            await access_log.start()
            stack.push_async_callback(access_log.stop)
            access = Access(
                policy=load_policy(settings.access_policy),
                log=access_log,
                sessions=bootstrap.sessions(settings, client),
                passwords=Passwords(),
                attempts=bootstrap.sign_in_attempts(settings, client),
                writes=bootstrap.write_limit(settings, client),
                log_writer=log_writer,
                sso=SingleSignOn.from_settings(settings),
                pending=PendingSignIns(client, settings.redis_prefix),
            )
            reads = bootstrap.live_reads(settings, client)
            board_audit = BoardAudit(reads, audit_trail)
            await board_audit.start()
            stack.push_async_callback(board_audit.stop)
            clock_every_s = settings.clock_tick_s or settings.clock_every_s
            hub = WhiteboardHub(
                reads,
                hub_options or HubOptions(clock_every_s=clock_every_s),
                feed_statuses(reads, load_feeds(settings.feeds), settings.clock),
            )
            await hub.start()
            stack.push_async_callback(hub.stop)
            app.state.services = Services(
                settings=settings,
                redis=client,
                reads=reads,
                publisher=events,
                access=access,
                audit=audit_trail,
                audit_index=bootstrap.audit_index(settings, client),
                board_audit=board_audit,
                planning=Planning.from_settings(settings),
                alerts=load_alerts(settings.alerts),
                opel=load_opel(settings.opel),
                webhooks=WebhookOutbox(client, prefix=settings.redis_prefix),
            )
            app.state.whiteboard = hub
            yield

    app = FastAPI(
        title="Flow Centre",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Every body the API takes (a sign-in, a bed status) is a few hundred bytes.
        max_body_size=MAX_BODY_BYTES,
    )
    app.add_exception_handler(PublishFailed, _event_log_unavailable)
    # The last added wraps the others: every answer, refusals included, carries the headers.
    app.add_middleware(CrossSiteRefusal)
    app.add_middleware(SecurityHeaders)
    for router in ROUTERS:
        app.include_router(router)
    # Mounted last: the routes above take precedence over files of the same path.
    if settings.ui_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.ui_dir, html=True), name="ui")
    else:
        log.warning("no whiteboard pages at %s; serving the API only", settings.ui_dir)
    return app


def run_api(settings: Settings) -> None:
    """Serve the API and whiteboards on the configured address until interrupted."""
    # Checked before the server starts, so the command fails with a one-line message
    # rather than a start-up traceback.
    bootstrap.kafka_bootstrap(settings)
    bootstrap.redis_url(settings)
    app = create_app(settings)
    freeze_start_up_objects()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        lifespan="on",
        # Compressing each delta once per board cost more CPU than everything else in the
        # fan-out (measured by `flowcentre bench`); deltas are small and boards sit on
        # local networks.
        ws_per_message_deflate=False,
        # Boards only listen: what they send is read and dropped.
        ws_max_size=WS_MAX_INCOMING_BYTES,
        ssl_certfile=settings.api_tls_certfile,
        ssl_keyfile=settings.api_tls_keyfile,
        proxy_headers=True,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
    )

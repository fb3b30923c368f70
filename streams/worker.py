"""The stream worker process: the Faust app, its agents and the Redis view, wired once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faust
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flowcentre import bootstrap
from flowcentre.config import Settings
from flowcentre.heap import freeze_start_up_objects
from flowcentre.runtime import ensure_topics
from flowcentre.store.audit_index import AuditIndex
from flowcentre.store.view import LiveView
from streams.agents import register_apply_agent, register_audit_agent
from streams.app import DEFAULT_APP_ID, create_app
from streams.topics import declare_topics

#: Errors that mean Redis cannot be reached, as opposed to an event it refused.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Worker(faust.Worker):
    """A faust.Worker that leaves signals to whoever owns the loop."""

    def install_signal_handlers(self) -> None:
        # mode's handlers run the stop in a task that nothing awaits, and take SIGUSR1 and
        # SIGUSR2 (a debugger prompt) as well; serve() handles the stop signals itself.
        return None


def run_worker(settings: Settings) -> None:
    """Apply the event log to the live view until SIGINT or SIGTERM.

    If the worker crashes its reason is raised, so that the caller exits non-zero and its
    supervisor restarts it from the last committed offsets.
    """
    ensure_topics(bootstrap.kafka_bootstrap(settings), settings)
    freeze_start_up_objects()
    asyncio.run(serve(settings))


async def serve(settings: Settings) -> None:
    """Run the worker on the running loop until SIGINT, SIGTERM or a crash."""
    loop = asyncio.get_running_loop()
    redis = bootstrap.redis_client(settings)
    view = bootstrap.live_view(settings, redis)
    audit = bootstrap.audit_index(settings, redis)

    async def run() -> None:
        async with running_worker(
            settings, view, audit=audit, unavailable=REDIS_UNAVAILABLE
        ) as worker:
            await worker.wait()
        if worker.crash_reason is not None:
            raise worker.crash_reason

    # A signal cancels the run wherever it is, joining the group included, and the
    # worker is then stopped cleanly on the way out of running_worker.
    running = asyncio.ensure_future(run())
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, running.cancel)
    try:
        await asyncio.wait([running])
        if not running.cancelled():
            running.result()
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await redis.aclose()


@asynccontextmanager
async def running_worker(
    settings: Settings,
    view: LiveView,
    *,
    audit: AuditIndex | None = None,
    app_id: str = DEFAULT_APP_ID,
    unavailable: tuple[type[Exception], ...] = (),
) -> AsyncIterator[faust.Worker]:
    """A started Faust worker applying the events topic to ``view`` and, given an
    ``audit`` index, indexing the audit trail in it; stopped on exit.

    Entering returns once the worker has joined the consumer group and taken its first
    partition assignment. ``unavailable`` are the stores' errors for "cannot be
    reached": the agents wait those out instead of dead-lettering.
    """
    app = create_app(settings, app_id=app_id)
    topics = declare_topics(app, settings)
    register_apply_agent(app, topics, view, unavailable=unavailable)
    if audit is not None:
        register_audit_agent(app, topics, audit, unavailable=unavailable)
    async with running_app(app) as worker:
        yield worker


@asynccontextmanager
async def running_app(app: faust.App) -> AsyncIterator[faust.Worker]:
    """A started Faust worker for ``app`` and the agents registered on it; stopped on exit."""
    # Logging and the process belong to the caller: no root logger setup, no stdout
    # redirection, no progress spinner.
    worker = _Worker(
        app,
        loop=asyncio.get_running_loop(),
        daemon=False,
        override_logging=False,
        redirect_stdouts=False,
        quiet=True,
    )
    worker.spinner = None
    try:
        await worker.start()
        yield worker
    finally:
        await worker.stop()

"""The ``flowcentre`` command: run the whole system, or any one part of it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import orjson

from flowcentre import bootstrap
from flowcentre.accounts_command import DemoAccount, demo_accounts
from flowcentre.accounts_command import add_parser as add_accounts_parser
from flowcentre.config import Settings
from flowcentre.domain.events import EVENT_TYPES, event_schema
from flowcentre.runtime import EmbeddedBroker, EmbeddedRedis, ensure_topics

SCHEMAS = Path(__file__).parent / "domain" / "schemas"


def _worker(settings: Settings, _: argparse.Namespace) -> int:
    from streams.worker import run_worker

    run_worker(settings)
    return 0


def _alert_watch(settings: Settings, _: argparse.Namespace) -> int:
    from streams.alert_watch import run_alert_watch

    run_alert_watch(settings)
    return 0


def _hl7_listen(settings: Settings, _: argparse.Namespace) -> int:
    from flowcentre.hl7.listener import run_hl7_listener

    run_hl7_listener(settings)
    return 0


def _api(settings: Settings, _: argparse.Namespace) -> int:
    from flowcentre.api.app import run_api

    run_api(settings)
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from producers.hl7_feed import Hl7Feed
    from producers.run import Scenario, run_simulator

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    feed = None
    if args.hl7:
        host, _, port = args.hl7.rpartition(":")
        feed = Hl7Feed(host or settings.hl7_host, int(port), bootstrap.publisher(settings))
    try:
        run_simulator(
            settings,
            speed=args.speed or settings.simulator_speed,
            seed=settings.simulator_seed if args.seed is None else args.seed,
            start=None,
            stop=stop,
            publisher=feed,
            scenario=Scenario(args.scenario),
        )
    finally:
        if feed is not None:
            feed.close()
    return 0


def _rebuild(settings: Settings, _: argparse.Namespace) -> int:
    from flowcentre.rebuild import rebuild

    async def run() -> None:
        redis = bootstrap.redis_client(settings)
        try:
            report = await rebuild(
                bootstrap.kafka_bootstrap(settings),
                redis,
                settings.events_topic,
                settings.redis_prefix,
                settings.kafka_client_options(),
            )
        finally:
            await redis.aclose()
        print(
            f"Rebuilt the view from {report.events} events "
            f"({report.rejected} rejected) in {report.seconds:.1f} s"
        )

    asyncio.run(run())
    return 0


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from flowcentre.bench.run import plan_from_args, run_bench

    return run_bench(settings, plan_from_args(args), args.json)


def write_schemas(folder: Path = SCHEMAS) -> list[Path]:
    """Write the event contract's JSON Schemas (any event, and one per type)."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = {"event-v1": event_schema()}
    documents.update({kind.__name__: kind.model_json_schema() for kind in EVENT_TYPES})
    written = []
    for name, document in documents.items():
        target = folder / f"{name}.schema.json"
        target.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        written.append(target)
    return written


def _schemas(_: Settings, __: argparse.Namespace) -> int:
    for path in write_schemas():
        print(path)
    return 0


def _up(settings: Settings, args: argparse.Namespace) -> int:
    """Everything in one go: embedded servers where none are configured, then the worker,
    the API, the alert watch and the simulator as separate processes, until Ctrl-C."""
    with ExitStack() as stack:
        env = dict(os.environ)
        if not settings.kafka_bootstrap:
            broker = stack.enter_context(EmbeddedBroker())
            env["FLOWCENTRE_KAFKA_BOOTSTRAP"] = broker.bootstrap
            print(f"Started the embedded broker at {broker.bootstrap} (in memory: demo use only)")
        if not settings.redis_url:
            redis = stack.enter_context(EmbeddedRedis())
            env["FLOWCENTRE_REDIS_URL"] = redis.url
            print(f"Started the embedded Redis at {redis.url}")
        settings = settings.model_copy(
            update={
                "kafka_bootstrap": env["FLOWCENTRE_KAFKA_BOOTSTRAP"],
                "redis_url": env["FLOWCENTRE_REDIS_URL"],
            }
        )
        ensure_topics(bootstrap.kafka_bootstrap(settings), settings)
        demo = _demo_accounts(settings)
        parts = [["worker"], ["api"], ["alert-watch"]]
        if args.hl7:
            # The county's traffic as HL7 over MLLP, through the listener, end to end.
            hl7_at = f"{settings.hl7_host}:{settings.hl7_port}"
            parts += [["hl7-listen"], ["simulate", "--scenario", args.scenario, "--hl7", hl7_at]]
        elif not args.no_simulator:
            parts.append(["simulate", "--scenario", args.scenario])
        if args.hl7 or not args.no_simulator:
            _simulated_clock_and_feeds(env, settings, hl7=args.hl7)
        children = [
            subprocess.Popen([sys.executable, "-m", "flowcentre", *part], env=env) for part in parts
        ]
        print(f"Whiteboard: http://{settings.api_host}:{settings.api_port}/  (Ctrl-C stops)")
        if demo:
            print("Demo accounts (new passwords and tokens every run):")
            for account in demo:
                print(f"  {account.username:14} {account.credential:48} {account.role}")
            print(
                "  People sign in with the password; a wall screen pairs with its token\n"
                "  (the sign-in page's 'Wall screen' form), a feed sends it as\n"
                "  'Authorization: Bearer <token>'."
            )
        # Set both explicitly: a shell starting this in the background ignores SIGINT.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        interrupted = False
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            print("A part stopped on its own; stopping the rest.", file=sys.stderr)
        except KeyboardInterrupt:
            interrupted = True
            print("Stopping...")
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
        return 0 if interrupted else 1


def _simulated_clock_and_feeds(env: dict[str, str], settings: Settings, *, hl7: bool) -> None:
    """The simulator ticks the clock in simulated time, so the watch must not as well; the
    API tells boards how often its ticks come in wall time, and judges the county's feeds,
    unless told otherwise."""
    from producers.county import COUNTY_FEEDS, COUNTY_FEEDS_HL7
    from producers.run import TICK

    env["FLOWCENTRE_CLOCK_TICK_S"] = "0"
    env.setdefault("FLOWCENTRE_CLOCK_EVERY_S", str(TICK.total_seconds() / settings.simulator_speed))
    env.setdefault("FLOWCENTRE_FEEDS", str(COUNTY_FEEDS_HL7 if hl7 else COUNTY_FEEDS))


def _demo_accounts(settings: Settings) -> list[DemoAccount]:
    from producers.county import County

    ward = County.load().wards[0]
    return demo_accounts(settings, ward.organisation_id, ward.ward_id)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _add_scenario(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--scenario",
        choices=["usual", "surge"],
        default="usual",
        help="surge: drive an acute site past its capacity alert thresholds and back "
        "(docs/alerts.md)",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="flowcentre",
        description="Event-driven patient flow control centre. Settings come from "
        "FLOWCENTRE_* environment variables (see README).",
    )
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run everything (embedded broker and Redis if unset)")
    up.add_argument("--no-simulator", action="store_true", help="do not start the simulator")
    up.add_argument(
        "--hl7",
        action="store_true",
        help="start the HL7 listener and send the simulator's traffic to it over MLLP",
    )
    _add_scenario(up)
    up.set_defaults(run=_up)
    commands.add_parser("worker", help="run a stream worker").set_defaults(run=_worker)
    commands.add_parser(
        "alert-watch", help="read the alert rules against the live picture and tick the clock"
    ).set_defaults(run=_alert_watch)
    commands.add_parser("api", help="run the API and whiteboards").set_defaults(run=_api)
    commands.add_parser(
        "hl7-listen", help="take HL7 v2 ADT over MLLP from hospital feeds (docs/hl7.md)"
    ).set_defaults(run=_hl7_listen)
    simulate = commands.add_parser("simulate", help="publish the simulated county's traffic")
    simulate.add_argument("--speed", type=float, help="simulated seconds per real second")
    simulate.add_argument("--seed", type=int, help="random seed (same seed, same traffic)")
    simulate.add_argument(
        "--hl7",
        metavar="HOST:PORT",
        help="send the traffic as HL7 v2 ADT over MLLP to a listener instead of as events",
    )
    _add_scenario(simulate)
    simulate.set_defaults(run=_simulate)
    commands.add_parser(
        "rebuild", help="wipe the Redis view and replay the log into it"
    ).set_defaults(run=_rebuild)
    commands.add_parser(
        "schemas", help="write the event JSON Schema into the package"
    ).set_defaults(run=_schemas)
    add_accounts_parser(commands)
    bench = commands.add_parser(
        "bench",
        help="measure throughput, freshness, fan-out, rebuild, memory and the board in Chromium"
        " against targets",
    )
    bench.add_argument("--quick", action="store_true", help="smaller sizes: two to three minutes")
    bench.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    bench.add_argument(
        "--clients", type=int, metavar="N", help="fan-out boards (1000; 200 with --quick)"
    )
    bench.add_argument("--events", type=int, metavar="N", help="events the throughput run drains")
    bench.add_argument(
        "--seconds", type=float, metavar="S", help="length of the freshness, fan-out and board runs"
    )
    bench.add_argument(
        "--replay-days", type=float, metavar="DAYS", help="simulated days the rebuild replays"
    )
    bench.set_defaults(run=_bench)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    try:
        code = args.run(Settings(), args)
    except bootstrap.NotConfigured as error:
        print(f"flowcentre: {error}", file=sys.stderr)
        code = 2
    raise SystemExit(code)

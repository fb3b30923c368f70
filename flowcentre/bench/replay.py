"""Measurement 4, rebuild: replaying the county's history into an empty view.

The history (a simulated year in the full run) is published to a topic of its own first;
then the real rebuild, ``flowcentre.rebuild.rebuild`` as the ``flowcentre rebuild``
command runs it, is timed from its call to its return: reading the whole log, folding it
through the core, and swapping the result into an empty Redis prefix.
"""

from __future__ import annotations

import time

from flowcentre.bench.harness import Bench, BenchError, Figures, History, publish
from flowcentre.rebuild import rebuild


async def measure_replay(bench: Bench, history: History) -> Figures:
    space = bench.namespace("replay")
    records = history.records[: history.within_days]
    await publish(bench.bootstrap, space.events_topic, records)
    redis = bench.redis()
    try:
        began = time.perf_counter()
        report = await rebuild(bench.bootstrap, redis, space.events_topic, space.redis_prefix)
        seconds = time.perf_counter() - began
    finally:
        await redis.aclose()
    if report.events + report.rejected != len(records):
        raise BenchError(
            f"the rebuild read {report.events + report.rejected} of {len(records)} events"
        )
    return {
        "replay_days": history.days,
        "replay_events": report.events,
        "replay_rejected": report.rejected,
        "replay_s": seconds,
    }

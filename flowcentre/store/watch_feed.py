"""The view as the alert watch reads it: the picture to start from, the records each
board delta names, and where the watch has got to.

The watch's place (the delta it has taken, and how long each rule's condition has held)
lives beside the view, not under its prefix, so a rebuild leaves it alone; the rebuild's
``resnapshot`` delta tells the watch to start again from the view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from flowcentre.domain.alert_history import AlertRecord, ClockRecord, RuleRecord
from flowcentre.domain.alert_views import Told
from flowcentre.domain.alerts import Watch
from flowcentre.domain.apply import State
from flowcentre.domain.model import Bed, CapacityPool, Spell
from flowcentre.domain.opel_history import OpelRecord, ReadingRecord
from flowcentre.domain.pending_admissions import PendingAdmission
from flowcentre.store.keyspace import Keyspace, Record, load
from flowcentre.store.reads import LiveReads

JSON = dict[str, Any]
WatchKey = tuple[str, str]
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


@dataclass
class Named:
    """The records a run of deltas names, by kind."""

    beds: set[str] = field(default_factory=set)
    spells: set[str] = field(default_factory=set)
    pools: set[str] = field(default_factory=set)
    wards: set[str] = field(default_factory=set)
    sites: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    alerts: set[str] = field(default_factory=set)
    ticked: dict[str, ClockRecord] = field(default_factory=dict)
    """Each clock as its delta gave it: the run's own tick, not the clock as it is now,
    which may be ticks later when several runs are read at once."""
    readings: set[str] = field(default_factory=set)
    opel: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    resnapshot: bool = False

    def add(self, delta: JSON) -> None:
        kind = delta.get("kind")
        if kind == "resnapshot":
            self.resnapshot = True
            return
        if kind == "clock":
            tick = delta["clock"]
            # A worker of an earlier version sends no event id; the watch needs none.
            record = ClockRecord(
                clock=tick["clock"], at=tick["at"], event_id=tick.get("event_id", "")
            )
            self.ticked[record.clock] = record
            return
        key = _NAMED_BY.get(str(kind))
        if key is not None:
            getattr(self, key[0]).add(delta[str(kind)][key[1]])


_NAMED_BY = {
    "bed": ("beds", "bed_id"),
    "discharge": ("spells", "spell_id"),
    "capacity": ("pools", "key"),
    "ward": ("wards", "ward_id"),
    "site": ("sites", "site_id"),
    "rule": ("rules", "rule_id"),
    "alert": ("alerts", "alert_id"),
    "opel_reading": ("readings", "key"),
    "opel": ("opel", "place"),
    "pending_admission": ("pending", "spell_id"),
}


class WatchFeed:
    def __init__(self, redis: Redis, *, prefix: str = "fc") -> None:
        self._redis = redis
        self._keys = Keyspace(prefix)
        self.caught_up = True
        """Whether the last read of the deltas took every one there was."""
        self._reads = LiveReads(redis, prefix=prefix)
        self._place = f"{prefix}-alert-watch:place"

    async def start(self, clock: str, kept: timedelta) -> tuple[str, State]:
        """The cursor, and what the watch starts from: the registry, every bed, the spells
        in hospital and those discharged within ``kept`` of the clock's time (the
        machine's before its first tick), the patients waiting for a bed, capacity,
        rules, the alerts not yet resolved, and the clock."""
        reads = self._reads
        cursor = await reads.cursor()
        ticked = await reads.clock(clock)
        discharged_since = (ticked.at if ticked else datetime.now(UTC)) - kept
        state = State()
        state.sites = {site.payload.site_id: site for site in await reads.sites()}
        wards = await reads.wards()
        state.wards = {ward.payload.ward_id: ward for ward in wards}
        state.beds = {bed.bed_id: bed for bed in await reads.all_beds()}
        for ward in wards:
            for spell in await reads.ward_spells(ward.payload.ward_id):
                state.spells[spell.spell_id] = spell
        for spell in await reads.discharged_between(discharged_since, _END_OF_TIME):
            state.spells[spell.spell_id] = spell
        state.capacity = {pool.key: pool for pool in await reads.capacity_pools()}
        state.rules = {rule.rule_id: rule for rule in await reads.rules()}
        state.alerts = {alert.alert_id: alert for alert in await reads.open_alerts()}
        state.readings = {one.key: one for one in await reads.opel_readings()}
        state.opel = {one.place: one for one in await reads.opel()}
        state.pending = {one.spell_id: one for one in await reads.pending_admissions()}
        if ticked is not None:
            state.clocks[clock] = ticked
        return cursor, state

    async def changes_after(
        self, cursor: str, clock: str, *, block_ms: int, count: int = 1000
    ) -> tuple[str, list[State] | None]:
        """The records the deltas after ``cursor`` name, as they are now, and the cursor
        past them; None instead of records when the view was rebuilt meanwhile, or the
        deltas after ``cursor`` are no longer all kept.

        The records come in runs, each ending at a tick of ``clock``, so the watch judges
        what changed before a tick at the time before it."""
        oldest = await self._reads.oldest_delta()
        if oldest is not None and _position(cursor) < _position(oldest):
            return cursor, None  # fell behind the deltas kept: start again from the view
        entries = await self._reads.deltas_after(cursor, count=count, block_ms=block_ms)
        self.caught_up = len(entries) < count
        if not entries:
            return cursor, []
        runs = [Named()]
        for _, entry in entries:
            for delta in entry["deltas"]:
                runs[-1].add(delta)
                if delta.get("kind") == "clock" and delta["clock"]["clock"] == clock:
                    runs.append(Named())
        cursor = entries[-1][0]
        if any(run.resnapshot for run in runs):
            return cursor, None
        return cursor, [await self._records(run) for run in runs if run != Named()]

    async def _records(self, named: Named) -> State:
        keys = self._keys
        state = State()
        state.beds = await self._load(Bed, named.beds, keys.bed)
        state.spells = await self._load(Spell, named.spells, keys.spell)
        state.capacity = await self._load(CapacityPool, named.pools, keys.capacity_pool)
        state.rules = await self._load(RuleRecord, named.rules, keys.rule)
        state.alerts = await self._load(AlertRecord, named.alerts, keys.alert)
        state.clocks = dict(named.ticked)
        state.readings = await self._load(ReadingRecord, named.readings, keys.opel_reading)
        state.opel = await self._load(OpelRecord, named.opel, keys.opel)
        state.pending = await self._load(PendingAdmission, named.pending, keys.pending_admission)
        for site_id in named.sites:
            if (site := await self._reads.site(site_id)) is not None:
                state.sites[site_id] = site
        for ward_id in named.wards:
            if (ward := await self._reads.ward(ward_id)) is not None:
                state.wards[ward_id] = ward
        return state

    async def _load(
        self, kind: type[Record], ids: Iterable[str], key: Callable[[str], str]
    ) -> dict[str, Record]:
        ordered = sorted(ids)
        if not ordered:
            return {}
        values = await self._redis.mget([key(one) for one in ordered])
        return {one: load(kind, raw) for one, raw in zip(ordered, values, strict=True) if raw}

    async def alerts(self, alert_ids: Iterable[str]) -> dict[str, AlertRecord]:
        return await self._load(AlertRecord, alert_ids, self._keys.alert)

    async def place(self) -> Place | None:
        """What the watch kept when it last ran; None before it ever ran."""
        raw = await self._redis.get(self._place)
        if raw is None:
            return None
        stored = _StoredPlace.model_validate_json(raw)
        watches = {(rule, scope): watch for rule, scope, watch in stored.watches}
        return Place(watches, stored.told)

    async def keep_place(self, place: Place) -> None:
        held = [(rule, scope, w) for (rule, scope), w in place.watches.items() if w != Watch()]
        stored = _StoredPlace(watches=held, told=place.told)
        await self._redis.set(self._place, stored.model_dump_json())


@dataclass
class Place:
    """What the watch keeps across a restart: how long each rule's condition has held,
    and what outside systems were last told of each alert."""

    watches: dict[WatchKey, Watch] = field(default_factory=dict)
    told: dict[str, Told] = field(default_factory=dict)


class _StoredPlace(BaseModel):
    watches: list[tuple[str, str, Watch]]
    told: dict[str, Told]


def _position(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)

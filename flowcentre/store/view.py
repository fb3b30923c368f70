"""Writing the live view: events applied through the core, stored atomically in Redis.

Each batch is one optimistic transaction: the records it reads are WATCHed, the core
applies the events in memory, and the changed records, their indexes, the board deltas
and the log position they reflect (the tracking hash) are written in one MULTI/EXEC.
A redelivered event is skipped by its position; a repeated event id is skipped by the
spell fold; a concurrent writer on another partition makes the transaction retry.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from flowcentre.domain import board, discharge_lists, pending_admissions
from flowcentre.domain.alert_history import AlertRecord, AlertStatus, ClockRecord, RuleRecord
from flowcentre.domain.alert_views import alert_view, clock_view, opel_view, reading_view, rule_view
from flowcentre.domain.apply import Change, State, apply, needs
from flowcentre.domain.events import (
    EventBase,
    OrganisationRegistered,
    SiteRegistered,
    WardRegistered,
)
from flowcentre.domain.feeds import FeedKey, Heard, hear
from flowcentre.domain.model import Bed, CapacityPool, Spell
from flowcentre.domain.opel_history import OpelRecord, ReadingRecord
from flowcentre.domain.pending_admissions import PendingAdmission, pending_view
from flowcentre.store.keyspace import Keyspace, dump, load

Entry = TypeVar("Entry", OrganisationRegistered, SiteRegistered, WardRegistered)


@dataclass(frozen=True, slots=True)
class PositionedEvent:
    """An event and where it sits in the log; the position makes re-delivery harmless."""

    partition: int
    offset: int
    event: EventBase


class LiveView(abc.ABC):
    """The port the stream processors write the live picture through."""

    @abc.abstractmethod
    async def apply(self, topic: str, batch: Sequence[PositionedEvent]) -> None:
        """Apply the events not applied before, atomically, recording their positions."""


def deltas_of(change: Change, before: State) -> list[dict[str, Any]]:
    """The board deltas a change produces: whole records, so applying one twice is safe."""
    deltas: list[dict[str, Any]] = []
    deltas.extend(
        {"kind": "organisation", "organisation": org.payload.model_dump(mode="json")}
        for org in change.organisations.values()
    )
    deltas.extend({"kind": "site", "site": board.site_view(site)} for site in change.sites.values())
    deltas.extend({"kind": "ward", "ward": board.ward_view(ward)} for ward in change.wards.values())
    deltas.extend({"kind": "bed", "bed": board.bed_view(bed)} for bed in change.beds.values())
    for spell in change.spells.values():
        deltas.extend(_plan_deltas(before.spells.get(spell.spell_id), spell))
    deltas.extend(
        {"kind": "capacity", "capacity": discharge_lists.pool_view(pool)}
        for pool in change.capacity.values()
    )
    deltas.extend({"kind": "rule", "rule": rule_view(rule)} for rule in change.rules.values())
    deltas.extend({"kind": "alert", "alert": alert_view(one)} for one in change.alerts.values())
    deltas.extend({"kind": "clock", "clock": clock_view(one)} for one in change.clocks.values())
    deltas.extend(
        {"kind": "opel_reading", "opel_reading": reading_view(one)}
        for one in change.readings.values()
    )
    deltas.extend({"kind": "opel", "opel": opel_view(one)} for one in change.opel.values())
    deltas.extend(
        {"kind": "pending_admission", "pending_admission": pending_view(one)}
        for one in change.pending.values()
    )
    return deltas


def _plan_deltas(before: Spell | None, after: Spell) -> list[dict[str, Any]]:
    """The plan as it is now, after a notice to the ward it left (if it moved or left
    hospital), so a board of that ward alone learns the patient is off its list."""
    was = before.location.ward_id if before and before.in_hospital and before.location else None
    now = after.location.ward_id if after.location else None
    deltas = []
    if was is not None and was != now:
        gone = {"spell_id": after.spell_id, "listed": False, "ward_id": was}
        deltas.append(
            {
                "kind": "discharge",
                "discharge": {**gone, "initials": None, "sharing_objection": False},
            }
        )
    if now is not None and (after.in_hospital or was == now):
        deltas.append({"kind": "discharge", "discharge": discharge_lists.discharge_item(after)})
    return deltas


@dataclass(slots=True)
class _Loaded:
    """What a batch read, as it was, so index updates can compare before and after."""

    state: State
    beds: dict[str, Bed] = field(default_factory=dict)
    spells: dict[str, Spell] = field(default_factory=dict)


class RedisView(LiveView):
    def __init__(self, redis: Redis, *, prefix: str = "fc", deltas_maxlen: int = 100_000) -> None:
        self._redis = redis
        self._keys = Keyspace(prefix)
        self._deltas_maxlen = deltas_maxlen

    @property
    def keys(self) -> Keyspace:
        return self._keys

    async def apply(self, topic: str, batch: Sequence[PositionedEvent]) -> None:
        if not batch:
            return
        tracking = self._keys.tracking(topic)
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(tracking)
                    applied = {int(p): int(o) for p, o in (await pipe.hgetall(tracking)).items()}
                    fresh = [p for p in batch if p.offset > applied.get(p.partition, -1)]
                    if not fresh:
                        return
                    loaded = await self._load(pipe, [p.event for p in fresh])
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self._write(pipe, topic, fresh, loaded)
                    await pipe.execute()
                    return
                except WatchError:
                    continue

    async def _load(self, pipe: Pipeline, events: Sequence[EventBase]) -> _Loaded:
        state = State()
        spell_ids: set[str] = set()
        for event in events:
            spell_ids |= needs(event, state).spell_ids
        for spell_id, raw in await self._read(pipe, spell_ids, self._keys.spell):
            state.spells[spell_id] = load(Spell, raw)
        bed_ids: set[str] = set()
        for event in events:
            bed_ids |= needs(event, state).bed_ids
        for bed_id, raw in await self._read(pipe, bed_ids, self._keys.bed):
            state.beds[bed_id] = load(Bed, raw)
        pool_keys: set[str] = set()
        for event in events:
            pool_keys |= needs(event, state).capacity_keys
        for key, raw in await self._read(pipe, pool_keys, self._keys.capacity_pool):
            state.capacity[key] = load(CapacityPool, raw)
        wanted = [needs(event, state) for event in events]
        rule_ids = set().union(*(one.rule_ids for one in wanted))
        for rule_id, raw in await self._read(pipe, rule_ids, self._keys.rule):
            state.rules[rule_id] = load(RuleRecord, raw)
        alert_ids = set().union(*(one.alert_ids for one in wanted))
        for alert_id, raw in await self._read(pipe, alert_ids, self._keys.alert):
            state.alerts[alert_id] = load(AlertRecord, raw)
        clocks = set().union(*(one.clocks for one in wanted))
        for name, raw in await self._read(pipe, clocks, self._keys.clock):
            state.clocks[name] = load(ClockRecord, raw)
        readings = set().union(*(one.readings for one in wanted))
        for key, raw in await self._read(pipe, readings, self._keys.opel_reading):
            state.readings[key] = load(ReadingRecord, raw)
        places = set().union(*(one.opel for one in wanted))
        for place, raw in await self._read(pipe, places, self._keys.opel):
            state.opel[place] = load(OpelRecord, raw)
        state.organisations.update(
            await self._registry(pipe, events, OrganisationRegistered, self._keys.organisation)
        )
        state.sites.update(await self._registry(pipe, events, SiteRegistered, self._keys.site))
        state.wards.update(await self._registry(pipe, events, WardRegistered, self._keys.ward))
        return _Loaded(state=state, beds=dict(state.beds), spells=dict(state.spells))

    async def _registry(
        self,
        pipe: Pipeline,
        events: Sequence[EventBase],
        kind: type[Entry],
        key: Callable[[str], str],
    ) -> dict[str, Entry]:
        """Current registry entries of the kind these events register (for last-wins)."""
        ids = {registry_id(event) for event in events if isinstance(event, kind)}
        return {entry_id: load(kind, raw) for entry_id, raw in await self._read(pipe, ids, key)}

    @staticmethod
    async def _read(
        pipe: Pipeline, ids: Iterable[str], key: Callable[[str], str]
    ) -> list[tuple[str, bytes | str]]:
        ordered = sorted(ids)
        if not ordered:
            return []
        keys = [key(entry_id) for entry_id in ordered]
        await pipe.watch(*keys)
        values = await pipe.mget(keys)
        return [(entry_id, raw) for entry_id, raw in zip(ordered, values, strict=True) if raw]

    def _write(
        self, pipe: Pipeline, topic: str, fresh: Sequence[PositionedEvent], loaded: _Loaded
    ) -> None:
        state = loaded.state
        total = Change()
        for positioned in fresh:
            change = apply(state, positioned.event)
            if not change:
                continue
            deltas = deltas_of(change, state)
            state.absorb(change)
            total.absorb(change)
            if not deltas:
                continue
            entry = {
                "event_id": positioned.event.event_id,
                "occurred_at": positioned.event.occurred_at.isoformat(),
                "deltas": deltas,
            }
            pipe.xadd(
                self._keys.deltas,
                {"d": orjson.dumps(entry)},
                maxlen=self._deltas_maxlen,
                approximate=True,
            )
        write_records(pipe, self._keys, total, loaded.beds, loaded.spells)
        write_feeds_heard(pipe, self._keys, hear({}, (p.event for p in fresh)))
        positions: dict[int, int] = {}
        for positioned in fresh:
            positions[positioned.partition] = max(
                positions.get(positioned.partition, -1), positioned.offset
            )
        pipe.hset(self._keys.tracking(topic), mapping=positions)  # type: ignore[arg-type]


def write_feeds_heard(pipe: Pipeline, keys: Keyspace, heard: dict[FeedKey, Heard]) -> None:
    """Queue the feeds' times heard: two commands whatever the number of feeds or events,
    each keeping the latest (or earliest) time, so a batch applied again changes nothing."""
    if not heard:
        return
    last = {_feed_member(key): _ms(one.last) for key, one in heard.items()}
    first = {_feed_member(key): _ms(one.first) for key, one in heard.items()}
    pipe.zadd(keys.feeds_last_heard, last, gt=True)
    pipe.zadd(keys.feeds_first_heard, first, lt=True)


def _feed_member(key: FeedKey) -> bytes:
    return orjson.dumps(list(key))


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def registry_id(event: OrganisationRegistered | SiteRegistered | WardRegistered) -> str:
    if isinstance(event, OrganisationRegistered):
        return event.payload.organisation_id
    if isinstance(event, SiteRegistered):
        return event.payload.site_id
    return event.payload.ward_id


def write_records(
    pipe: Pipeline,
    keys: Keyspace,
    change: Change,
    beds_before: dict[str, Bed],
    spells_before: dict[str, Spell],
) -> None:
    """Queue the writes of changed records and of the indexes that point at them."""
    for org_id, org in change.organisations.items():
        pipe.set(keys.organisation(org_id), dump(org))
        pipe.sadd(keys.organisations, org_id)
    for site_id, site in change.sites.items():
        pipe.set(keys.site(site_id), dump(site))
        pipe.sadd(keys.sites, site_id)
    for ward_id, ward in change.wards.items():
        pipe.set(keys.ward(ward_id), dump(ward))
        pipe.sadd(keys.wards, ward_id)
    # A stored record is always in its indexes, so only a new record or a move between
    # wards touches them: most events change a record and no index.
    for bed_id, bed in change.beds.items():
        pipe.set(keys.bed(bed_id), dump(bed))
        before = beds_before.get(bed_id)
        if before is None:
            pipe.sadd(keys.beds, bed_id)
        # A bed named by a status before the registry gives it a ward has none to index.
        if bed.ward_id and (before is None or before.ward_id != bed.ward_id):
            if before is not None and before.ward_id:
                pipe.srem(keys.ward_beds(before.ward_id), bed_id)
            pipe.sadd(keys.ward_beds(bed.ward_id), bed_id)
    for key, pool in change.capacity.items():
        pipe.set(keys.capacity_pool(key), dump(pool))
        pipe.zadd(keys.capacity_pools, {key: pool.capacity.day.toordinal()})
    for rule_id, rule in change.rules.items():
        pipe.set(keys.rule(rule_id), dump(rule))
        pipe.sadd(keys.rules, rule_id)
    for alert_id, alert in change.alerts.items():
        pipe.set(keys.alert(alert_id), dump(alert))
        if (first := alert.raised or alert.acknowledged or alert.resolved) is not None:
            pipe.zadd(keys.alerts, {alert_id: first.at.timestamp()})
        if alert.status is AlertStatus.RESOLVED:
            pipe.srem(keys.open_alerts, alert_id)
        else:
            pipe.sadd(keys.open_alerts, alert_id)
    for name, clock in change.clocks.items():
        pipe.set(keys.clock(name), dump(clock))
    for key, reading in change.readings.items():
        pipe.set(keys.opel_reading(key), dump(reading))
        pipe.sadd(keys.opel_readings, key)
    for place, levels in change.opel.items():
        pipe.set(keys.opel(place), dump(levels))
        pipe.sadd(keys.opel_places, place)
    for spell_id, wait in change.pending.items():
        pipe.set(keys.pending_admission(spell_id), dump(wait))
        waited = pending_admissions.wait_of(spells_before.get(spell_id))
        _index_wait(pipe, keys, waited, wait)
    for spell_id, spell in change.spells.items():
        pipe.set(keys.spell(spell_id), dump(spell))
        _index_discharge_work(pipe, keys, spells_before.get(spell_id), spell)
        was = _ward_of(spells_before.get(spell_id))
        now = _ward_of(spell)
        if was == now:
            continue
        if was is not None:
            pipe.srem(keys.ward_spells(was), spell_id)
        if now is not None:
            pipe.sadd(keys.ward_spells(now), spell_id)


def _index_discharge_work(
    pipe: Pipeline, keys: Keyspace, before: Spell | None, spell: Spell
) -> None:
    if _in_queue(before) != (queued := _in_queue(spell)):
        if queued:
            pipe.sadd(keys.referred, spell.spell_id)
        else:
            pipe.srem(keys.referred, spell.spell_id)
    was = before.discharged if before else None
    if was != spell.discharged:
        if spell.discharged is not None:
            pipe.zadd(keys.discharged, {spell.spell_id: spell.discharged.at.timestamp()})
        else:
            pipe.zrem(keys.discharged, spell.spell_id)


def _index_wait(
    pipe: Pipeline, keys: Keyspace, before: PendingAdmission | None, wait: PendingAdmission
) -> None:
    """Index a waiting spell under its site, and take it out once its wait has ended."""
    if before is not None and before.waiting and before.site_id != wait.site_id:
        pipe.srem(keys.site_pending_admissions(before.site_id), wait.spell_id)
    site = keys.site_pending_admissions(wait.site_id)
    if wait.waiting:
        pipe.sadd(keys.pending_admissions, wait.spell_id)
        pipe.sadd(site, wait.spell_id)
    else:
        pipe.srem(keys.pending_admissions, wait.spell_id)
        pipe.srem(site, wait.spell_id)


def _in_queue(spell: Spell | None) -> bool:
    return (
        spell is not None
        and spell.in_hospital
        and spell.referral is not None
        and spell.referral.open
    )


def _ward_of(spell: Spell | None) -> str | None:
    if spell is None or not spell.in_hospital or spell.location is None:
        return None
    return spell.location.ward_id


class ViewOvertaken(RuntimeError):
    """A worker applied events past the positions a replacement view was built to."""

    def __init__(self, tracked: dict[int, int]) -> None:
        super().__init__(f"the live view has moved on to {tracked}")
        self.tracked = tracked


async def replace_view(
    redis: Redis,
    keys: Keyspace,
    topic: str,
    state: State,
    positions: dict[int, int],
    heard: dict[FeedKey, Heard] | None = None,
) -> None:
    """Swap the whole view for ``state`` in one transaction, as of the given log positions.

    ``heard`` is when each source feed was first and last heard in the replayed events.
    Raises ViewOvertaken, changing nothing, when a worker has applied events past those
    positions: swapping then would lose what it applied. A worker applying during the
    swap has WATCHed the tracking hash, so its transaction retries against the new view,
    skipping what the rebuild covered. Boards are told to take a fresh snapshot.
    """
    tracking = keys.tracking(topic)
    while True:
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(tracking)
                tracked = {int(p): int(o) for p, o in (await pipe.hgetall(tracking)).items()}
                if any(offset > positions.get(p, -1) for p, offset in tracked.items()):
                    raise ViewOvertaken(tracked)
                existing = [key async for key in redis.scan_iter(match=keys.pattern, count=1000)]
                pipe.multi()  # type: ignore[no-untyped-call]
                if existing:
                    pipe.unlink(*existing)
                everything = Change(
                    organisations=state.organisations,
                    sites=state.sites,
                    wards=state.wards,
                    beds=state.beds,
                    spells=state.spells,
                    capacity=state.capacity,
                    rules=state.rules,
                    alerts=state.alerts,
                    clocks=state.clocks,
                    readings=state.readings,
                    opel=state.opel,
                    pending=state.pending,
                )
                write_records(pipe, keys, everything, {}, {})
                write_feeds_heard(pipe, keys, heard or {})
                if positions:
                    pipe.hset(tracking, mapping=positions)  # type: ignore[arg-type]
                marker = {"deltas": [{"kind": "resnapshot"}]}
                pipe.xadd(keys.deltas, {"d": orjson.dumps(marker)})
                await pipe.execute()
                return
            except WatchError:
                continue

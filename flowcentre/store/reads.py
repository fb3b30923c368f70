"""Reading the live view: the system, sites, wards and beds as boards and the API show them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from flowcentre.domain import board, discharge_lists
from flowcentre.domain.alert_history import AlertRecord, ClockRecord, RuleRecord
from flowcentre.domain.alert_views import alert_view, opel_view
from flowcentre.domain.board import RECENT_DISCHARGES
from flowcentre.domain.events import OrganisationRegistered, SiteRegistered, WardRegistered
from flowcentre.domain.feeds import FeedKey, Heard
from flowcentre.domain.model import Bed, CapacityPool, Spell
from flowcentre.domain.opel_history import OpelRecord, ReadingRecord
from flowcentre.domain.pending_admissions import PendingAdmission
from flowcentre.store.keyspace import Keyspace, Record, load, text

JSON = dict[str, Any]
Entries = list[tuple[bytes, dict[bytes, bytes]]]
START = "0-0"


class LiveReads:
    def __init__(self, redis: Redis, *, prefix: str = "fc") -> None:
        self._redis = redis
        self._keys = Keyspace(prefix)

    async def _records(self, kind: type[Record], keys: Iterable[str]) -> list[Record]:
        ordered = list(keys)
        if not ordered:
            return []
        return [load(kind, raw) for raw in await self._redis.mget(ordered) if raw]

    async def _members(self, key: str) -> list[str]:
        return sorted(text(member) for member in await self._redis.smembers(key))

    async def cursor(self) -> str:
        """The id of the newest delta; a snapshot read after it includes at least that much."""
        newest = cast(Entries, await self._redis.xrevrange(self._keys.deltas, count=1))
        return text(newest[0][0]) if newest else START

    async def organisations(self) -> list[OrganisationRegistered]:
        ids = await self._members(self._keys.organisations)
        return await self._records(OrganisationRegistered, map(self._keys.organisation, ids))

    async def sites(self) -> list[SiteRegistered]:
        ids = await self._members(self._keys.sites)
        return await self._records(SiteRegistered, map(self._keys.site, ids))

    async def wards(self) -> list[WardRegistered]:
        ids = await self._members(self._keys.wards)
        return await self._records(WardRegistered, map(self._keys.ward, ids))

    async def site(self, site_id: str) -> SiteRegistered | None:
        raw = await self._redis.get(self._keys.site(site_id))
        return load(SiteRegistered, raw) if raw else None

    async def ward(self, ward_id: str) -> WardRegistered | None:
        raw = await self._redis.get(self._keys.ward(ward_id))
        return load(WardRegistered, raw) if raw else None

    async def ward_organisation(self, ward_id: str) -> str | None:
        """The organisation that runs the ward, once the ward and its site are registered."""
        ward = await self.ward(ward_id)
        site = await self.site(ward.payload.site_id) if ward else None
        return site.payload.organisation_id if site else None

    async def ward_beds(self, ward_id: str) -> list[Bed]:
        ids = await self._members(self._keys.ward_beds(ward_id))
        beds = await self._records(Bed, map(self._keys.bed, ids))
        return sorted(
            beds,
            key=lambda bed: (
                (bed.details.room or "", bed.details.label) if bed.details else ("~", bed.bed_id)
            ),
        )

    async def all_beds(self) -> list[Bed]:
        """Every bed the view knows, registered or only named by the feed so far."""
        ids = await self._members(self._keys.beds)
        return await self._records(Bed, map(self._keys.bed, ids))

    async def bed(self, bed_id: str) -> Bed | None:
        raw = await self._redis.get(self._keys.bed(bed_id))
        return load(Bed, raw) if raw else None

    async def spell(self, spell_id: str) -> Spell | None:
        raw = await self._redis.get(self._keys.spell(spell_id))
        return load(Spell, raw) if raw else None

    async def spells(self, spell_ids: Iterable[str]) -> list[Spell]:
        return await self._records(Spell, map(self._keys.spell, spell_ids))

    async def ward_spells(self, ward_id: str) -> list[Spell]:
        ids = await self._members(self._keys.ward_spells(ward_id))
        return await self._records(Spell, map(self._keys.spell, ids))

    async def referred_spells(self) -> list[Spell]:
        """Spells in hospital with a referral being worked: the flow centre's queue."""
        return await self.spells(await self._members(self._keys.referred))

    async def discharged_lately(self, within: timedelta) -> list[Spell]:
        """Spells discharged within ``within`` of the latest discharge: by the log's time,
        which runs ahead of this server's under the simulator."""
        latest = cast(
            list[tuple[bytes, float]],
            await self._redis.zrange(self._keys.discharged, -1, -1, withscores=True),
        )
        if not latest:
            return []
        since = latest[0][1] - within.total_seconds()
        ids = cast(
            list[bytes], await self._redis.zrangebyscore(self._keys.discharged, since, "+inf")
        )
        return await self.spells(text(spell_id) for spell_id in ids)

    async def discharged_between(self, start: datetime, end: datetime) -> list[Spell]:
        ids = cast(
            list[bytes],
            await self._redis.zrangebyscore(
                self._keys.discharged, start.timestamp(), end.timestamp()
            ),
        )
        return await self.spells(text(spell_id) for spell_id in ids)

    async def pending_admission(self, spell_id: str) -> PendingAdmission | None:
        """The patient's wait for a bed, waiting or ended."""
        raw = await self._redis.get(self._keys.pending_admission(spell_id))
        return load(PendingAdmission, raw) if raw else None

    async def pending_admissions(self, site_id: str | None = None) -> list[PendingAdmission]:
        """Patients waiting for a bed: of the site, or of every site when None."""
        index = (
            self._keys.pending_admissions
            if site_id is None
            else self._keys.site_pending_admissions(site_id)
        )
        ids = await self._members(index)
        return await self._records(PendingAdmission, map(self._keys.pending_admission, ids))

    async def capacity_pool(self, key: str) -> CapacityPool | None:
        raw = await self._redis.get(self._keys.capacity_pool(key))
        return load(CapacityPool, raw) if raw else None

    async def capacity_pools(self, from_day: date | None = None) -> list[CapacityPool]:
        """The pools of ``from_day`` and after (every pool if None), by day."""
        low = "-inf" if from_day is None else from_day.toordinal()
        keys = cast(
            list[bytes], await self._redis.zrangebyscore(self._keys.capacity_pools, low, "+inf")
        )
        return await self._records(
            CapacityPool, (self._keys.capacity_pool(text(key)) for key in keys)
        )

    async def rules(self) -> list[RuleRecord]:
        return await self._records(
            RuleRecord, map(self._keys.rule, await self._members(self._keys.rules))
        )

    async def rule(self, rule_id: str) -> RuleRecord | None:
        raw = await self._redis.get(self._keys.rule(rule_id))
        return load(RuleRecord, raw) if raw else None

    async def alert(self, alert_id: str) -> AlertRecord | None:
        raw = await self._redis.get(self._keys.alert(alert_id))
        return load(AlertRecord, raw) if raw else None

    async def open_alerts(self) -> list[AlertRecord]:
        ids = await self._members(self._keys.open_alerts)
        return await self._records(AlertRecord, map(self._keys.alert, ids))

    async def alerts_between(self, start: datetime, end: datetime) -> list[AlertRecord]:
        """Alerts raised from ``start`` to ``end``, oldest first."""
        ids = cast(
            list[bytes],
            await self._redis.zrangebyscore(self._keys.alerts, start.timestamp(), end.timestamp()),
        )
        return await self._records(AlertRecord, (self._keys.alert(text(one)) for one in ids))

    async def opel_readings(self) -> list[ReadingRecord]:
        keys = await self._members(self._keys.opel_readings)
        return await self._records(ReadingRecord, map(self._keys.opel_reading, keys))

    async def opel(self) -> list[OpelRecord]:
        places = await self._members(self._keys.opel_places)
        return await self._records(OpelRecord, map(self._keys.opel, places))

    async def clock(self, name: str) -> ClockRecord | None:
        raw = await self._redis.get(self._keys.clock(name))
        return load(ClockRecord, raw) if raw else None

    async def feeds_heard(self) -> dict[FeedKey, Heard]:
        """When each source feed was first and last heard, by its events' recorded times."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrange(self._keys.feeds_first_heard, 0, -1, withscores=True)
            pipe.zrange(self._keys.feeds_last_heard, 0, -1, withscores=True)
            first, last = cast(list[list[tuple[bytes, float]]], await pipe.execute())
        firsts = dict(first)
        heard: dict[FeedKey, Heard] = {}
        for member, score in last:
            organisation, system = orjson.loads(member)
            at = _from_ms(score)
            heard[(organisation, system)] = Heard(_from_ms(firsts.get(member, score)), at)
        return heard

    async def snapshot(self) -> tuple[str, JSON]:
        """Everything a board starts from, and the cursor to take deltas after.

        The cursor is read first: deltas after it that the snapshot already includes are
        whole records, so replaying them over the snapshot changes nothing.
        """
        cursor = await self.cursor()
        sites = await self.sites()
        wards = await self.wards()
        beds = await self.all_beds()
        in_hospital = [
            spell
            for ward in wards
            for spell in await self.ward_spells(ward.payload.ward_id)
            if spell.in_hospital
        ]
        # Boards show pools from today on; a day's margin covers every time zone.
        pools = await self.capacity_pools(datetime.now(UTC).date() - timedelta(days=1))
        return cursor, {
            "sites": [board.site_view(site) for site in sites],
            "wards": [board.ward_view(ward) for ward in wards],
            "beds": [board.bed_view(bed) for bed in beds],
            # A spell discharged between the two reads is in both: the later read tells.
            "discharges": list(
                {
                    spell.spell_id: discharge_lists.discharge_item(spell)
                    for spell in [*in_hospital, *await self.discharged_lately(RECENT_DISCHARGES)]
                }.values()
            ),
            "capacity": [discharge_lists.pool_view(pool) for pool in pools],
            "alerts": [alert_view(one) for one in await self.open_alerts()],
            "opel": [opel_view(one) for one in await self.opel()],
        }

    async def deltas_after(
        self, cursor: str, *, count: int = 1000, block_ms: int | None = None
    ) -> list[tuple[str, JSON]]:
        """Delta entries newer than the cursor, oldest first (waiting up to block_ms)."""
        entries: Entries
        if block_ms is None:
            found = await self._redis.xrange(self._keys.deltas, min=f"({cursor}", count=count)
            entries = cast(Entries, found)
        else:
            streams = await self._redis.xread(
                {self._keys.deltas: cursor}, count=count, block=block_ms
            )
            entries = cast(list[tuple[bytes, Entries]], streams)[0][1] if streams else []
        return [(text(entry_id), orjson.loads(fields[b"d"])) for entry_id, fields in entries]

    async def oldest_delta(self) -> str | None:
        """The oldest delta kept: a cursor older than it cannot resume and must resnapshot."""
        oldest = cast(Entries, await self._redis.xrange(self._keys.deltas, count=1))
        return text(oldest[0][0]) if oldest else None


def _from_ms(score: float) -> datetime:
    return datetime.fromtimestamp(score / 1000, UTC)

"""Where each record lives in Redis and how it is encoded (see docs/architecture.md).

Records are the core's pydantic models, stored as JSON (orjson); sets index them so a
ward's beds or the whole registry can be read without scanning the keyspace.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

import orjson
from pydantic import BaseModel

Record = TypeVar("Record", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Keyspace:
    prefix: str = "fc"

    def organisation(self, organisation_id: str) -> str:
        return f"{self.prefix}:org:{organisation_id}"

    def site(self, site_id: str) -> str:
        return f"{self.prefix}:site:{site_id}"

    def ward(self, ward_id: str) -> str:
        return f"{self.prefix}:ward:{ward_id}"

    def bed(self, bed_id: str) -> str:
        return f"{self.prefix}:bed:{bed_id}"

    def spell(self, spell_id: str) -> str:
        return f"{self.prefix}:spell:{spell_id}"

    def capacity_pool(self, key: str) -> str:
        return f"{self.prefix}:capacity:{key}"

    @property
    def capacity_pools(self) -> str:
        """The pools' keys, scored by their day (its proleptic ordinal)."""
        return f"{self.prefix}:capacity-by-day"

    @property
    def referred(self) -> str:
        """Spells in hospital with a referral being worked: the flow centre's queue."""
        return f"{self.prefix}:referred"

    @property
    def discharged(self) -> str:
        """Discharged spells, scored by the discharge's time: the discharges per day."""
        return f"{self.prefix}:discharged"

    def pending_admission(self, spell_id: str) -> str:
        """A spell's latest wait for a bed, waiting or ended."""
        return f"{self.prefix}:pending-admission:{spell_id}"

    @property
    def pending_admissions(self) -> str:
        """Spells waiting for a bed, wherever they wait."""
        return f"{self.prefix}:pending-admissions"

    def site_pending_admissions(self, site_id: str) -> str:
        """Spells waiting for a bed of the site."""
        return f"{self.prefix}:site-pending-admissions:{site_id}"

    @property
    def organisations(self) -> str:
        return f"{self.prefix}:orgs"

    @property
    def sites(self) -> str:
        return f"{self.prefix}:sites"

    @property
    def wards(self) -> str:
        return f"{self.prefix}:wards"

    @property
    def beds(self) -> str:
        return f"{self.prefix}:beds"

    def ward_beds(self, ward_id: str) -> str:
        return f"{self.prefix}:ward-beds:{ward_id}"

    def ward_spells(self, ward_id: str) -> str:
        return f"{self.prefix}:ward-spells:{ward_id}"

    def rule(self, rule_id: str) -> str:
        return f"{self.prefix}:rule:{rule_id}"

    @property
    def rules(self) -> str:
        return f"{self.prefix}:rules"

    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}:alert:{alert_id}"

    @property
    def alerts(self) -> str:
        """Every alert, scored by when it was raised: the history."""
        return f"{self.prefix}:alerts"

    @property
    def open_alerts(self) -> str:
        """Alerts not yet resolved."""
        return f"{self.prefix}:alerts-open"

    def opel_reading(self, key: str) -> str:
        return f"{self.prefix}:opel-reading:{key}"

    @property
    def opel_readings(self) -> str:
        return f"{self.prefix}:opel-readings"

    def opel(self, place: str) -> str:
        return f"{self.prefix}:opel:{place}"

    @property
    def opel_places(self) -> str:
        return f"{self.prefix}:opel-places"

    def clock(self, name: str) -> str:
        return f"{self.prefix}:clock:{name}"

    @property
    def feeds_last_heard(self) -> str:
        """Each source feed (organisation and system), scored by the latest recorded time
        of its events, in milliseconds since the epoch."""
        return f"{self.prefix}:feeds-heard"

    @property
    def feeds_first_heard(self) -> str:
        """Each source feed, scored by the earliest recorded time of its events."""
        return f"{self.prefix}:feeds-first-heard"

    def tracking(self, topic: str) -> str:
        return f"{self.prefix}:tracking:{topic}"

    @property
    def deltas(self) -> str:
        return f"{self.prefix}:deltas"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}:*"


class _Parsed:
    """Parsed records by their stored bytes, most recent first.

    Records are immutable, so the same bytes always stand for an equal record: a worker
    reading back what it wrote (the beds and spells of patients in hospital, batch after
    batch) reuses the record instead of parsing it again.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._records: OrderedDict[tuple[type[BaseModel], bytes | str], BaseModel] = OrderedDict()

    def get(self, kind: type[Record], raw: bytes | str) -> Record | None:
        record = self._records.get((kind, raw))
        if not isinstance(record, kind):
            return None
        self._records.move_to_end((kind, raw))
        return record

    def put(self, raw: bytes | str, record: BaseModel) -> None:
        self._records[(type(record), raw)] = record
        if len(self._records) > self._size:
            self._records.popitem(last=False)


_PARSED = _Parsed(size=4096)


def dump(record: BaseModel) -> bytes:
    raw = orjson.dumps(record.model_dump(mode="json"))
    _PARSED.put(raw, record)
    return raw


def load(kind: type[Record], raw: bytes | str) -> Record:
    record = _PARSED.get(kind, raw)
    if record is None:
        record = kind.model_validate(orjson.loads(raw))
        _PARSED.put(raw, record)
    return record


def text(raw: bytes | str) -> str:
    """A key, member or stream id as text, whichever way the client decoded it."""
    return raw.decode() if isinstance(raw, bytes) else raw

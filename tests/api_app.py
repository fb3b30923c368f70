"""The API app over a few beds held in memory, signed in as whoever a test names."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import FastAPI
from redis.asyncio import Redis

from flowcentre.api.app import create_app
from flowcentre.api.auth import current_principal
from flowcentre.api.deps import (
    Planning,
    get_alert_configuration,
    get_audit,
    get_audit_index,
    get_opel_configuration,
    get_planning,
    get_policy,
    get_publisher,
    get_reads,
    get_settings,
    get_trends,
    get_webhook_outbox,
    get_write_limit,
)
from flowcentre.config import Settings
from flowcentre.domain.access import Principal, Role, grant, load_policy
from flowcentre.domain.alert_history import AlertRecord, ClockRecord, RuleRecord
from flowcentre.domain.alert_rules import load_alerts
from flowcentre.domain.apply import State
from flowcentre.domain.events import (
    Actor,
    ActorKind,
    EventBase,
    OrganisationRegistered,
    SiteRegistered,
    WardRegistered,
)
from flowcentre.domain.model import Bed, CapacityPool, Spell
from flowcentre.domain.opel import load_opel
from flowcentre.domain.opel_history import OpelRecord, ReadingRecord
from flowcentre.domain.pending_admissions import PendingAdmission
from flowcentre.publisher import EventPublisher
from flowcentre.store.reads import LiveReads
from tests.builders import admitted, bed, fold, organisation, requested, site, ward
from tests.fakes import InMemoryAuditIndex, KeptTrends, NoWebhookFailures, Unlimited
from tests.unit.conftest import RecordingPublisher

HISTORY: list[EventBase] = [
    organisation("RWP"),
    site("WRH", "RWP"),
    ward("AVON4", "WRH"),
    bed("B1", "AVON4", room="Bay 1"),
    bed("B2", "AVON4", room="Bay 1"),
    bed("SR1", "AVON4", room="Side room 1", side_room=True),
    admitted("S1", "B1", 0, "AVON4"),
    requested("W1", 0, "WRH"),
]


class StateReads(LiveReads):
    """The reads the routes use, answered from a state folded in memory."""

    def __init__(self, state: State) -> None:
        super().__init__(Redis())
        self._state = state

    async def sites(self) -> list[SiteRegistered]:
        return list(self._state.sites.values())

    async def wards(self) -> list[WardRegistered]:
        return list(self._state.wards.values())

    async def site(self, site_id: str) -> SiteRegistered | None:
        return self._state.sites.get(site_id)

    async def ward(self, ward_id: str) -> WardRegistered | None:
        return self._state.wards.get(ward_id)

    async def organisations(self) -> list[OrganisationRegistered]:
        return list(self._state.organisations.values())

    async def ward_beds(self, ward_id: str) -> list[Bed]:
        return sorted(
            (b for b in self._state.beds.values() if b.ward_id == ward_id), key=lambda b: b.bed_id
        )

    async def all_beds(self) -> list[Bed]:
        return sorted(self._state.beds.values(), key=lambda b: b.bed_id)

    async def pending_admission(self, spell_id: str) -> PendingAdmission | None:
        return self._state.pending.get(spell_id)

    async def spell(self, spell_id: str) -> Spell | None:
        return self._state.spells.get(spell_id)

    async def ward_spells(self, ward_id: str) -> list[Spell]:
        return [
            spell
            for spell in self._state.spells.values()
            if spell.location is not None and spell.location.ward_id == ward_id
        ]

    async def bed(self, bed_id: str) -> Bed | None:
        return self._state.beds.get(bed_id)

    async def referred_spells(self) -> list[Spell]:
        return [
            spell
            for spell in self._state.spells.values()
            if spell.in_hospital and spell.referral is not None and spell.referral.open
        ]

    async def discharged_between(self, start: datetime, end: datetime) -> list[Spell]:
        return [
            spell
            for spell in self._state.spells.values()
            if spell.discharged is not None and start <= spell.discharged.at <= end
        ]

    async def capacity_pool(self, key: str) -> CapacityPool | None:
        return self._state.capacity.get(key)

    async def capacity_pools(self, from_day: date | None = None) -> list[CapacityPool]:
        pools = sorted(self._state.capacity.values(), key=lambda pool: pool.capacity.day)
        return [pool for pool in pools if from_day is None or pool.capacity.day >= from_day]

    async def rules(self) -> list[RuleRecord]:
        return list(self._state.rules.values())

    async def rule(self, rule_id: str) -> RuleRecord | None:
        return self._state.rules.get(rule_id)

    async def alert(self, alert_id: str) -> AlertRecord | None:
        return self._state.alerts.get(alert_id)

    async def open_alerts(self) -> list[AlertRecord]:
        return [one for one in self._state.alerts.values() if one.status != "resolved"]

    async def opel_readings(self) -> list[ReadingRecord]:
        return list(self._state.readings.values())

    async def opel(self) -> list[OpelRecord]:
        return list(self._state.opel.values())

    async def clock(self, name: str) -> ClockRecord | None:
        return self._state.clocks.get(name)

    async def alerts_between(self, start: datetime, end: datetime) -> list[AlertRecord]:
        return sorted(
            (
                one
                for one in self._state.alerts.values()
                if one.raised and start <= one.raised.at <= end
            ),
            key=lambda one: one.raised.at if one.raised else start,
        )


POLICY = load_policy()


def signed_in(role: Role, *wards: str) -> Principal:
    return Principal(
        actor=Actor(kind=ActorKind.USER, id="rn-042", name="A N"),
        organisation_id="RWP",
        grants=(grant(POLICY, role, frozenset(wards)),),
    )


def app_over(
    publisher: EventPublisher,
    principal: Principal | None,
    settings: Settings | None = None,
    *,
    audit: EventPublisher | None = None,
) -> FastAPI:
    """The app over HISTORY in memory, with ``principal`` signed in.

    With no principal, the request's own cookie or token decides who is calling, as it
    does in service. With ``settings`` naming real servers, the app's lifespan connects to
    them for what the overrides leave alone: health, sessions, the access log, the audit
    trail and the write limit. Without, reads of patients' details are recorded by
    ``audit``, the audit index is in memory, and writes are not limited.
    """
    if settings is None:
        # Nothing listens there: tests without servers do not run the lifespan.
        unreachable = Settings(kafka_bootstrap="127.0.0.1:9", redis_url="redis://127.0.0.1:9/0")
        app = create_app(unreachable, redis=Redis(), publisher=publisher)
        recorded = audit or RecordingPublisher()
        index = InMemoryAuditIndex()
        app.dependency_overrides[get_audit] = lambda: recorded
        app.dependency_overrides[get_audit_index] = lambda: index
        app.dependency_overrides[get_write_limit] = Unlimited
        app.dependency_overrides[get_trends] = lambda: KeptTrends({})
    else:
        app = create_app(settings, publisher=publisher)
    app.dependency_overrides[get_reads] = lambda: StateReads(fold(HISTORY))
    app.dependency_overrides[get_publisher] = lambda: publisher
    app.dependency_overrides[get_policy] = lambda: POLICY
    planning = Planning.from_settings(settings or Settings())
    app.dependency_overrides[get_planning] = lambda: planning
    alerts = load_alerts()
    app.dependency_overrides[get_alert_configuration] = lambda: alerts
    opel = load_opel()
    app.dependency_overrides[get_opel_configuration] = lambda: opel
    app.dependency_overrides[get_settings] = lambda: settings or Settings()
    app.dependency_overrides[get_webhook_outbox] = NoWebhookFailures
    if principal is not None:
        app.dependency_overrides[current_principal] = lambda: principal
    return app

"""The alert watch: every rule read against the live picture as the picture changes, and
what its alerts do in consequence: raised, escalated, resolved.

It takes the records the view replaced (a ``Change``, the clock's ticks among them) and
returns the events to publish; it does no I/O. A change re-reads only the rules it can
move: those over the wards it touched, the queues' rules when a plan or a pool changed,
the rules over the site, ward and specialty a wait for a bed names when it changed, a
rule that was saved. A tick re-reads every rule, since hold times, long stays, waits
and times of day move with the clock alone. Time is the clock's, so the same log gives
the same alerts, and each event is named by what caused it, so publishing it twice
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flowcentre.domain import alert_history
from flowcentre.domain.alert_history import AlertRecord, AlertStatus, RuleRecord
from flowcentre.domain.alert_rules import (
    PATHWAY_MEASURES,
    PENDING_MEASURES,
    AlertConfiguration,
    AlertRule,
    Level,
)
from flowcentre.domain.alerts import Clear, Raise, Watch, due_steps, observe, resolved_by_hand
from flowcentre.domain.apply import State
from flowcentre.domain.events import (
    ActorKind,
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    Escalation,
    EventBase,
    RaisedAlert,
    Resolution,
)
from flowcentre.domain.measures import Picture, read, scope_key, ward_of
from flowcentre.domain.opel_watch import OpelWatch
from flowcentre.domain.watched import watched

#: Discharged patients and capacity pools are kept this long, for the measures of today.
KEPT_PAST = timedelta(days=2)


@dataclass
class Touched:
    """What a change can have moved."""

    wards: set[str] = field(default_factory=set)
    queues: bool = False
    waits: bool = False
    """A wait for a bed changed: the system's count moved, whatever wards it names."""
    rules: set[str] = field(default_factory=set)
    everything: bool = False

    def moves(self, rule: AlertRule, wards: frozenset[str]) -> bool:
        if self.everything or rule.id in self.rules:
            return True
        if rule.measure in PATHWAY_MEASURES:
            return self.queues
        if self.waits and rule.measure in PENDING_MEASURES and rule.scope.level is Level.SYSTEM:
            # A site the registry does not know yet has no wards to touch, and its
            # patients count in the system all the same.
            return True
        return not self.wards.isdisjoint(wards)


@dataclass
class AlertWatch:
    configuration: AlertConfiguration
    picture: Picture
    clock: str
    """The clock on the log it keeps time by."""
    organisation: str
    """The organisation that runs the flow centre, in whose name it publishes."""
    rules: dict[str, RuleRecord] = field(default_factory=dict)
    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    """Alerts not yet resolved."""
    watches: dict[tuple[str, str], Watch] = field(default_factory=dict)
    now: datetime | None = None
    opel: OpelWatch | None = None
    """Assesses OPEL at each tick, when configured."""

    @property
    def zone(self) -> ZoneInfo:
        return self.picture.zone

    def take(self, change: State) -> list[EventBase]:
        """Absorbs the records a change replaced; returns the events they lead to.

        The records are judged at the clock's time before the change, and a tick in the
        change comes after them: a condition that began before a tick has held since the
        tick before it, however the changes were batched."""
        published = self._judge(self._absorb(change))
        ticked = change.clocks.get(self.clock)
        if ticked is not None and (self.now is None or ticked.at > self.now):
            self.now = ticked.at
            self.picture.forget_before(self.now - KEPT_PAST)
            if self.opel is not None:
                # Assessed first, so that rules on OPEL judge the level of this tick.
                assessments = self.opel.assess(self.picture, self.now, self.organisation)
                for assessment in assessments:
                    place = assessment.payload.scope.id or "system"
                    self.picture.opel[place] = assessment.payload.level
                published += assessments
            published += self._judge(Touched(everything=True))
        return published

    def _judge(self, touched: Touched) -> list[EventBase]:
        if self.now is None:
            return []  # nothing is judged before the clock's first tick
        published = [*self._retired(), *self._read(touched)]
        if touched.everything or published:
            published += self._escalations()
        return published

    def _absorb(self, change: State) -> Touched:
        touched = Touched(everything=bool(change.sites or change.wards or change.opel))
        for bed in change.beds.values():
            if (before := self.picture.beds.get(bed.bed_id)) is not None:
                touched.wards.add(before.ward_id)
            touched.wards.add(bed.ward_id)
        for spell in change.spells.values():
            was = self.picture.spells.get(spell.spell_id)
            touched.wards |= {ward for one in (was, spell) if one and (ward := ward_of(one))}
            touched.queues = touched.queues or bool(spell.referrals or (was and was.referrals))
        touched.queues = touched.queues or bool(change.capacity)
        for wait in change.pending.values():
            waited = self.picture.pending.get(wait.spell_id)
            for one in (waited, wait):
                if one is not None:
                    touched.wards |= self.picture.wards_awaited(one)
            touched.waits = True
        self.picture.absorb(change)
        if self.opel is not None:
            self.opel.absorb(change)
        for rule in change.rules.values():
            self.rules[rule.rule_id] = rule
            touched.rules.add(rule.rule_id)
        for alert in change.alerts.values():
            self._alert_changed(alert)
        return touched

    def _alert_changed(self, record: AlertRecord) -> None:
        if record.status is not AlertStatus.RESOLVED:
            self.alerts[record.alert_id] = record
            return
        self.alerts.pop(record.alert_id, None)
        by_hand = record.resolved is not None and record.resolved.by.kind is not ActorKind.SYSTEM
        for key, watch in self.watches.items():
            if watch.alert_id == record.alert_id and by_hand:
                self.watches[key] = resolved_by_hand(watch)

    def _current(self) -> Iterator[tuple[AlertRule, int]]:
        for record in self.rules.values():
            if (version := record.current) is not None:
                yield version.rule, record.version

    def _read(self, touched: Touched) -> list[EventBase]:
        assert self.now is not None
        published: list[EventBase] = []
        for rule, version in self._current():
            for instance in self.picture.instances(rule.scope, rule.site_kind):
                wards = self.picture.wards_in(instance, rule.site_kind)
                if not touched.moves(rule, wards):
                    continue
                reading = read(
                    self.picture,
                    rule.measure,
                    instance,
                    self.now,
                    site_kind=rule.site_kind,
                    beds=rule.beds,
                )
                key = (rule.id, scope_key(instance))
                watch, outcome = observe(
                    rule, key[1], reading, self.watches.get(key, Watch()), self.now, self.zone
                )
                self.watches[key] = watch
                if isinstance(outcome, Raise):
                    assert outcome.reading.value is not None, "only a reading can breach"
                    details = RaisedAlert(
                        alert_id=outcome.alert_id,
                        rule=rule,
                        rule_version=version,
                        scope=instance,
                        value=outcome.reading.value,
                        wards=outcome.reading.wards,
                        patients=outcome.reading.patients,
                    )
                    published.append(self._publish(AlertRaised, "raised", details))
                elif isinstance(outcome, Clear):
                    cleared = (
                        {"reason": outcome.why} if outcome.why else {"value": outcome.reading.value}
                    )
                    resolution = Resolution(alert_id=outcome.alert_id, **cleared)
                    published.append(self._publish(AlertResolved, "cleared", resolution))
        return published

    def _retired(self) -> list[EventBase]:
        """Resolutions of the open alerts of rules deleted since they were raised, and of
        scopes a rule no longer watches (a ward closed, the rule's scope changed)."""
        watched = {
            (rule.id, scope_key(instance))
            for rule, _ in self._current()
            for instance in self.picture.instances(rule.scope, rule.site_kind)
        }
        live = {rule.id for rule, _ in self._current()}
        published: list[EventBase] = []
        for key, watch in list(self.watches.items()):
            if key in watched:
                continue
            del self.watches[key]
            if watch.alert_id is not None:
                why = "its scope no longer applies" if key[0] in live else "its rule was deleted"
                resolution = Resolution(alert_id=watch.alert_id, reason=why)
                published.append(self._publish(AlertResolved, "retired", resolution))
        return published

    def _escalations(self) -> list[EventBase]:
        """The ladder steps open, unacknowledged alerts have reached by now."""
        assert self.now is not None
        published: list[EventBase] = []
        for record in list(self.alerts.values()):
            if record.status is not AlertStatus.OPEN or record.details is None:
                continue
            ladder = self.configuration.ladders.get(record.details.rule.ladder or "")
            if ladder is None or record.raised is None:
                continue
            for step in due_steps(ladder, record.raised.at, record.climbed, self.now):
                escalation = Escalation(
                    alert_id=record.alert_id, step=step, notify=ladder.steps[step].notify
                )
                published.append(self._publish(AlertEscalated, f"step-{step}", escalation))
        return published

    def _publish(self, kind: type[EventBase], what: str, payload: object) -> EventBase:
        """The event, named by its alert and what happened, and taken into the watch's
        own records at once, so it is not published again before it comes back."""
        assert self.now is not None
        alert_id: str = payload.alert_id  # type: ignore[attr-defined]
        event = watched(kind, f"{alert_id}/{what}", self.now, self.organisation, payload)
        assert isinstance(event, AlertRaised | AlertEscalated | AlertResolved)
        self._alert_changed(alert_history.fold_alert(self.alerts.get(alert_id), event))
        return event


def resumed(
    kept: Mapping[tuple[str, str], Watch], alerts: Iterable[AlertRecord]
) -> dict[tuple[str, str], Watch]:
    """The watches to start from: those kept when the watch last ran, with each scope's
    open alert as the view has it now. An alert the view resolved meanwhile is no longer
    the watch's, and one it has that the kept watches lack (raised just before a stop)
    is taken up, so no scope is raised twice."""
    watches = {key: watch.model_copy(update={"alert_id": None}) for key, watch in kept.items()}
    for record in alerts:
        if record.status is AlertStatus.RESOLVED or record.details is None:
            continue
        key = (record.details.rule.id, scope_key(record.details.scope))
        held = watches.get(key, Watch())
        since = held.breached_since or (record.raised.at if record.raised else None)
        watches[key] = held.model_copy(
            update={"alert_id": record.alert_id, "breached_since": since}
        )
    return watches

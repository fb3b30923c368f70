"""The live measures alert rules watch, each defined once, over the picture of the
health economy that the view holds: the registry, the beds, the spells in hospital (and
those discharged today), the patients waiting for a bed and the community capacity
pools.

``docs/alerts.md`` states each definition; the functions here are those definitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from flowcentre.domain import clocks, discharge_lists
from flowcentre.domain.alert_rules import BedFilter, Level, Measure, Scope
from flowcentre.domain.apply import State
from flowcentre.domain.beds import BedState
from flowcentre.domain.events import SiteDetails, WardDetails
from flowcentre.domain.model import Bed, CapacityPool, Spell
from flowcentre.domain.pending_admissions import PendingAdmission
from flowcentre.domain.places import SiteKind
from flowcentre.domain.triage import Pathway

SYSTEM = "system"
#: The window of discharges against admissions: a whole day's rhythm.
DAY_OF_FLOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Reading:
    """A measure's value in one scope, and what it was made of."""

    value: float | None
    """None when there is nothing to measure (a percentage of no beds)."""
    wards: int
    """Wards of the scope that contributed."""
    patients: int
    """Patients counted (for bed measures: in the beds counted)."""


@dataclass
class Picture:
    """What the measures read, kept current by the records the view sends."""

    zone: ZoneInfo
    sites: dict[str, SiteDetails] = field(default_factory=dict)
    wards: dict[str, WardDetails] = field(default_factory=dict)
    beds: dict[str, Bed] = field(default_factory=dict)
    spells: dict[str, Spell] = field(default_factory=dict)
    pools: dict[str, CapacityPool] = field(default_factory=dict)
    opel: dict[str, int | None] = field(default_factory=dict)
    """Each acute site's OPEL level, and the system's (``system``), as last assessed."""
    pending: dict[str, PendingAdmission] = field(default_factory=dict)
    """The patients waiting for a bed, by spell."""
    _ward_beds: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _ward_spells: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _referred: set[str] = field(default_factory=set)
    """Spells in hospital with a referral: the queues are read from these alone."""
    _covered: dict[tuple[Level, str | None, SiteKind | None], frozenset[str]] = field(
        default_factory=dict
    )
    """The wards each scope covers, kept until a site or ward changes: every reading
    needs them, and the registry rarely changes."""
    _instances: dict[tuple[Level, SiteKind | None], list[Scope]] = field(default_factory=dict)
    """The places of each level, kept likewise."""

    def absorb(self, change: State) -> None:
        """Takes the records a change replaced (or a whole state)."""
        if change.sites or change.wards:
            self._covered.clear()
            self._instances.clear()
        self.sites.update((key, site.payload) for key, site in change.sites.items())
        self.wards.update((key, ward.payload) for key, ward in change.wards.items())
        for bed in change.beds.values():
            self.put_bed(bed)
        for spell in change.spells.values():
            self.put_spell(spell)
        self.pools.update(change.capacity)
        for place, record in change.opel.items():
            if (current := record.current) is not None:
                self.opel[place] = current.change.level
        for spell_id, wait in change.pending.items():
            if wait.waiting:
                self.pending[spell_id] = wait
            else:
                self.pending.pop(spell_id, None)

    def put_bed(self, bed: Bed) -> None:
        if (before := self.beds.get(bed.bed_id)) is not None:
            self._ward_beds[before.ward_id].discard(bed.bed_id)
        self.beds[bed.bed_id] = bed
        self._ward_beds[bed.ward_id].add(bed.bed_id)

    def put_spell(self, spell: Spell) -> None:
        """Keeps a spell while it is in hospital, and on the day it left."""
        before = self.spells.pop(spell.spell_id, None)
        if before is not None and (ward_id := ward_of(before)) is not None:
            self._ward_spells[ward_id].discard(spell.spell_id)
        self._referred.discard(spell.spell_id)
        if spell.in_hospital or spell.discharged is not None:
            self.spells[spell.spell_id] = spell
            if (ward_id := ward_of(spell)) is not None:
                self._ward_spells[ward_id].add(spell.spell_id)
            if spell.in_hospital and spell.referral is not None:
                self._referred.add(spell.spell_id)

    def forget_before(self, moment: datetime) -> None:
        """Drops the patients discharged before ``moment`` and the pools of days before
        its day: the measures count discharges and capacity from today on."""
        day = moment.astimezone(self.zone).date()
        for key in [key for key, pool in self.pools.items() if pool.capacity.day < day]:
            del self.pools[key]
        for spell in list(self.spells.values()):
            if spell.discharged is not None and spell.discharged.at < moment:
                self.spells.pop(spell.spell_id)
                if (ward_id := ward_of(spell)) is not None:
                    self._ward_spells[ward_id].discard(spell.spell_id)

    def beds_of(self, wards: Iterable[str]) -> list[Bed]:
        return [self.beds[bed_id] for ward_id in wards for bed_id in self._ward_beds[ward_id]]

    def spells_of(self, wards: Iterable[str]) -> list[Spell]:
        return [self.spells[spell_id] for ward in wards for spell_id in self._ward_spells[ward]]

    def referred(self) -> list[Spell]:
        """Spells in hospital with a referral, open or not."""
        return [self.spells[spell_id] for spell_id in self._referred]

    def place(self, ward_id: str, level: Level) -> str | None:
        """The organisation, site, ward or specialty a ward belongs to at ``level``."""
        ward = self.wards[ward_id]
        site = self.sites.get(ward.site_id)
        return {
            Level.ORGANISATION: site.organisation_id if site else None,
            Level.SITE: ward.site_id,
            Level.WARD: ward_id,
            Level.SPECIALTY: ward.specialty,
        }.get(level)

    def wards_in(self, scope: Scope, site_kind: SiteKind | None = None) -> frozenset[str]:
        """The wards a scope covers (every ward for the system, a pathway, or a level
        without an id), of sites of ``site_kind`` only when one is given."""
        key = (scope.level, scope.id, site_kind)
        covered = self._covered.get(key)
        if covered is None:
            covered = self._covered[key] = frozenset(
                ward_id
                for ward_id, ward in self.wards.items()
                if (site_kind is None or self._site_kind(ward.site_id) is site_kind)
                and (
                    scope.id is None
                    or scope.level is Level.PATHWAY
                    or self.place(ward_id, scope.level) == scope.id
                )
            )
        return covered

    def awaited(self, wait: PendingAdmission, level: Level) -> str | None:
        """The organisation, site, ward or specialty a wait for a bed counts in at
        ``level``: its site's, and the ward or specialty its request names (a named
        ward's specialty when the request names none)."""
        if level is Level.ORGANISATION:
            site = self.sites.get(wait.site_id)
            return site.organisation_id if site else None
        if level is Level.SITE:
            return wait.site_id
        if level is Level.WARD:
            return wait.ward_id
        if level is Level.SPECIALTY:
            ward = self.wards.get(wait.ward_id) if wait.ward_id else None
            return wait.specialty or (ward.specialty if ward else None)
        return None

    def waiting_in(self, scope: Scope, site_kind: SiteKind | None = None) -> list[PendingAdmission]:
        """The patients waiting for a bed in a scope, at sites of ``site_kind`` only when
        one is given."""
        return [
            wait
            for wait in self.pending.values()
            if (site_kind is None or self._site_kind(wait.site_id) is site_kind)
            and (scope.id is None or self.awaited(wait, scope.level) == scope.id)
        ]

    def wards_awaited(self, wait: PendingAdmission) -> frozenset[str]:
        """The wards whose rules a wait can move: its site's, its ward, and its
        specialty's."""
        specialty = self.awaited(wait, Level.SPECIALTY)
        return frozenset(
            ward_id
            for ward_id, ward in self.wards.items()
            if ward.site_id == wait.site_id
            or ward_id == wait.ward_id
            or (specialty is not None and ward.specialty == specialty)
        )

    def _site_kind(self, site_id: str) -> SiteKind | None:
        site = self.sites.get(site_id)
        return site.kind if site else None

    def instances(self, scope: Scope, site_kind: SiteKind | None = None) -> list[Scope]:
        """The scopes a rule watches each on its own: only its own when it names one."""
        if scope.id is not None or scope.level is Level.SYSTEM:
            return [scope]
        if scope.level is Level.PATHWAY:
            return [Scope(level=scope.level, id=pathway.value) for pathway in Pathway]
        key = (scope.level, site_kind)
        found = self._instances.get(key)
        if found is None:
            places = (
                self.place(ward_id, scope.level) for ward_id in self.wards_in(scope, site_kind)
            )
            ids = sorted({place for place in places if place is not None})
            found = self._instances[key] = [Scope(level=scope.level, id=one) for one in ids]
        return found


def ward_of(spell: Spell) -> str | None:
    """Where a spell counts: its ward, or the ward it left from."""
    return spell.stays[-1].location.ward_id if spell.stays else None


def scope_key(scope: Scope) -> str:
    return SYSTEM if scope.level is Level.SYSTEM else f"{scope.level}:{scope.id}"


@dataclass(frozen=True)
class _Look:
    """One reading's inputs: the picture, the rule's place and filter, and the clock."""

    picture: Picture
    scope: Scope
    site_kind: SiteKind | None
    beds: BedFilter
    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(self.picture.zone).date()

    @cached_property
    def wards(self) -> frozenset[str]:
        return self.picture.wards_in(self.scope, self.site_kind)

    def counted_beds(self, chosen: BedFilter | None = None) -> list[Bed]:
        """Registered beds of the scope that the filter keeps."""
        chosen = chosen or self.beds
        sex = {ward_id: self.picture.wards[ward_id].sex for ward_id in self.wards}
        return [
            bed
            for bed in self.picture.beds_of(self.wards)
            if bed.registered
            and (chosen.side_room is None or _side_room(bed) is chosen.side_room)
            and (chosen.sex is None or sex[bed.ward_id] is chosen.sex)
        ]

    @cached_property
    def in_hospital(self) -> list[Spell]:
        return [spell for spell in self.picture.spells_of(self.wards) if spell.in_hospital]

    @cached_property
    def pathway(self) -> Pathway | None:
        return None if self.scope.id is None else Pathway(self.scope.id)

    @cached_property
    def waiting(self) -> list[PendingAdmission]:
        """The patients waiting for a bed in the scope."""
        return self.picture.waiting_in(self.scope, self.site_kind)

    @cached_property
    def queue(self) -> list[Spell]:
        """Patients in hospital with an open referral (to the scope's pathway)."""
        return [
            spell
            for spell in self.picture.referred()
            if (referral := spell.referral) is not None
            and referral.open
            and (self.pathway is None or referral.pathway is self.pathway)
        ]


def _side_room(bed: Bed) -> bool:
    return bed.details is not None and bed.details.side_room


def _wards_of(beds: Iterable[Bed] = (), spells: Iterable[Spell] = ()) -> int:
    named = {bed.ward_id for bed in beds} | {ward_of(spell) for spell in spells}
    return len(named - {None})


def _patients(spells: Iterable[Spell]) -> Reading:
    chosen = list(spells)
    return Reading(len(chosen), _wards_of(spells=chosen), len(chosen))


def _beds(beds: list[Bed], value: float | None = None) -> Reading:
    occupants = sum(len(bed.occupants) for bed in beds)
    return Reading(len(beds) if value is None else value, _wards_of(beds), occupants)


def occupancy(look: _Look) -> Reading:
    """Occupied beds as a percentage of open beds: registered beds the filter keeps, less
    those closed or blocked. Nothing to measure without an open bed."""
    beds = look.counted_beds()
    open_beds = [bed for bed in beds if bed.state not in (BedState.CLOSED, BedState.BLOCKED)]
    occupied = [bed for bed in open_beds if bed.state is BedState.OCCUPIED]
    if not open_beds:
        return Reading(None, 0, 0)
    return _beds(open_beds, round(100 * len(occupied) / len(open_beds), 1))


def available(look: _Look) -> Reading:
    """Registered beds the filter keeps that are available: clean, open and empty.
    Nothing to measure where the filter keeps no bed (no side rooms at all)."""
    return _counted_in(look, (BedState.AVAILABLE,))


def closed(look: _Look) -> Reading:
    """Registered beds the filter keeps that are closed or blocked; nothing to measure
    where it keeps none."""
    return _counted_in(look, (BedState.CLOSED, BedState.BLOCKED))


def _counted_in(look: _Look, states: tuple[BedState, ...]) -> Reading:
    beds = look.counted_beds()
    if not beds:
        return Reading(None, 0, 0)
    return _beds([bed for bed in beds if bed.state in states])


def no_criteria_to_reside(spell: Spell) -> bool:
    """In hospital, and the latest review found the criteria to reside not met."""
    return spell.in_hospital and spell.reside is not None and not spell.reside.meets_criteria


def without_criteria(look: _Look) -> Reading:
    """Patients in hospital whose latest review found them not meeting the criteria."""
    return _patients(filter(no_criteria_to_reside, look.in_hospital))


def without_criteria_share(look: _Look) -> Reading:
    """Those patients as a percentage of the scope's occupied beds (every registered bed,
    whatever the filter). Nothing to measure without an occupied bed."""
    return _share_of_occupied(look, without_criteria(look))


def _share_of_occupied(look: _Look, counted: Reading) -> Reading:
    every_bed = look.counted_beds(BedFilter())
    occupied = sum(1 for bed in every_bed if bed.state is BedState.OCCUPIED)
    if not occupied:
        return Reading(None, counted.wards, counted.patients)
    return Reading(round(100 * counted.patients / occupied, 1), counted.wards, counted.patients)


def stranded(look: _Look) -> Reading:
    """Patients in hospital for 7 days or more, from their admission."""
    return _patients(s for s in look.in_hospital if clocks.long_stay(s, look.now) is not None)


def super_stranded(look: _Look) -> Reading:
    """Patients in hospital for 21 days or more, from their admission."""
    return _patients(
        s for s in look.in_hospital if clocks.long_stay(s, look.now) == "super_stranded"
    )


def super_stranded_share(look: _Look) -> Reading:
    """Those patients as a percentage of the scope's occupied beds (every registered bed,
    whatever the filter). Nothing to measure without an occupied bed."""
    return _share_of_occupied(look, super_stranded(look))


def tasks_outstanding(look: _Look) -> Reading:
    """Discharge tasks pending or started of patients still in hospital on or after the
    day they are expected to leave; ``patients``: how many such patients."""
    flagged = [(s, clocks.flagged_tasks(s, look.today)) for s in look.in_hospital]
    flagged = [(spell, tasks) for spell, tasks in flagged if tasks]
    total = sum(len(tasks) for _, tasks in flagged)
    return Reading(total, _wards_of(spells=[spell for spell, _ in flagged]), len(flagged))


def discharges_today(look: _Look) -> Reading:
    """Patients discharged since local midnight from the scope's wards."""
    start = clocks.day_start(look.today, look.picture.zone)
    left = look.picture.spells_of(look.wards)
    return _patients(s for s in left if s.discharged is not None and s.discharged.at >= start)


def discharges_against_admissions(look: _Look) -> Reading:
    """Patients discharged in the 24 hours to ``now`` as a percentage of those admitted in
    them, both from the scope's wards (a patient counts on the ward of their bed, or of
    the bed they left). Nothing to measure without an admission; ``patients``: those
    admitted."""
    since = look.now - DAY_OF_FLOW
    spells = look.picture.spells_of(look.wards)
    admitted = [s for s in spells if s.admitted and since <= s.admitted.at <= look.now]
    left = [s for s in spells if s.discharged and since <= s.discharged.at <= look.now]
    if not admitted:
        return Reading(None, 0, 0)
    value = round(100 * len(left) / len(admitted), 1)
    return Reading(value, _wards_of(spells=[*admitted, *left]), len(admitted))


def escalation_share(look: _Look) -> Reading:
    """Open escalation beds as a percentage of the open beds: registered beds the filter
    keeps, less those closed or blocked. Nothing to measure without an open bed;
    ``patients``: those in the escalation beds."""
    open_beds = [
        bed for bed in look.counted_beds() if bed.state not in (BedState.CLOSED, BedState.BLOCKED)
    ]
    if not open_beds:
        return Reading(None, 0, 0)
    escalation = [bed for bed in open_beds if bed.details and bed.details.escalation]
    return _beds(escalation, round(100 * len(escalation) / len(open_beds), 1))


def queue_length(look: _Look) -> Reading:
    """Patients in hospital with an open referral: to the pathway's queue, the triaged
    ones allocated that pathway; to the whole queue, every one."""
    return _patients(look.queue)


def oldest_wait(look: _Look) -> Reading:
    """The longest wait in the queue, in hours: in a pathway's queue, since the triage
    that allocated that pathway; in the whole queue, since the referral."""
    waits = [_waited(spell, look.pathway, look.now) for spell in look.queue]
    if not waits:
        return Reading(None, 0, 0)
    hours = round(max(waits).total_seconds() / 3600, 1)
    return Reading(hours, _wards_of(spells=look.queue), len(look.queue))


def _waited(spell: Spell, pathway: Pathway | None, now: datetime) -> timedelta:
    referral = spell.referral
    assert referral is not None, "only referred patients queue"
    waits = clocks.queue_waits(referral)
    if pathway is None or not waits:
        return now - referral.referred.at
    return waits[-1].interval.length_at(now)


def demand_over_capacity(look: _Look) -> Reading:
    """Patients waiting for community capacity less the capacity free from today, for
    pathways 1-3 (pathway 0 needs none: nothing to measure); ``patients``: those waiting.
    """
    pathways = [p for p in Pathway if p is not Pathway.HOME and look.pathway in (None, p)]
    if not pathways:
        return Reading(None, 0, 0)
    balance = discharge_lists.demand_and_capacity(
        look.queue, look.picture.pools.values(), look.now, look.today
    )
    waiting = sum(balance[p.value]["waiting"] for p in pathways)
    free = sum(balance[p.value]["free"] for p in pathways)
    return Reading(waiting - free, _wards_of(spells=look.queue), waiting)


def opel_level(look: _Look) -> Reading:
    """The site's OPEL level as last assessed, or the system's; nothing to measure
    before an assessment, or when nothing could be scored."""
    return Reading(look.picture.opel.get(look.scope.id or SYSTEM), 0, 0)


def pending_admissions(look: _Look) -> Reading:
    """Patients waiting for a bed: a request to admit them not ended by an admission, a
    cancel or a discharge. They count at the site the request names, and at its ward or
    specialty when it names one; ``wards``: the wards their requests name."""
    return _waits(look.waiting, len(look.waiting))


def longest_pending(look: _Look) -> Reading:
    """The longest of those waits, in hours to one decimal, from the decision to admit to
    ``now`` (none before the decision); nothing to measure when nobody waits."""
    if not look.waiting:
        return Reading(None, 0, 0)
    longest = max(max(look.now - wait.decided_at, timedelta(0)) for wait in look.waiting)
    return _waits(look.waiting, round(longest.total_seconds() / 3600, 1))


def _waits(waiting: list[PendingAdmission], value: float) -> Reading:
    named = {wait.ward_id for wait in waiting} - {None}
    return Reading(value, len(named), len(waiting))


MEASURES: dict[Measure, Callable[[_Look], Reading]] = {
    Measure.OCCUPANCY_PCT: occupancy,
    Measure.AVAILABLE_BEDS: available,
    Measure.CLOSED_BEDS: closed,
    Measure.NO_CRITERIA_TO_RESIDE: without_criteria,
    Measure.NO_CRITERIA_TO_RESIDE_PCT: without_criteria_share,
    Measure.STRANDED: stranded,
    Measure.SUPER_STRANDED: super_stranded,
    Measure.SUPER_STRANDED_PCT: super_stranded_share,
    Measure.QUEUE_LENGTH: queue_length,
    Measure.OLDEST_WAIT_HOURS: oldest_wait,
    Measure.DEMAND_OVER_CAPACITY: demand_over_capacity,
    Measure.TASKS_OUTSTANDING: tasks_outstanding,
    Measure.DISCHARGES_TODAY: discharges_today,
    Measure.DISCHARGES_AGAINST_ADMISSIONS_PCT: discharges_against_admissions,
    Measure.ESCALATION_BEDS_PCT: escalation_share,
    Measure.OPEL_LEVEL: opel_level,
    Measure.PENDING_ADMISSIONS: pending_admissions,
    Measure.LONGEST_PENDING_HOURS: longest_pending,
}


def read(
    picture: Picture,
    measure: Measure,
    scope: Scope,
    now: datetime,
    *,
    site_kind: SiteKind | None = None,
    beds: BedFilter | None = None,
) -> Reading:
    """The measure in one scope instance at ``now`` (the clock's time on the log)."""
    return MEASURES[measure](_Look(picture, scope, site_kind, beds or BedFilter(), now))

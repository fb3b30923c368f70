"""The county simulator: a pure, seeded generator of a valid event history.

It yields the county's registry first, then its traffic in event-time order, forever:
emergency and elective admissions, moves from the assessment units to base wards,
discharges on the NHS pathways (pathway 2 continuing as an admission to a community
hospital), expected discharge dates, leave, bed swaps, housekeeping, bed closures, and
the corrections real feeds carry; and with them the discharge planning of
``producers.discharge_planning``: referrals to the flow centre, triage, discharge tasks,
community capacity and its reservations, and criteria to reside reviews. It keeps its
own picture of who is in which bed, so it never admits into a bed that is occupied,
dirty, closed or held, and the core folds its history without a conflict. The same
county, start and seed give the same events, ids and all; nothing depends on the wall
clock or on Python's string hashing.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import TypedDict, TypeVar

from flowcentre.domain.beds import BedStatus
from flowcentre.domain.events import (
    Actor,
    ActorKind,
    Admission,
    AdmissionCancelled,
    BedDetails,
    BedRegistered,
    BedsSwapped,
    BedStatusChange,
    BedStatusChanged,
    BedSwap,
    Discharge,
    DischargeCancelled,
    DischargeDestination,
    EventBase,
    LeaveStart,
    Location,
    OrganisationDetails,
    OrganisationRegistered,
    Patient,
    PatientAdmitted,
    PatientDischarged,
    PatientReturnedFromLeave,
    PatientTransferred,
    PatientWentOnLeave,
    RegistryEvent,
    Sex,
    SiteDetails,
    SiteRegistered,
    Source,
    SpellRef,
    SpellUpdate,
    SpellUpdated,
    Transfer,
    TransferCancellation,
    TransferCancelled,
    WardDetails,
    WardRegistered,
)
from flowcentre.domain.places import OrganisationKind, WardSex
from producers.county import (
    County,
    ElectiveCase,
    EmergencyCase,
    OrganisationSpec,
    Pathway,
    Skewed,
    Ward,
    WardRole,
)
from producers.discharge_planning import DischargePlan, DischargePlanning
from producers.surge import Surge

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# How often a patient nobody can place yet is tried again: the bed manager's next look.
_PLACEMENT_RETRY = 15 * MINUTE
_MOVE_RETRY = 30 * MINUTE
_BUSY_RETRY = HOUR
_COMMUNITY_BED_RETRY = 4 * HOUR
# A discharge due within this long is not worth a move off the assessment unit.
_NOT_WORTH_MOVING = DAY
_READMISSION_POOL = 5000

_FEMALE_NAMES = (
    "Margaret", "Patricia", "Susan", "Linda", "Christine", "Elizabeth", "Janet", "Mary",
    "Carol", "Sandra", "Barbara", "Jean", "Pauline", "Joan", "Sarah", "Emma", "Claire",
    "Helen", "Rachel", "Lisa", "Karen", "Julie", "Amy", "Sophie", "Jessica", "Hannah",
    "Olivia", "Priya", "Aisha", "Fatima", "Doreen", "Irene", "Sheila", "Valerie", "Ann",
)  # fmt: skip
_MALE_NAMES = (
    "John", "David", "Michael", "Peter", "Robert", "Paul", "Richard", "Stephen", "Brian",
    "Alan", "Kevin", "Ian", "Anthony", "Keith", "Colin", "Gary", "Mark", "Andrew", "James",
    "Thomas", "Daniel", "Matthew", "Christopher", "Oliver", "Jack", "Harry", "Mohammed",
    "Raj", "Tomasz", "Kenneth", "Derek", "Roy", "Geoffrey", "Trevor", "Dennis",
)  # fmt: skip
_FAMILY_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
    "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Khan",
    "Begum", "Kaur", "Singh", "Nowak", "Hussain", "Ali", "Pritchard", "Bromley", "Severn",
)  # fmt: skip

T = TypeVar("T")


class _Envelope(TypedDict):
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    source: Source
    caused_by: Actor


# The registry ---------------------------------------------------------------------------


def registry_events(county: County, at: datetime) -> list[RegistryEvent]:
    """Registration of every organisation, site, ward and bed, all as of ``at``, in
    event-time order. The ids rank the hierarchy so that order is also top-down."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    organisations = {org.id: org for org in county.organisations}

    def envelope(rank: str, entity: str, organisation_id: str) -> _Envelope:
        org = organisations[organisation_id]
        return _Envelope(
            event_id=f"reg-{stamp}-{rank}-{entity}",
            occurred_at=at,
            recorded_at=at,
            source=Source(system=org.record_system, organisation=org.id),
            caused_by=_feed(org),
        )

    events: list[RegistryEvent] = [
        OrganisationRegistered(
            **envelope("1ORG", org.id, org.id),
            payload=OrganisationDetails(organisation_id=org.id, name=org.name, kind=org.kind),
        )
        for org in county.organisations
    ]
    events += [
        SiteRegistered(
            **envelope("2SITE", site.id, site.organisation),
            payload=SiteDetails(
                site_id=site.id,
                organisation_id=site.organisation,
                name=site.name,
                kind=site.kind,
            ),
        )
        for site in county.sites
    ]
    events += [
        WardRegistered(
            **envelope("3WARD", ward.ward_id, ward.organisation_id),
            payload=WardDetails(
                ward_id=ward.ward_id,
                site_id=ward.site_id,
                name=ward.spec.name,
                specialty=ward.spec.specialty,
                sex=ward.spec.sex,
            ),
        )
        for ward in county.wards
    ]
    events += [
        BedRegistered(
            **envelope("4BED", bed.bed_id, ward.organisation_id),
            payload=BedDetails(
                bed_id=bed.bed_id,
                ward_id=ward.ward_id,
                label=bed.label,
                room=bed.room,
                side_room=bed.bay is None,
                escalation=ward.spec.role is WardRole.ESCALATION,
            ),
        )
        for ward in county.wards
        for bed in ward.beds
    ]
    events.sort(key=EventBase.order)
    return events


def _feed(org: OrganisationSpec) -> Actor:
    return Actor(kind=ActorKind.SYSTEM, id=f"{org.id}-FEED", name=f"{org.record_system} feed")


# The simulator's own picture of the county ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Organisation:
    spec: OrganisationSpec
    record: Source
    housekeeping: Source
    feed: Actor


@dataclass(slots=True, eq=False)
class _Person:
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date
    sex: Sex
    patient_ids: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class _Bed:
    """A bed as the simulator sees it. Its state changes through the methods below, which
    keep the ward's count of free beds, so a full ward is passed over without a look."""

    bed_id: str
    ward: _Ward
    bay: int | None
    occupant: _Spell | None = None
    # Someone the bed is kept for: a reserved arrival, or the patient of a move that is
    # about to be cancelled. They count for the bay's sex like an occupant.
    held_for: _Spell | None = None
    clean: bool = True
    closed: bool = False

    @property
    def free(self) -> bool:
        return self.occupant is None and self.held_for is None and self.clean and not self.closed

    def occupy(self, spell: _Spell | None) -> None:
        was = self.free
        self.occupant = spell
        self._recount(was)

    def hold(self, spell: _Spell | None) -> None:
        was = self.free
        self.held_for = spell
        self._recount(was)

    def set_clean(self, clean: bool) -> None:
        was = self.free
        self.clean = clean
        self._recount(was)

    def set_closed(self, closed: bool) -> None:
        was = self.free
        self.closed = closed
        self._recount(was)

    def _recount(self, was: bool) -> None:
        self.ward.free_count += self.free - was

    @property
    def location(self) -> Location:
        return Location(ward_id=self.ward.ward_id, bed_id=self.bed_id)

    @property
    def sex_present(self) -> Sex | None:
        spell = self.occupant or self.held_for
        return spell.person.sex if spell else None


@dataclass(slots=True, eq=False)
class _Ward:
    ward: Ward
    ward_id: str
    role: WardRole
    single_sex: Sex | None
    organisation: _Organisation
    site_name: str
    nurse_in_charge: Actor
    discharge_coordinator: Actor
    housekeeping_device: Actor
    beds: list[_Bed] = field(default_factory=list)
    free_count: int = 0

    def free_beds(self, sex: Sex) -> list[_Bed]:
        """Free beds a patient of this sex may take: single-sex wards take one sex, and
        in a mixed ward a bay takes the sex of whoever is in it; side rooms take anyone."""
        if not self.free_count or self.single_sex not in (None, sex):
            return []
        free = [bed for bed in self.beds if bed.free]
        if self.single_sex is not None:
            return free
        open_bays = {bed.bay for bed in free}
        unsuitable = {
            bed.bay
            for bed in self.beds
            if bed.bay in open_bays and bed.sex_present not in (None, sex)
        }
        return [bed for bed in free if bed.bay not in unsuitable] if unsuitable else free


@dataclass(slots=True, eq=False)
class _Spell:
    spell_id: str
    person: _Person
    patient: Patient
    organisation: _Organisation
    site_id: str
    specialties: tuple[str, ...]
    destination: DischargeDestination
    detail: str
    wait: Skewed | None
    bed: _Bed
    admitted_at: int
    optimised_at: int = 0
    discharge_at: int | None = None
    expected_discharge_date: date | None = None
    active: bool = True
    busy: bool = False
    on_leave: bool = False
    # The pathway planned at admission; a community hospital's own spells have none.
    pathway: Pathway | None = None
    # The flow centre's plan, from the referral on.
    plan: DischargePlan | None = None


# The simulation -------------------------------------------------------------------------


def _run_tag(seed: int, start: datetime) -> str:
    """A short tag in this run's spell, patient and event ids, so that a run with another
    seed or start does not fold into this one's spells. A digest rather than ``hash``,
    which differs from process to process for a str."""
    text = f"{seed}|{start.astimezone(UTC).isoformat()}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest().upper()


def _nhs_check_digit(first_nine: str) -> int | None:
    """The NHS number's modulus 11 check digit, or None where no valid number exists."""
    weights = range(10, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, weights, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def _poisson(rng: random.Random, mean: float) -> int:
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


class _Simulation:
    def __init__(self, county: County, start: datetime, seed: int) -> None:
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        self.county = county
        self.traffic = county.traffic
        self.zone = county.zone
        self.rng = random.Random(seed)
        self.tag = _run_tag(seed, start)
        self.now = int(start.timestamp())
        self._now_dt = datetime.fromtimestamp(self.now, UTC)
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._sequence = 0
        self._emitted: list[EventBase] = []
        self._event_count = 0
        self._spell_count = 0
        self._patient_count = 0
        self._nhs_offset = self.rng.randrange(1_000_000)
        self._nhs_index = 0
        self._readmissions: list[_Person] = []
        self._outlying_after = int(county.traffic.emergency.outlying_after_hours * HOUR)
        self.organisations = {org.id: self._organisation(org) for org in county.organisations}
        self.wards = [self._ward(ward) for ward in county.wards]
        self._wards_by_specialty: dict[tuple[str, str], list[_Ward]] = {}
        for ward in self.wards:
            key = (ward.ward.site_id, ward.ward.spec.specialty)
            self._wards_by_specialty.setdefault(key, []).append(ward)
        self._site_wards: dict[str, list[_Ward]] = {}
        for ward in self.wards:
            if ward.role is WardRole.INPATIENT:
                self._site_wards.setdefault(ward.ward.site_id, []).append(ward)
        self.community_wards = [ward for ward in self.wards if ward.role is WardRole.COMMUNITY]
        self._swap_wards = [
            ward
            for ward in self.wards
            if ward.role is WardRole.INPATIENT and any(bed.bay is None for bed in ward.beds)
        ]
        # Escalation beds open and close with a surge alone.
        self._closable = [ward for ward in self.wards if ward.role is not WardRole.ESCALATION]
        self._closure_weights = list(accumulate(len(ward.beds) for ward in self._closable))
        self._emergency_hours = list(accumulate(self.traffic.emergency.hourly_weights))
        discharge = self.traffic.discharge
        self._discharge_hours = list(accumulate(discharge.hourly_weights))
        self._weekend_factors = (discharge.saturday_factor, discharge.sunday_factor)
        self._weekend_backlog_days = discharge.weekend_backlog_days
        self._pathway_weights = list(accumulate(p.share for p in self.traffic.pathways))
        self._case_weights = list(accumulate(c.share for c in self.traffic.emergency.cases))
        self._elective_weights = list(accumulate(c.share for c in self.traffic.elective.cases))
        self._community_weights = list(
            accumulate(d.share for d in self.traffic.community.destinations)
        )
        self.planning = DischargePlanning(self, county)
        self._later(0, lambda: self._new_day(self.local(self.now).date()))
        self._later(0, self._close_escalation_beds)

    # Setting up -------------------------------------------------------------------------

    def _organisation(self, spec: OrganisationSpec) -> _Organisation:
        return _Organisation(
            spec=spec,
            record=Source(system=spec.record_system, organisation=spec.id),
            housekeeping=Source(
                system=spec.housekeeping_system or spec.record_system, organisation=spec.id
            ),
            feed=_feed(spec),
        )

    def _ward(self, ward: Ward) -> _Ward:
        site = self.county.site(ward.site_id)
        # One housekeeping handset serves four neighbouring wards of a site.
        handset = [w.code for w in site.wards].index(ward.spec.code) // 4 + 1
        designation = ward.spec.sex
        simulated = _Ward(
            ward=ward,
            ward_id=ward.ward_id,
            role=ward.spec.role,
            single_sex=None if designation is WardSex.MIXED else Sex(designation.value),
            organisation=self.organisations[ward.organisation_id],
            site_name=site.name,
            nurse_in_charge=Actor(
                kind=ActorKind.USER,
                id=f"{ward.ward_id}:nurse-in-charge",
                name=f"Nurse in charge, {ward.spec.name}",
            ),
            discharge_coordinator=Actor(
                kind=ActorKind.USER,
                id=f"{ward.ward_id}:discharge-coordinator",
                name=f"Discharge coordinator, {ward.spec.name}",
            ),
            housekeeping_device=Actor(
                kind=ActorKind.DEVICE,
                id=f"{ward.site_id}-HK-{handset:02d}",
                name=f"Housekeeping handset {handset}, {site.name}",
            ),
        )
        simulated.beds = [_Bed(bed.bed_id, simulated, bed.bay) for bed in ward.beds]
        simulated.free_count = len(simulated.beds)
        return simulated

    # The clock and the queue ------------------------------------------------------------

    def run(self, until: int | None) -> Iterator[EventBase]:
        queue = self._queue
        while queue:
            moment = queue[0][0]
            if until is not None and moment >= until:
                return
            self.now = moment
            self._now_dt = datetime.fromtimestamp(moment, UTC)
            while queue and queue[0][0] == moment:
                heapq.heappop(queue)[2]()
            if self._emitted:
                self._emitted.sort(key=EventBase.order)
                yield from self._emitted
                self._emitted.clear()

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        self.at(self.now + max(0, int(delay)), action)

    def at(self, moment: int, action: Callable[[], None]) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (max(moment, self.now), self._sequence, action))

    def local(self, moment: int) -> datetime:
        return datetime.fromtimestamp(moment, self.zone)

    def local_moment(self, day: date, second_of_day: int) -> int:
        hour, rest = divmod(second_of_day, HOUR)
        minute, second = divmod(rest, MINUTE)
        local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=self.zone)
        return int(local.timestamp())

    def today(self) -> date:
        return self.local(self.now).date()

    # Drawing ----------------------------------------------------------------------------

    def skewed(self, quantity: Skewed) -> float:
        return self.rng.lognormvariate(math.log(quantity.median), quantity.sigma)

    def _pick(self, items: Sequence[T], cumulative: Sequence[float]) -> T:
        return self.rng.choices(items, cum_weights=cumulative)[0]

    def chance(self, share: float) -> bool:
        return self.rng.random() < share

    # Emitting ---------------------------------------------------------------------------

    def envelope(self, source: Source, actor: Actor, rng: random.Random | None = None) -> _Envelope:
        """The envelope of an event happening now; ``rng``: the generator its recording lag
        is drawn from, when not the county's."""
        draw = rng or self.rng
        self._event_count += 1
        if actor.kind is ActorKind.SYSTEM:
            # Feeds batch and queue: most messages land within a minute, a few much later.
            lag = min(int(draw.lognormvariate(math.log(45), 1.0)), 15 * MINUTE)
        elif actor.kind is ActorKind.DEVICE:
            lag = draw.randrange(15)
        else:
            lag = draw.randrange(4 * MINUTE)
        return _Envelope(
            event_id=f"{self.tag}-{self._event_count:08d}",
            occurred_at=self._now_dt,
            recorded_at=self._now_dt + timedelta(seconds=lag),
            source=source,
            caused_by=actor,
        )

    def emit(self, event: EventBase) -> None:
        self._emitted.append(event)

    def _record(self, ward: _Ward, actor: Actor | None = None) -> _Envelope:
        """Envelope of a patient administration event, by the feed unless a ward role."""
        organisation = ward.organisation
        return self.envelope(organisation.record, actor or organisation.feed)

    def _set_bed_status(
        self, bed: _Bed, status: BedStatus, reason: str | None, actor: Actor, source: Source
    ) -> None:
        self.emit(
            BedStatusChanged(
                **self.envelope(source, actor),
                payload=BedStatusChange(bed_id=bed.bed_id, status=status, reason=reason),
            )
        )

    def update_expected(
        self, spell: _Spell, day: date, destination: DischargeDestination | None = None
    ) -> None:
        if day == spell.expected_discharge_date and destination is None:
            return
        spell.expected_discharge_date = day
        # Only the fields given are changed, so a date-only update keeps the destination.
        if destination is None:
            update = SpellUpdate(spell_id=spell.spell_id, expected_discharge_date=day)
        else:
            update = SpellUpdate(
                spell_id=spell.spell_id,
                expected_discharge_date=day,
                expected_destination=destination,
            )
        ward = spell.bed.ward
        self.emit(SpellUpdated(**self._record(ward, ward.discharge_coordinator), payload=update))

    # People -----------------------------------------------------------------------------

    def _nhs_number(self) -> str:
        """A unique, valid NHS number in the 999 range, which is reserved for testing."""
        while True:
            self._nhs_index += 1
            # Stepping by a number prime to 10**6 visits every number once, out of order.
            body = f"999{(self._nhs_offset + self._nhs_index * 7919) % 1_000_000:06d}"
            check = _nhs_check_digit(body)
            if check is not None:
                return f"{body}{check}"

    def person(self, age: tuple[int, int], sex: Sex | None = None) -> _Person:
        rng = self.rng
        sex = sex or (Sex.FEMALE if rng.random() < 0.52 else Sex.MALE)
        low, high = age
        years = rng.triangular(low, high, low + 0.7 * (high - low))
        birth = self.today() - timedelta(days=int(years * 365.25))
        names = _FEMALE_NAMES if sex is Sex.FEMALE else _MALE_NAMES
        return _Person(
            nhs_number=self._nhs_number(),
            given_name=rng.choice(names),
            family_name=rng.choice(_FAMILY_NAMES),
            birth_date=birth,
            sex=sex,
        )

    def _patient(self, person: _Person, organisation: _Organisation) -> Patient:
        """The person as this organisation's system knows them: its own patient id, the
        shared NHS number."""
        org_id = organisation.spec.id
        if org_id not in person.patient_ids:
            self._patient_count += 1
            person.patient_ids[org_id] = f"{org_id}-{self.tag}-P{self._patient_count:06d}"
        return Patient(
            patient_id=person.patient_ids[org_id],
            nhs_number=person.nhs_number,
            given_name=person.given_name,
            family_name=person.family_name,
            birth_date=person.birth_date,
            sex=person.sex,
        )

    def _spell_id(self, organisation: _Organisation) -> str:
        self._spell_count += 1
        return f"{organisation.spec.id}-{self.tag}-S{self._spell_count:06d}"

    # Finding beds -----------------------------------------------------------------------

    def find_bed(
        self, site_id: str, specialties: Sequence[str], sex: Sex, roles: tuple[WardRole, ...]
    ) -> _Bed | None:
        """A free bed on the first specialty that has one, on its least full ward."""
        for specialty in specialties:
            choice: list[_Bed] = []
            for ward in self._wards_by_specialty.get((site_id, specialty), ()):
                if ward.role in roles:
                    beds = ward.free_beds(sex)
                    if len(beds) > len(choice):
                        choice = beds
            if choice:
                return self.rng.choice(choice)
        return None

    def _outlying_bed(self, site_id: str, sex: Sex) -> _Bed | None:
        """A bed on any base ward of the site: the patient becomes an outlier, cared for
        on another specialty's ward, rather than wait any longer."""
        choice: list[_Bed] = []
        for ward in self._site_wards[site_id]:
            beds = ward.free_beds(sex)
            if len(beds) > len(choice):
                choice = beds
        return self.rng.choice(choice) if choice else None

    def find_community_bed(self, sex: Sex, sites: Collection[str] | None = None) -> _Bed | None:
        """A free community hospital bed, on one of ``sites`` if given."""
        wards = [w for w in self.community_wards if sites is None or w.ward.site_id in sites]
        beds = [bed for ward in wards for bed in ward.free_beds(sex)]
        return self.rng.choice(beds) if beds else None

    # The day's demand -------------------------------------------------------------------

    def _new_day(self, day: date) -> None:
        """Plan the day's arrivals and ward events; the rest follows from them."""
        self._plan_emergencies(day)
        if day.weekday() < 5:
            self._plan_electives(day)
        events = self.traffic.ward_events
        plans: list[tuple[float, Callable[[], None]]] = [
            (self.traffic.community.step_up_per_day, self._step_up),
            (events.bed_swaps_per_day, self._swap_beds),
            (events.bed_closures_per_day, self._close_bed),
        ]
        for rate, action in plans:
            for _ in range(_poisson(self.rng, rate)):
                self.at_local(day, self.rng.randrange(9 * HOUR, 18 * HOUR), action)
        self.planning.new_day(day)
        self.at(self.local_moment(day + timedelta(days=1), 0), self._next_day)

    def _next_day(self) -> None:
        self._new_day(self.today())

    def at_local(self, day: date, second_of_day: int, action: Callable[[], None]) -> None:
        """Schedule for a local time of the day, unless the simulation began after it."""
        moment = self.local_moment(day, second_of_day)
        if moment > self.now:
            self.at(moment, action)

    def _site(self, shares: dict[str, float]) -> str:
        return self.rng.choices(list(shares), weights=list(shares.values()))[0]

    def _plan_emergencies(self, day: date) -> None:
        emergency = self.traffic.emergency
        expected = emergency.per_day * emergency.weekday_factors[day.weekday()]
        for _ in range(_poisson(self.rng, expected)):
            hour = self._pick(range(24), self._emergency_hours)
            case = self._pick(emergency.cases, self._case_weights)
            site_id = self._site(case.sites or emergency.sites)
            second_of_day = hour * HOUR + self.rng.randrange(HOUR)
            self.at_local(day, second_of_day, self._arrival(case, site_id))

    def _plan_electives(self, day: date) -> None:
        elective = self.traffic.elective
        first, last = elective.arrival_hours
        give_up = self.local_moment(day, elective.give_up_hour * HOUR)
        for _ in range(_poisson(self.rng, elective.per_weekday)):
            case = self._pick(elective.cases, self._elective_weights)
            site_id = self._site(elective.sites)
            second_of_day = self.rng.randrange(first * HOUR, last * HOUR)
            self.at_local(day, second_of_day, self._elective_arrival(case, site_id, give_up))

    # Admissions -------------------------------------------------------------------------

    def _arrival(self, case: EmergencyCase, site_id: str) -> Callable[[], None]:
        def arrive() -> None:
            person = self._emergency_person(case)
            self._place_emergency(case, site_id, person)

        return arrive

    def _emergency_person(self, case: EmergencyCase) -> _Person:
        pool = self._readmissions
        if pool and self.chance(self.traffic.emergency.readmission_share):
            index = self.rng.randrange(len(pool))
            pool[index], pool[-1] = pool[-1], pool[index]
            return pool.pop()
        return self.person(case.age)

    def _place_emergency(
        self, case: EmergencyCase, site_id: str, person: _Person, since: int | None = None
    ) -> None:
        """Into the assessment unit if it has room, else straight to a base ward, after a
        long wait any base ward; with no bed at all the patient waits in the emergency
        department."""
        since = self.now if since is None else since
        sex = person.sex
        bed = None
        if case.via is not None:
            bed = self.find_bed(site_id, (case.via,), sex, (WardRole.ASSESSMENT,))
        if bed is None:
            bed = self.find_bed(site_id, case.wards, sex, (WardRole.INPATIENT,))
        if bed is None and self.now - since >= self._outlying_after:
            bed = self._outlying_bed(site_id, sex)
        if bed is None:
            self._later(
                _PLACEMENT_RETRY, lambda: self._place_emergency(case, site_id, person, since)
            )
            return
        short = self.chance(case.short_stay_share)
        days = self.skewed(self.traffic.emergency.short_stay_days if short else case.stay_days)
        spell = self.admit(person, bed, case.wards, days, None)
        if spell is None:
            return
        self._later(self.rng.randrange(6 * HOUR, 14 * HOUR), lambda: self._post_take(spell))
        if bed.ward.role is WardRole.ASSESSMENT:
            stay = self.skewed(self.traffic.emergency.assessment_hours) * HOUR
            self._later(stay, lambda: self._move_on(spell))
        if days >= 3 and self.chance(self.traffic.ward_events.acute_leave_share):
            self._later(days * DAY * self.rng.uniform(0.3, 0.7), lambda: self._go_on_leave(spell))

    def _elective_arrival(
        self, case: ElectiveCase, site_id: str, give_up: int
    ) -> Callable[[], None]:
        person = self.person(case.age, case.sex)

        def arrive() -> None:
            roles = (WardRole.ELECTIVE, WardRole.INPATIENT)
            bed = self.find_bed(site_id, case.wards, person.sex, roles)
            if bed is None:
                # No bed by early afternoon: the operation is cancelled and never admitted.
                if self.now + _PLACEMENT_RETRY < give_up:
                    self._later(_PLACEMENT_RETRY, arrive)
                return
            days = self.skewed(case.stay_days)
            planned = self.local(self.now + int(case.stay_days.median * DAY)).date()
            # Pre-operative assessment arranges any support before the admission.
            self.admit(person, bed, case.wards, days, expected=planned, prepared=True)

        return arrive

    def admit(
        self,
        person: _Person,
        bed: _Bed,
        specialties: tuple[str, ...],
        days: float,
        expected: date | None,
        *,
        prepared: bool = False,
        pathway: Pathway | None = None,
    ) -> _Spell | None:
        """Admit to an acute bed; None when the admission turns out to be entered in error.
        ``prepared``: any support was arranged before admission, so discharge need not
        wait for it once the patient is well. ``pathway``: the discharge pathway planned,
        drawn from the county's shares when not given."""
        ward = bed.ward
        organisation = ward.organisation
        if pathway is None:
            pathway = self._pick(self.traffic.pathways, self._pathway_weights)
        spell = _Spell(
            spell_id=self._spell_id(organisation),
            person=person,
            patient=self._patient(person, organisation),
            organisation=organisation,
            site_id=ward.ward.site_id,
            specialties=specialties,
            destination=pathway.destination,
            detail=pathway.detail,
            wait=None if prepared else pathway.wait_days,
            pathway=pathway,
            bed=bed,
            admitted_at=self.now,
            expected_discharge_date=expected,
        )
        bed.occupy(spell)
        self.emit(
            PatientAdmitted(
                **self._record(ward),
                payload=Admission(
                    spell_id=spell.spell_id,
                    patient=spell.patient,
                    location=bed.location,
                    specialty=specialties[0],
                    expected_discharge_date=expected,
                ),
            )
        )
        if self.chance(self.traffic.corrections.cancelled_admission_share):
            spell.busy = True
            self._later(self.rng.randrange(10 * MINUTE, 90 * MINUTE), lambda: self._undo(spell))
            return None
        spell.optimised_at = self.now + int(days * DAY)
        self.at(spell.optimised_at, lambda: self._optimised(spell))
        self._schedule_review(spell)
        if not prepared:
            self.planning.admitted(spell, pathway)
        return spell

    def _undo(self, spell: _Spell) -> None:
        """The admission was a mistake (the patient went home from the department): the
        bed was never really used, so it needs no clean."""
        self.emit(
            AdmissionCancelled(
                **self._record(spell.bed.ward), payload=SpellRef(spell_id=spell.spell_id)
            )
        )
        spell.active = False
        spell.bed.occupy(None)

    def _step_up(self) -> None:
        """A GP asks for a community bed for someone at home; without one they stay home."""
        person = self.person((70, 100))
        bed = self.find_community_bed(person.sex)
        if bed is not None:
            self._admit_to_community(person, bed)

    def _admit_to_community(self, person: _Person, bed: _Bed) -> None:
        ward = bed.ward
        organisation = ward.organisation
        community = self.traffic.community
        where = self._pick(community.destinations, self._community_weights)
        days = self.skewed(community.stay_days)
        spell = _Spell(
            spell_id=self._spell_id(organisation),
            person=person,
            patient=self._patient(person, organisation),
            organisation=organisation,
            site_id=ward.ward.site_id,
            specialties=(ward.ward.spec.specialty,),
            destination=where.destination,
            detail=where.detail,
            wait=None,
            bed=bed,
            admitted_at=self.now,
            optimised_at=self.now + int(days * DAY),
            expected_discharge_date=self.local(
                self.now + int(community.stay_days.median * DAY)
            ).date(),
        )
        bed.hold(None)
        bed.occupy(spell)
        self.emit(
            PatientAdmitted(
                **self._record(ward),
                payload=Admission(
                    spell_id=spell.spell_id,
                    patient=spell.patient,
                    location=bed.location,
                    specialty=ward.ward.spec.specialty,
                    expected_discharge_date=spell.expected_discharge_date,
                ),
            )
        )
        self.at(spell.optimised_at, lambda: self._optimised(spell))
        self._schedule_review(spell)
        if days >= 5 and self.chance(community.leave_share):
            self._later(days * DAY * self.rng.uniform(0.4, 0.8), lambda: self._go_on_leave(spell))

    # Reviews and expected discharge dates -----------------------------------------------

    def _estimate(self, spell: _Spell) -> date:
        """What the ward would write as the expected date: the planned discharge once
        known, before that a clinician's guess at the rest of the stay."""
        if spell.discharge_at is not None:
            return self.local(spell.discharge_at).date()
        remaining = max(0, spell.optimised_at - self.now) * self.rng.lognormvariate(0, 0.35)
        if spell.wait is not None:
            remaining += spell.wait.median * DAY
        return max(self.today(), self.local(self.now + int(remaining)).date())

    def _post_take(self, spell: _Spell) -> None:
        """The senior review after admission sets the first expected discharge date."""
        if spell.active and spell.discharge_at is None:
            self.update_expected(spell, self._estimate(spell))

    def _schedule_review(self, spell: _Spell) -> None:
        every = self.traffic.ward_events.review_every_days * DAY
        self._later(every + self.rng.randrange(-2 * HOUR, 2 * HOUR), lambda: self._review(spell))

    def _review(self, spell: _Spell) -> None:
        """The long-stay review: the expected date is corrected when it has slipped."""
        if not spell.active:
            return
        estimate = self._estimate(spell)
        expected = spell.expected_discharge_date
        if expected is None or expected < self.today() or self.chance(0.3):
            self.update_expected(spell, estimate)
        self._schedule_review(spell)

    # Moves ------------------------------------------------------------------------------

    def _move_on(self, spell: _Spell, since: int | None = None) -> None:
        """Early flow from the assessment unit to a base ward, unless discharge is close;
        after a long wait for the right ward, to any ward with a bed."""
        if not spell.active or spell.bed.ward.role is not WardRole.ASSESSMENT:
            return
        if spell.discharge_at is not None and spell.discharge_at - self.now < _NOT_WORTH_MOVING:
            return
        since = self.now if since is None else since
        if spell.busy or spell.on_leave:
            self._later(_BUSY_RETRY, lambda: self._move_on(spell, since))
            return
        sex = spell.person.sex
        target = self.find_bed(spell.site_id, spell.specialties, sex, (WardRole.INPATIENT,))
        if target is None and self.now - since >= self._outlying_after:
            target = self._outlying_bed(spell.site_id, sex)
        if target is None:
            self._later(_MOVE_RETRY, lambda: self._move_on(spell, since))
            return
        self._transfer(spell, target, lambda: self._move_on(spell))

    def _transfer(self, spell: _Spell, target: _Bed, retry: Callable[[], None]) -> None:
        source = spell.bed
        self.emit(
            PatientTransferred(
                **self._record(source.ward),
                payload=Transfer(
                    spell_id=spell.spell_id,
                    location=target.location,
                    from_location=source.location,
                ),
            )
        )
        if self.chance(self.traffic.corrections.cancelled_transfer_share):
            # Keyed against the wrong bed: the patient never left, and is moved for real
            # once the porters are free again.
            target.hold(spell)
            spell.busy = True

            def cancel() -> None:
                self.emit(
                    TransferCancelled(
                        **self._record(source.ward),
                        payload=TransferCancellation(
                            spell_id=spell.spell_id, location=target.location
                        ),
                    )
                )
                # Free a minute after the cancel, so that a move into the bed comes
                # after the cancel in event time whatever either's recording lag.
                self._later(MINUTE, lambda: target.hold(None))
                spell.busy = False
                self._later(self.rng.randrange(HOUR, 3 * HOUR), retry)

            self._later(self.rng.randrange(10 * MINUTE, 60 * MINUTE), cancel)
            return
        target.occupy(spell)
        spell.bed = target
        self._vacate(source)

    def _swap_beds(self) -> None:
        """A patient in a bay needs a side room (an infection, end of life care) and the
        patient in it no longer does: they exchange beds. A few wards are tried."""
        if not self._swap_wards:
            return
        for _ in range(5):
            ward = self.rng.choice(self._swap_wards)
            settled = [
                bed.occupant
                for bed in ward.beds
                if bed.occupant is not None
                and bed.occupant.active
                and not bed.occupant.busy
                and not bed.occupant.on_leave
            ]
            in_rooms = [spell for spell in settled if spell.bed.bay is None]
            in_bays = [spell for spell in settled if spell.bed.bay is not None]
            if not in_rooms or not in_bays:
                continue
            leaving_room = self.rng.choice(in_rooms)
            same_sex = [s for s in in_bays if s.person.sex is leaving_room.person.sex]
            if not same_sex:
                continue
            needing_room = self.rng.choice(same_sex)
            room, bay_bed = leaving_room.bed, needing_room.bed
            self.emit(
                BedsSwapped(
                    **self._record(ward, ward.nurse_in_charge),
                    payload=BedSwap(
                        spell_id=needing_room.spell_id,
                        location=room.location,
                        other_spell_id=leaving_room.spell_id,
                        other_location=bay_bed.location,
                    ),
                )
            )
            room.occupy(needing_room)
            bay_bed.occupy(leaving_room)
            needing_room.bed, leaving_room.bed = room, bay_bed
            return

    # Leave ------------------------------------------------------------------------------

    def _go_on_leave(self, spell: _Spell) -> None:
        """Leave of absence (a home visit, a family event); the bed is kept."""
        if not spell.active or spell.busy or spell.on_leave:
            return
        if spell.bed.ward.role is WardRole.ASSESSMENT:
            return
        hours = self.skewed(self.traffic.ward_events.leave_hours)
        back = self.now + int(hours * HOUR)
        if spell.discharge_at is not None and spell.discharge_at < back + 2 * HOUR:
            return
        ward = spell.bed.ward
        self.emit(
            PatientWentOnLeave(
                **self._record(ward),
                payload=LeaveStart(
                    spell_id=spell.spell_id,
                    expected_return=datetime.fromtimestamp(back, UTC),
                ),
            )
        )
        spell.on_leave = True

        def come_back() -> None:
            self.emit(
                PatientReturnedFromLeave(
                    **self._record(spell.bed.ward), payload=SpellRef(spell_id=spell.spell_id)
                )
            )
            spell.on_leave = False

        returned = back + self.rng.randrange(-30 * MINUTE, 90 * MINUTE)
        self.at(max(returned, self.now + 30 * MINUTE), come_back)

    # Discharges -------------------------------------------------------------------------

    def _discharge_slot(self, ready: int) -> int:
        """When a patient ready at ``ready`` leaves: at an hour drawn from the discharge
        profile, on the day they are ready if that hour is still to come, else the next
        day. Weekends discharge fewer: the rest wait for the first weekdays."""
        hour = self._pick(range(24), self._discharge_hours)
        second_of_day = hour * HOUR + self.rng.randrange(HOUR)
        day = self.local(ready).date()
        if self.local_moment(day, second_of_day) < ready:
            day += timedelta(days=1)
        weekend = day.weekday() - 5
        if weekend >= 0 and not self.chance(self._weekend_factors[weekend]):
            day += timedelta(days=2 - weekend + self.rng.randrange(self._weekend_backlog_days))
        return self.local_moment(day, second_of_day)

    def _optimised(self, spell: _Spell) -> None:
        """Medically optimised: no criteria to reside. The discharge waits only for the
        pathway's support to be arranged, which the flow centre began at triage for the
        patients referred to it."""
        if not spell.active:
            return
        if spell.pathway is not None:
            self.planning.review_daily(spell, spell.pathway)
        wait = 0.0
        if spell.wait is not None and not self.planning.arranges(spell):
            wait = self.skewed(spell.wait) * DAY
        self.plan_discharge(spell, self.now + int(wait), spell.destination)
        if spell.bed.ward.role is WardRole.ASSESSMENT:
            self._later(HOUR, lambda: self._move_on(spell))

    def plan_discharge(
        self, spell: _Spell, ready: int, destination: DischargeDestination | None = None
    ) -> None:
        """Plan the discharge of a patient ready at ``ready``, unless the flow centre
        plans it (for a start of community or social care)."""
        if not self.planning.plans(spell, ready):
            self.set_discharge(spell, self._discharge_slot(ready), destination)

    def set_discharge(
        self, spell: _Spell, slot: int, destination: DischargeDestination | None = None
    ) -> None:
        """Discharge at ``slot``: the expected date follows, and the tasks are done for it."""
        spell.discharge_at = slot
        self.update_expected(spell, self.local(slot).date(), destination)
        self.at(slot, lambda: self._discharge(spell, slot))
        self.planning.discharge_planned(spell, slot)

    def _discharge(self, spell: _Spell, slot: int) -> None:
        if not spell.active or spell.discharge_at != slot:
            return
        if spell.busy or spell.on_leave:
            self.plan_discharge(spell, self.now + _BUSY_RETRY)
            return
        community = spell.destination is DischargeDestination.COMMUNITY_HOSPITAL
        if community and spell.organisation.spec.kind is not OrganisationKind.COMMUNITY_TRUST:
            self.discharge_to_community(spell)
            return
        self._discharge_now(spell)

    def discharge_to_community(self, spell: _Spell, bed: _Bed | None = None) -> None:
        """Pathway 2: the acute spell ends and a community hospital spell begins once a
        community bed is reserved (``bed``, if the flow centre found it); until then the
        patient waits in the acute bed."""
        if bed is None:
            bed = self.find_community_bed(spell.person.sex)
        if bed is None:
            self.plan_discharge(spell, self.now + _COMMUNITY_BED_RETRY)
            return
        ward = bed.ward
        bed.hold(spell)
        spell.busy = True
        self._set_bed_status(
            bed,
            BedStatus.RESERVED,
            f"Pathway 2 from {spell.bed.ward.site_name}"[:200],
            ward.nurse_in_charge,
            ward.organisation.record,
        )
        departure = self.rng.randrange(30 * MINUTE, 2 * HOUR)
        self.planning.discharge_planned(spell, self.now + departure)

        def leave_acute() -> None:
            spell.busy = False
            self._discharge_now(spell, detail=f"{spell.detail}: {ward.site_name}")
            transport = self.skewed(self.traffic.community.transport_hours) * HOUR
            self._later(transport, lambda: self._admit_to_community(spell.person, bed))

        self._later(departure, leave_acute)

    def _discharge_now(self, spell: _Spell, detail: str | None = None) -> None:
        bed = spell.bed
        self.emit(
            PatientDischarged(
                **self._record(bed.ward),
                payload=Discharge(
                    spell_id=spell.spell_id,
                    destination=spell.destination,
                    destination_detail=(detail or spell.detail)[:200],
                ),
            )
        )
        self.planning.discharged(spell)
        moving_on = spell.destination is DischargeDestination.COMMUNITY_HOSPITAL
        if not moving_on and self.chance(self.traffic.corrections.cancelled_discharge_share):
            # Recorded before the patient left, and they did not: a temperature spike,
            # transport that never came. Back to the ward's list, out in a day or two.
            spell.busy = True

            def cancel() -> None:
                self.emit(
                    DischargeCancelled(
                        **self._record(bed.ward), payload=SpellRef(spell_id=spell.spell_id)
                    )
                )
                spell.busy = False
                self.planning.discharge_cancelled(spell)
                self.plan_discharge(spell, self.now + self.rng.randrange(DAY // 2, 2 * DAY))

            self._later(self.rng.randrange(20 * MINUTE, 3 * HOUR), cancel)
            return
        spell.active = False
        self._vacate(bed)
        acute = spell.organisation.spec.kind is OrganisationKind.ACUTE_TRUST
        if acute and spell.destination is DischargeDestination.USUAL_RESIDENCE:
            self._remember(spell.person)

    def _remember(self, person: _Person) -> None:
        """Someone who went home may come back: readmissions draw from these."""
        pool = self._readmissions
        pool.append(person)
        if len(pool) > _READMISSION_POOL:
            del pool[: _READMISSION_POOL // 5]

    # Beds -------------------------------------------------------------------------------

    def _vacate(self, bed: _Bed) -> None:
        """The patient has left: the core shows the bed awaiting a clean; housekeeping
        responds and cleans it, slower at night, much slower after an infection."""
        bed.occupy(None)
        bed.set_clean(False)
        housekeeping = self.traffic.housekeeping
        ward = bed.ward
        source = ward.organisation.housekeeping
        respond = self.skewed(housekeeping.respond_minutes) * MINUTE
        clean = self.skewed(housekeeping.clean_minutes) * MINUTE
        night_from, night_to = housekeeping.night_hours
        hour = self.local(self.now).hour
        if hour >= night_from or hour < night_to:
            respond *= housekeeping.night_factor
        if self.chance(housekeeping.deep_clean_share):
            flagged = self.rng.randrange(2 * MINUTE, 10 * MINUTE)
            self._later(
                flagged,
                lambda: self._set_bed_status(
                    bed,
                    BedStatus.CONTAMINATED,
                    "Infection: deep clean required",
                    ward.nurse_in_charge,
                    ward.organisation.record,
                ),
            )
            respond = max(respond * 1.5, flagged + 5 * MINUTE)
            clean = self.skewed(housekeeping.deep_clean_minutes) * MINUTE
        device = ward.housekeeping_device
        self._later(
            respond, lambda: self._set_bed_status(bed, BedStatus.CLEANING, None, device, source)
        )

        def cleaned() -> None:
            self._set_bed_status(bed, BedStatus.CLEAN, None, device, source)
            bed.set_clean(True)

        self._later(max(respond + clean, respond + MINUTE), cleaned)

    def _close_escalation_beds(self) -> None:
        """Escalation areas stand closed until a surge opens them."""
        for ward in self.wards:
            if ward.role is WardRole.ESCALATION:
                for bed in ward.beds:
                    self.set_open(bed, False, "Escalation area, not open")

    def set_open(self, bed: _Bed, opened: bool, reason: str) -> None:
        """Opens or closes a bed, on the nurse in charge's word."""
        ward = bed.ward
        bed.set_closed(not opened)
        status = BedStatus.CLEAN if opened else BedStatus.CLOSED
        self._set_bed_status(bed, status, reason, ward.nurse_in_charge, ward.organisation.record)

    def _close_bed(self) -> None:
        """A bed taken out of use for a while: a fault, repairs, no nurse to staff it."""
        ward = self._pick(self._closable, self._closure_weights)
        beds = [bed for bed in ward.beds if bed.free]
        if not beds:
            return
        bed = self.rng.choice(beds)
        events = self.traffic.ward_events
        bed.set_closed(True)
        self._set_bed_status(
            bed,
            BedStatus.CLOSED,
            self.rng.choice(events.closure_reasons),
            ward.nurse_in_charge,
            ward.organisation.record,
        )
        hours = min(max(self.skewed(events.closure_hours), 2.0), 240.0)

        def reopen() -> None:
            self._set_bed_status(
                bed, BedStatus.CLEAN, "Reopened", ward.nurse_in_charge, ward.organisation.record
            )
            bed.set_closed(False)

        self._later(hours * HOUR, reopen)


def simulate(
    county: County,
    start: datetime,
    seed: int,
    *,
    until: datetime | None = None,
    surge: datetime | None = None,
) -> Iterator[EventBase]:
    """The county's registry as of ``start``, then its traffic from ``start`` in
    event-time order: forever, or up to (not including) ``until``; with the county's
    surge from ``surge`` if given."""
    simulation = _Simulation(county, start, seed)
    if surge is not None:
        Surge(simulation, county, int(surge.timestamp()))
    yield from registry_events(county, start)
    yield from simulation.run(None if until is None else int(until.timestamp()))

"""Discharge planning in the simulated county: the flow centre's part of a patient's way
home, and the community capacity it matches patients to.

Most emergency stays of a few days are referred to the flow centre hours before the
patient is medically optimised, and triaged within its opening hours. The answers are
drawn so that the default rules propose the pathway the simulator planned for the
patient; now and then staff allocate that pathway over another proposal, saying why.
The pathway's tasks are started after triage and mostly done before the discharge.

Every morning the community trust and the council declare, per area, the starts of care
and the care home beds they offer the next day, and the community hospitals the beds
they have free. A referred patient on pathways 1-3 waits in their service's queue,
oldest first, until a start is free; the reservation holds it for its day, and the
discharge that day uses it. Patients who no longer meet the criteria to reside but are
still in hospital are reviewed each morning, with the reason they wait. Each afternoon the
nurse in charge marks every patient's day red or green (SAFER): most days of a patient
still needing hospital care are green, and most of a patient waiting for a start of care
or a bed are red, with the reason they wait.

It works in the simulation's clock and draws from its generator, so the same county,
start and seed still give the same events.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from flowcentre.domain.discharge import load_delay_reasons, triage
from flowcentre.domain.events import (
    Actor,
    ActorKind,
    CapacityDeclaration,
    CapacityDeclared,
    CapacityRef,
    CapacityReserved,
    CriteriaToResideReviewed,
    DayMark,
    DischargeTaskUpdated,
    EventBase,
    PatientReferred,
    PatientTriaged,
    RedGreenDayMarked,
    Referral,
    ReferralCancellation,
    ReferralCancelled,
    Reservation,
    ReservationRelease,
    ReservationReleased,
    ResideReview,
    Service,
    Source,
    TaskUpdate,
    Triage,
)
from flowcentre.domain.triage import Pathway, TaskKind, TaskStatus, TriageAnswers, load_rules
from producers.county import Capacity, County, WardRole
from producers.county import Pathway as PlannedPathway

if TYPE_CHECKING:
    from producers.simulator import _Simulation, _Spell, _Ward

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Staff record discharge planning in the flow centre's application, which publishes it
# under this system's name, as the API does.
_APP = "flowcentre-api"
_FLOW_CENTRE_STAFF = 8
# Providers declare between 07:00 and 08:00; the flow centre works its queues after.
_DECLARED_FROM = 7 * HOUR
_MORNING_ROUND = 8 * HOUR + 15 * MINUTE
# The senior review before midday (SAFER).
_REVIEW_HOURS = (8 * HOUR + 30 * MINUTE, 11 * HOUR + 30 * MINUTE)
# Draws are tried until the rules agree: a few fail for each that succeeds.
_ANSWER_TRIES = 200

# What patients the rules send down each pathway are like: the weights of each answer.
# A care or nursing home resident had residential care (set where drawn).
_PROFILES: dict[Pathway, dict[str, dict[str, float]]] = {
    Pathway.HOME: {
        "residence": {"own_home": 8, "sheltered_housing": 2},
        "lives_alone": {"false": 6, "true": 4},
        "previous_care": {"none": 7, "family": 3},
        "mobility": {"independent": 6, "with_aid": 4},
        "daily_living": {"independent": 8, "some_help": 2},
        "cognition": {"intact": 8, "mild_impairment": 2},
        "rehabilitation_potential": {"good": 7, "some": 3},
        "equipment_needed": {"false": 9, "true": 1},
    },
    Pathway.HOME_WITH_SUPPORT: {
        "residence": {"own_home": 7, "sheltered_housing": 3},
        "lives_alone": {"false": 5, "true": 5},
        "previous_care": {"none": 4, "family": 3, "home_care": 3},
        "mobility": {"independent": 2, "with_aid": 4, "one_to_assist": 4},
        "daily_living": {"independent": 2, "some_help": 7, "full_help": 1},
        "cognition": {"intact": 6, "mild_impairment": 4},
        "rehabilitation_potential": {"good": 5, "some": 4, "none": 1},
        "equipment_needed": {"false": 6, "true": 4},
    },
    Pathway.BED_BASED_RECOVERY: {
        "residence": {"own_home": 8, "sheltered_housing": 2},
        "lives_alone": {"false": 5, "true": 5},
        "previous_care": {"none": 4, "family": 3, "home_care": 3},
        "mobility": {"two_to_assist": 7, "bed_bound": 3},
        "daily_living": {"some_help": 4, "full_help": 6},
        "cognition": {"intact": 4, "mild_impairment": 5, "severe_impairment": 1},
        "rehabilitation_potential": {"good": 4, "some": 6},
        "equipment_needed": {"false": 5, "true": 5},
    },
    Pathway.LONG_TERM_CARE: {
        "residence": {"own_home": 5, "care_home": 3, "nursing_home": 2},
        "lives_alone": {"false": 6, "true": 4},
        "previous_care": {"family": 4, "home_care": 6},
        "mobility": {"one_to_assist": 3, "two_to_assist": 4, "bed_bound": 3},
        "daily_living": {"some_help": 1, "full_help": 9},
        "cognition": {"mild_impairment": 2, "severe_impairment": 8},
        "rehabilitation_potential": {"none": 9, "some": 1},
        "equipment_needed": {"false": 4, "true": 6},
    },
}
_CARE_HOMES = ("care_home", "nursing_home")

# An override: the proposal staff overrode, and why, by the pathway they allocated.
_OVERRIDES: dict[Pathway, tuple[Pathway, str]] = {
    Pathway.HOME: (
        Pathway.HOME_WITH_SUPPORT,
        "Family will support at home; the patient declines a package of care",
    ),
    Pathway.HOME_WITH_SUPPORT: (
        Pathway.HOME,
        "Main carer at home is unwell: reablement until they recover",
    ),
    Pathway.BED_BASED_RECOVERY: (
        Pathway.HOME_WITH_SUPPORT,
        "Not yet safe at home even with support: a rehabilitation bed first",
    ),
    Pathway.LONG_TERM_CARE: (
        Pathway.BED_BASED_RECOVERY,
        "Rehabilitation tried last admission: long-term placement agreed with the family",
    ),
}
_CANCEL_REASONS = (
    "Referred in error: the ward is arranging the discharge",
    "Duplicate referral",
    "Family arranging care privately",
)
_RELEASE_REASONS = (
    "Family declined the start offered",
    "Patient unwell on the day: discharge postponed",
    "Family want to visit the placement first",
)

# Delay reasons, codes of flowcentre/domain/delay_reasons.toml.
_AWAITING: dict[Service, str] = {
    Service.REABLEMENT: "awaiting-reablement",
    Service.HOME_CARE: "awaiting-home-care",
    Service.COMMUNITY_HOSPITAL_BED: "awaiting-community-bed",
    Service.STEP_DOWN_BED: "awaiting-community-bed",
    Service.REHABILITATION_BED: "awaiting-community-bed",
    Service.CARE_HOME_RESIDENTIAL: "awaiting-care-home",
    Service.CARE_HOME_NURSING: "awaiting-care-home",
}
_TASK_DELAYS: dict[TaskKind, str] = {
    TaskKind.EQUIPMENT: "awaiting-equipment",
    TaskKind.MEDICINES: "awaiting-medicines",
    TaskKind.TRANSPORT: "awaiting-transport",
}
# What keeps a patient going home without support in for a day: as often transport as
# medicines, now and then the family's plans.
_HOME_DELAYS = {"awaiting-transport": 5, "awaiting-medicines": 4, "patient-or-family-choice": 1}
# The task that is done once a start or a bed is reserved.
_CAPACITY_TASKS = (TaskKind.CARE_START, TaskKind.PLACEMENT)
# Red and green days: the afternoon board round, which a busy ward now and then misses.
# An assessment unit's patients move on within hours, so only the wards they move to
# mark days.
_BOARD_ROUND_HOURS = (14 * HOUR, 17 * HOUR)
_BOARD_ROUND_SHARE = 0.9
# How often a day is red: of a patient still needing hospital care, of one without criteria
# to reside waiting for a start of care or a bed, and of one waiting for anything else.
_RED_IN_CARE = 0.12
_RED_WAITING_FOR_CAPACITY = 0.9
_RED_WAITING = 0.5
_IN_CARE_RED_REASONS = (
    "Awaiting a scan",
    "Test results not back",
    "Awaiting a specialist opinion",
    "No senior review today",
    "Procedure postponed",
)
_NO_CRITERIA_TO_RESIDE = "No criteria to reside: awaiting discharge"
# How soon, in working hours, pharmacy has the medicines ready once the discharge time
# is set, and equipment is delivered once ordered.
_MEDICINES_READY = (30 * MINUTE, 6 * HOUR)
_EQUIPMENT_DELIVERED = (4 * HOUR, 2 * DAY)


@dataclass(slots=True, eq=False)
class _Pool:
    """A pool of capacity as the core counts it: what was declared, less what is held."""

    ref: CapacityRef
    available: int
    holds: list[_Hold] = field(default_factory=list)

    def free(self, moment: int) -> int:
        return self.available - sum(hold.takes(moment) for hold in self.holds)


@dataclass(slots=True, eq=False)
class _Hold:
    """A reservation, counted against its pool by the core's rules: while it holds, and
    for good once a discharge uses it."""

    reservation_id: str
    pool: _Pool
    expires: int
    released: bool = False
    used: bool = False

    def holds(self, moment: int) -> bool:
        return not (self.released or self.used) and moment < self.expires

    def takes(self, moment: int) -> bool:
        return self.used or self.holds(moment)


@dataclass(slots=True, eq=False)
class DischargePlan:
    """A referred spell's way through the flow centre."""

    pathway: PlannedPathway
    referral_id: str
    area: str
    cancelled: bool = False
    triage: Triage | None = None
    arranged_at: int = 0
    """When the support is arranged: from then the patient can take a start."""
    ready_at: int | None = None
    """Set while a patient ready to leave waits for triage: when they were ready."""
    hold: _Hold | None = None
    reservations: int = 0
    tasks: dict[TaskKind, TaskStatus] = field(default_factory=dict)
    slot: int | None = None
    """The departure the outstanding tasks are being done for."""

    @property
    def service(self) -> Service | None:
        return self.pathway.service

    @property
    def capacity_task(self) -> TaskKind | None:
        tasks = self.triage.tasks if self.triage else ()
        return next((kind for kind in tasks if kind in _CAPACITY_TASKS), None)


class DischargePlanning:
    """The flow centre, the wards' discharge tasks and the providers' capacity. The
    simulation calls in when a patient is admitted, medically optimised, given a
    discharge time and discharged; this plans the discharges the flow centre arranges."""

    def __init__(self, simulation: _Simulation, county: County) -> None:
        self.sim = simulation
        self.rng = simulation.rng
        self.spec = county.traffic.discharge_planning
        self.rules = load_rules()
        self.discharge_weights = county.traffic.discharge.hourly_weights
        self.staff = [
            Actor(kind=ActorKind.USER, id=f"flow-centre:staff-{n}", name=f"Flow centre staff {n}")
            for n in range(1, _FLOW_CENTRE_STAFF + 1)
        ]
        self.providers = {
            org.id: Actor(
                kind=ActorKind.USER,
                id=f"{org.id}:capacity-coordinator",
                name=f"Capacity coordinator, {org.name}"[:200],
            )
            for org in county.organisations
        }
        self.areas = sorted({area for shares in self.spec.catchments.values() for area in shares})
        self.community_sites: dict[str, set[str]] = {}
        for site, area in self.spec.community_areas.items():
            self.community_sites.setdefault(area, set()).add(site)
        self.pools: dict[tuple[Service, str, date], _Pool] = {}
        self.queues: dict[tuple[Service, str], list[tuple[_Spell, DischargePlan]]] = {}
        # Red and green days draw from a generator of their own, so that marking them
        # takes nothing from the one the rest of the county's traffic is drawn from.
        self.days_rng = random.Random(f"{simulation.tag}:red-green-days")
        self.delay_reasons = load_delay_reasons().reasons
        self.delayed: dict[str, str] = {}
        """The delay reason of each patient's latest criteria-to-reside review."""

    # Drawing ----------------------------------------------------------------------------

    def _choice(self, weights: Mapping[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _answers(self, proposed: Pathway) -> TriageAnswers:
        """Answers the rules turn into ``proposed``, drawn from what patients on that
        pathway are like until the rules agree."""
        profile = _PROFILES[proposed]
        for _ in range(_ANSWER_TRIES):
            drawn = {name: self._choice(values) for name, values in profile.items()}
            if drawn["residence"] in _CARE_HOMES:
                drawn["previous_care"] = "residential"
            answers = TriageAnswers.model_validate(drawn)
            if self.rules.propose(answers).pathway is proposed:
                return answers
        raise RuntimeError(f"rules {self.rules.version} propose pathway {proposed} for no draw")

    def _working(self, moment: int) -> int:
        """The moment, or the next opening of the flow centre if it is closed then: the
        wards' discharge work keeps the same hours."""
        opens, closes = self.spec.flow_centre_hours
        local = self.sim.local(moment)
        if opens <= local.hour < closes:
            return moment
        day = local.date() if local.hour < opens else local.date() + timedelta(days=1)
        return self.sim.local_moment(day, opens * HOUR + self.rng.randrange(HOUR))

    def _slot(self, day: date, after: int, before: int) -> int | None:
        """A discharge time on ``day`` between the two moments, at an hour drawn from the
        discharge profile; None if no hour of the profile is left."""
        starts = {hour: self.sim.local_moment(day, hour * HOUR) for hour in range(24)}
        hours = [
            hour
            for hour, start in starts.items()
            if self.discharge_weights[hour] > 0 and after <= start and start + HOUR <= before
        ]
        if not hours:
            return None
        hour = self.rng.choices(hours, weights=[self.discharge_weights[h] for h in hours])[0]
        return starts[hour] + self.rng.randrange(HOUR)

    # Emitting ---------------------------------------------------------------------------

    def _emit(
        self, spell: _Spell, actor: Actor, kind: Callable[..., EventBase], payload: BaseModel
    ) -> None:
        source = Source(system=_APP, organisation=spell.organisation.spec.id)
        self.sim.emit(kind(**self.sim.envelope(source, actor), payload=payload))

    def _staff(self) -> Actor:
        return self.rng.choice(self.staff)

    # The day ----------------------------------------------------------------------------

    def new_day(self, day: date) -> None:
        """Early in the morning the providers declare tomorrow's starts and vacancies, so
        that discharges can be planned a day ahead, and the community trust the beds its
        hospitals have free today; the flow centre then works its queues."""
        self.pools = {key: pool for key, pool in self.pools.items() if key[2] >= day}
        for capacity in self.spec.capacity:
            offered = day if capacity.per_day is None else day + timedelta(days=1)
            for area in self.areas:
                second = _DECLARED_FROM + self.rng.randrange(HOUR)
                self.sim.at_local(day, second, self._declaration(capacity, area, offered))
        self.sim.at_local(day, _MORNING_ROUND, self._morning_round)
        for ward in self.sim.wards:
            if ward.role is WardRole.ASSESSMENT:
                continue
            if self.days_rng.random() < _BOARD_ROUND_SHARE:
                second = self.days_rng.randrange(*_BOARD_ROUND_HOURS)
                self.sim.at_local(day, second, self._board_round(ward))

    def _declaration(self, capacity: Capacity, area: str, day: date) -> Callable[[], None]:
        def declare() -> None:
            if capacity.per_day is None:
                sites = self.community_sites[area]
                wards = [w for w in self.sim.community_wards if w.ward.site_id in sites]
                available = sum(ward.free_count for ward in wards)
            else:
                median = capacity.per_day[area]
                if day.weekday() >= 5:
                    median *= capacity.weekend_factor
                if self.sim.chance(self.spec.short_day_share):
                    median *= self.spec.short_day_factor
                # Rounded up or down at random, so that under one a day still offers some.
                offered = median * self.rng.lognormvariate(0, capacity.sigma)
                available = int(offered + self.rng.random())
            ref = CapacityRef(service=capacity.service, area=area, day=day)
            self.pools[(capacity.service, area, day)] = _Pool(ref, available)
            provider = self.sim.organisations[capacity.organisation]
            declaration = CapacityDeclaration(
                organisation_id=capacity.organisation, capacity=ref, available=available
            )
            actor = self.providers[capacity.organisation]
            self.sim.emit(
                CapacityDeclared(**self.sim.envelope(provider.record, actor), payload=declaration)
            )

        return declare

    def _morning_round(self) -> None:
        for service, area in self.queues:
            self._match(service, area)

    # Referral and triage ----------------------------------------------------------------

    def admitted(self, spell: _Spell, pathway: PlannedPathway) -> None:
        """A long enough stay is, mostly, referred hours before the patient is
        medically optimised."""
        spec = self.spec
        stay = spell.optimised_at - spell.admitted_at
        if stay < spec.referral_after_days * DAY or not self.sim.chance(spec.referral_share):
            return
        lead = int(self.sim.skewed(spec.referral_lead_hours) * HOUR)
        at = max(spell.admitted_at + 2 * HOUR, spell.optimised_at - lead)
        self.sim.at(at, lambda: self._refer(spell, pathway))

    def _refer(self, spell: _Spell, pathway: PlannedPathway) -> None:
        catchment = self.spec.catchments[spell.site_id]
        plan = DischargePlan(pathway, f"{spell.spell_id}-REF", self._choice(catchment))
        spell.plan = plan
        referral = Referral(spell_id=spell.spell_id, referral_id=plan.referral_id)
        self._emit(spell, spell.bed.ward.discharge_coordinator, PatientReferred, referral)
        if self.sim.chance(self.spec.referral_cancelled_share):
            cancel = self.rng.randrange(20 * MINUTE, 3 * HOUR)
            self.sim.at(self.sim.now + cancel, lambda: self._cancel_referral(spell, plan))
            return
        wait = int(self.sim.skewed(self.spec.triage_hours) * HOUR)
        self.sim.at(self._working(self.sim.now + wait), lambda: self._triage(spell, plan))

    def _cancel_referral(self, spell: _Spell, plan: DischargePlan) -> None:
        cancellation = ReferralCancellation(
            spell_id=spell.spell_id,
            referral_id=plan.referral_id,
            reason=self.rng.choice(_CANCEL_REASONS),
        )
        self._emit(spell, spell.bed.ward.discharge_coordinator, ReferralCancelled, cancellation)
        plan.cancelled = True
        if plan.ready_at is not None:
            # Ready to leave already: the ward arranges the support and the discharge.
            wait = int(self.sim.skewed(plan.pathway.wait_days) * DAY)
            self.sim.plan_discharge(spell, self.sim.now + wait, spell.destination)

    def _triage(self, spell: _Spell, plan: DischargePlan) -> None:
        planned = Pathway(str(plan.pathway.pathway))
        proposed, reason = planned, None
        if self.sim.chance(self.spec.override_share):
            proposed, reason = _OVERRIDES[planned]
        answers = self._answers(proposed)
        plan.triage = triage(self.rules, spell.spell_id, plan.referral_id, answers, planned, reason)
        self._emit(spell, self._staff(), PatientTriaged, plan.triage)
        now = self.sim.now
        if plan.service is not None:
            plan.arranged_at = now + int(self.sim.skewed(plan.pathway.wait_days) * DAY)
        self._start_tasks(spell, plan, plan.triage.tasks)
        if plan.ready_at is not None:
            self.sim.plan_discharge(spell, max(plan.ready_at, now), spell.destination)

    # What the simulation asks -----------------------------------------------------------

    def arranges(self, spell: _Spell) -> bool:
        """Whether the flow centre arranges the patient's support, so that the ward does
        not wait for it once the patient is medically optimised."""
        plan = spell.plan
        return plan is not None and not plan.cancelled and plan.service is not None

    def plans(self, spell: _Spell, ready: int) -> bool:
        """Whether the flow centre plans this discharge rather than the ward: until triage
        any referred patient's, after it those that take a start of care or a bed."""
        plan = spell.plan
        if plan is None or plan.cancelled:
            return False
        if plan.triage is None:
            plan.ready_at = ready
            return True
        service = plan.service
        if service is None:
            return False
        self._wait_for_capacity(spell, plan, service, max(ready, plan.arranged_at))
        return True

    def discharged(self, spell: _Spell) -> None:
        """The discharge uses the reservation holding the patient's start."""
        self.delayed.pop(spell.spell_id, None)
        plan = spell.plan
        if plan is not None and plan.hold is not None and plan.hold.holds(self.sim.now):
            plan.hold.used = True

    def discharge_cancelled(self, spell: _Spell) -> None:
        """A discharge that never happened used nothing: the reservation holds again."""
        plan = spell.plan
        if plan is not None and plan.hold is not None:
            plan.hold.used = False

    # Capacity ---------------------------------------------------------------------------

    def _wait_for_capacity(
        self, spell: _Spell, plan: DischargePlan, service: Service, ready: int
    ) -> None:
        """Leave at ``ready`` on the start already reserved, if it still holds then;
        otherwise join the queue for a start from then."""
        hold = plan.hold
        if hold is not None and hold.holds(ready):
            slot = self._slot(hold.pool.ref.day, ready, hold.expires)
            if slot is not None:
                self.sim.set_discharge(spell, slot)
                return
        if hold is not None:
            self._lapse(spell, plan, "The start reserved lapsed: to be arranged again")
        self.sim.update_expected(spell, self.sim.local(ready).date(), spell.destination)
        self.sim.at(ready, lambda: self._join(spell, plan, service))

    def _lapse(self, spell: _Spell, plan: DischargePlan, note: str) -> None:
        plan.hold = None
        plan.slot = None
        if plan.capacity_task is not None:
            self._task(spell, plan, plan.capacity_task, TaskStatus.STARTED, note=note)

    def _join(self, spell: _Spell, plan: DischargePlan, service: Service) -> None:
        self.queues.setdefault((service, plan.area), []).append((spell, plan))
        self._match(service, plan.area)

    def _match(self, service: Service, area: str) -> None:
        """In the flow centre's hours, give free starts to the patients waiting longest:
        today's while a discharge today can still be arranged, then tomorrow's."""
        now = self.sim.now
        hour = self.sim.local(now).hour
        opens, closes = self.spec.flow_centre_hours
        if not opens <= hour < closes:
            return
        today = self.sim.today()
        days = [today, today + timedelta(days=1)]
        if hour >= self.spec.last_reservation_hour:
            days.remove(today)
        pools = [pool for day in days if (pool := self.pools.get((service, area, day)))]
        waiting = []
        for spell, plan in self.queues[(service, area)]:
            for pool in pools:
                if pool.free(now) > 0 and self._reserve(spell, plan, pool):
                    break
            else:
                waiting.append((spell, plan))
        self.queues[(service, area)] = waiting

    def _reserve(self, spell: _Spell, plan: DischargePlan, pool: _Pool) -> bool:
        """Reserve a start of the pool and plan the discharge for its day; a community
        hospital bed is held at once and the patient moves within hours. Not while the
        patient is on leave or being moved."""
        if spell.busy or spell.on_leave:
            return False
        now = self.sim.now
        day = pool.ref.day
        expires = self.sim.local_moment(day + timedelta(days=1), 0)
        if pool.ref.service is Service.COMMUNITY_HOSPITAL_BED:
            sites = self.community_sites[pool.ref.area]
            bed = self.sim.find_community_bed(spell.person.sex, sites)
            if bed is None:
                return False
            self._hold(spell, plan, pool, expires)
            self.sim.update_expected(spell, day, spell.destination)
            self.sim.discharge_to_community(spell, bed)
            return True
        slot = self._slot(day, max(now + HOUR, self.sim.local_moment(day, 0)), expires)
        if slot is None:
            return False
        hold = self._hold(spell, plan, pool, expires)
        self.sim.set_discharge(spell, slot, spell.destination)
        if self.sim.chance(self.spec.release_share):
            release = now + int((slot - now) * self.rng.uniform(0.2, 0.8))
            self.sim.at(release, lambda: self._release(spell, plan, hold))
        return True

    def _hold(self, spell: _Spell, plan: DischargePlan, pool: _Pool, expires: int) -> _Hold:
        plan.reservations += 1
        hold = _Hold(f"{spell.spell_id}-RES{plan.reservations}", pool, expires)
        pool.holds.append(hold)
        plan.hold = hold
        reservation = Reservation(
            spell_id=spell.spell_id,
            reservation_id=hold.reservation_id,
            capacity=pool.ref,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )
        self._emit(spell, self._staff(), CapacityReserved, reservation)
        if plan.capacity_task is not None:
            self._task(spell, plan, plan.capacity_task, TaskStatus.DONE)
        return hold

    def _release(self, spell: _Spell, plan: DischargePlan, hold: _Hold) -> None:
        """The start is given back (the family declined it, the patient is unwell): the
        discharge is off, the patient waits for another start, and the queue gets this."""
        now = self.sim.now
        release = ReservationRelease(
            spell_id=spell.spell_id,
            reservation_id=hold.reservation_id,
            reason=self.rng.choice(_RELEASE_REASONS),
        )
        self._emit(spell, self._staff(), ReservationReleased, release)
        hold.released = True
        spell.discharge_at = None
        self._lapse(spell, plan, "The start reserved was released: to be arranged again")
        capacity = hold.pool.ref
        later = now + self.rng.randrange(DAY // 2, 3 * DAY // 2)
        self._wait_for_capacity(spell, plan, capacity.service, later)
        self._match(capacity.service, capacity.area)

    # Tasks ------------------------------------------------------------------------------

    def _start_tasks(self, spell: _Spell, plan: DischargePlan, tasks: Sequence[TaskKind]) -> None:
        """After triage the ward tells the family, asks pharmacy for the medicines and
        orders the equipment, which comes in a day or two; the flow centre starts on the
        care or the bed. Transport waits for a time."""
        now = self.sim.now
        for kind in tasks:
            plan.tasks[kind] = TaskStatus.PENDING
            if kind is TaskKind.TRANSPORT:
                continue
            if kind is TaskKind.FAMILY_INFORMED:
                told = self._working(now + self.rng.randrange(HOUR, 10 * HOUR))
                self.sim.at(told, self._progress(spell, plan, kind, TaskStatus.DONE, None))
                continue
            soon = (10 * MINUTE, 2 * HOUR) if kind in _CAPACITY_TASKS else (HOUR, 8 * HOUR)
            started = self._working(now + self.rng.randrange(*soon))
            self.sim.at(started, self._progress(spell, plan, kind, TaskStatus.STARTED, None))
            if kind is TaskKind.EQUIPMENT:
                delivered = self._working(started + self.rng.randrange(*_EQUIPMENT_DELIVERED))
                self.sim.at(delivered, self._progress(spell, plan, kind, TaskStatus.DONE, None))

    def discharge_planned(self, spell: _Spell, departure: int) -> None:
        """The time is set: transport is booked for it, and pharmacy has the medicines
        ready soon after in its working hours, if it can before the departure; now and
        then they are left until shortly before."""
        plan = spell.plan
        if plan is None or plan.triage is None:
            return
        plan.slot = departure
        now = self.sim.now
        for kind in plan.triage.tasks:
            if kind is TaskKind.TRANSPORT:
                soon = self._working(now + self.rng.randrange(5 * MINUTE, 30 * MINUTE))
                booking = max(now, min(soon, departure - HOUR))
                booked = booking + self.rng.randrange(10 * MINUTE, 40 * MINUTE)
                booked = max(booking, min(booked, departure - 10 * MINUTE))
                self.sim.at(booking, self._progress(spell, plan, kind, TaskStatus.STARTED, None))
                self.sim.at(booked, self._progress(spell, plan, kind, TaskStatus.DONE, departure))
            elif kind is TaskKind.MEDICINES:
                if self.sim.chance(self.spec.late_task_share):
                    ready = departure - self.rng.randrange(15 * MINUTE, 90 * MINUTE)
                else:
                    ready = self._working(now + self.rng.randrange(*_MEDICINES_READY))
                    ready = min(ready, departure - 30 * MINUTE)
                done = self._progress(spell, plan, kind, TaskStatus.DONE, None)
                self.sim.at(max(ready, now + 5 * MINUTE), done)

    def _progress(
        self,
        spell: _Spell,
        plan: DischargePlan,
        kind: TaskKind,
        status: TaskStatus,
        due: int | None,
    ) -> Callable[[], None]:
        """A task moving on, if it has not got there already; one for a departure (a
        booking) only while that departure stands."""
        slot = plan.slot

        def update() -> None:
            if kind is TaskKind.TRANSPORT:
                # Booked for a departure: for a new one it is booked again.
                if plan.slot == slot:
                    self._task(spell, plan, kind, status, due=due)
                return
            current = plan.tasks.get(kind)
            if current is TaskStatus.PENDING or (
                status is TaskStatus.DONE and current is not TaskStatus.DONE
            ):
                self._task(spell, plan, kind, status, due=due)

        return update

    def _task(
        self,
        spell: _Spell,
        plan: DischargePlan,
        kind: TaskKind,
        status: TaskStatus,
        *,
        due: int | None = None,
        note: str | None = None,
    ) -> None:
        if not spell.active:
            return
        plan.tasks[kind] = status
        update = TaskUpdate(
            spell_id=spell.spell_id,
            task=kind,
            status=status,
            due_at=None if due is None else datetime.fromtimestamp(due, UTC),
            note=note,
        )
        ward = spell.bed.ward
        actor = self._staff() if kind in _CAPACITY_TASKS else ward.discharge_coordinator
        self._emit(spell, actor, DischargeTaskUpdated, update)

    # Criteria to reside -----------------------------------------------------------------

    def review_daily(self, spell: _Spell, pathway: PlannedPathway) -> None:
        """From now on the patient no longer meets the criteria to reside: each morning
        they are still in hospital, the review records why."""
        today = self.sim.today()
        first = self._review_time(today)
        if first <= self.sim.now:
            first = self._review_time(today + timedelta(days=1))
        self.sim.at(first, lambda: self._review(spell, pathway))

    def _review_time(self, day: date) -> int:
        return self.sim.local_moment(day, self.rng.randrange(*_REVIEW_HOURS))

    def _review(self, spell: _Spell, pathway: PlannedPathway) -> None:
        if not spell.active:
            return
        # A discharge or a move under way is not the moment for a review.
        if not spell.busy:
            review = ResideReview(
                spell_id=spell.spell_id,
                meets_criteria=False,
                delay_reason=self._delay_reason(spell, pathway),
            )
            self._emit(spell, spell.bed.ward.nurse_in_charge, CriteriaToResideReviewed, review)
            if review.delay_reason is not None:
                self.delayed[spell.spell_id] = review.delay_reason
        tomorrow = self._review_time(self.sim.today() + timedelta(days=1))
        self.sim.at(tomorrow, lambda: self._review(spell, pathway))

    def _delay_reason(self, spell: _Spell, pathway: PlannedPathway) -> str:
        plan = spell.plan
        service = pathway.service
        if plan is None or plan.cancelled:
            return _AWAITING[service] if service else self._choice(_HOME_DELAYS)
        if plan.triage is None:
            return "awaiting-assessment"
        if service is not None and plan.hold is None:
            if self.sim.now >= plan.arranged_at:
                return _AWAITING[service]
            return "awaiting-decision" if plan.pathway.pathway == 3 else "awaiting-assessment"
        outstanding = [
            kind
            for kind in plan.triage.tasks
            if kind in _TASK_DELAYS and plan.tasks.get(kind) is not TaskStatus.DONE
        ]
        if outstanding:
            return _TASK_DELAYS[outstanding[0]]
        # All done: the patient waits for the day of the start, or of the transport.
        return _AWAITING[service] if service else "awaiting-transport"

    # Red and green days -----------------------------------------------------------------

    def _board_round(self, ward: _Ward) -> Callable[[], None]:
        def mark() -> None:
            today = self.sim.today()
            source = Source(system=_APP, organisation=ward.organisation.spec.id)
            for bed in ward.beds:
                spell = bed.occupant
                # Like a review, not for a patient being moved or discharged, nor on leave.
                if spell is None or not spell.active or spell.busy or spell.on_leave:
                    continue
                green, reason = self._day_of(spell)
                envelope = self.sim.envelope(source, ward.nurse_in_charge, self.days_rng)
                payload = DayMark(spell_id=spell.spell_id, day=today, green=green, reason=reason)
                self.sim.emit(RedGreenDayMarked(**envelope, payload=payload))

        return mark

    def _day_of(self, spell: _Spell) -> tuple[bool, str | None]:
        """Green, or red and why: while the patient needs hospital care a red day is now and
        then one lost to the hospital's own waits; once they no longer do, every day they
        stay is at risk of being red, most of all while they wait for capacity outside."""
        draw = self.days_rng.random()
        if self.sim.now < spell.optimised_at:
            if draw < _RED_IN_CARE:
                return False, self.days_rng.choice(_IN_CARE_RED_REASONS)
            return True, None
        plan = spell.plan
        for_capacity = (
            plan is not None
            and not plan.cancelled
            and plan.service is not None
            and plan.hold is None
        )
        if draw >= (_RED_WAITING_FOR_CAPACITY if for_capacity else _RED_WAITING):
            return True, None
        code = self.delayed.get(spell.spell_id)
        return False, self.delay_reasons.get(code, code) if code else _NO_CRITERIA_TO_RESIDE

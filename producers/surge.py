"""The surge scenario: one acute site driven past its capacity alert thresholds and back
within hours, so that alerts, their acknowledgement, OPEL and resolution can be shown end
to end at demonstration speed.

An hour before the surge the site's emergency department feed starts reporting its OPEL
parameters. Over the rise, emergency arrivals come beyond the site's free beds, and the
department's figures worsen; those who find no bed wait in the department. Through the
plateau the site stays full. Over the recovery the surge's patients, short stays treated
and sent home, leave; the site brings forward discharges home planned for the next day
and a half, as sites do at OPEL 4; and the department's figures return to usual, which
the feed goes on reporting.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowcentre.domain.events import (
    Actor,
    ActorKind,
    DischargeDestination,
    OpelReading,
    OpelReadingRecorded,
    Source,
)
from producers.county import County, EmergencyCase, WardRole
from producers.county import Surge as SurgeSpec

if TYPE_CHECKING:
    from producers.simulator import _Person, _Simulation, _Spell

MINUTE = 60
HOUR = 60 * MINUTE
_PLACEMENT_RETRY = 15 * MINUTE
#: Treated and sent home: the shortest stay a surge patient has once in a bed.
_SHORTEST_STAY = 2 * HOUR
#: Discharges planned this far ahead may be brought forward.
_BRING_FORWARD_WITHIN = 36 * HOUR
_ROLES = (WardRole.ASSESSMENT, WardRole.INPATIENT)


@dataclass(frozen=True)
class Phases:
    """When the surge rises, holds and recovers, in epoch seconds."""

    begins: int
    plateau_from: int
    recovery_from: int
    ends: int

    @classmethod
    def of(cls, spec: SurgeSpec, begins: int) -> Phases:
        plateau_from = begins + int(spec.rise_hours * HOUR)
        recovery_from = plateau_from + int(spec.plateau_hours * HOUR)
        return cls(
            begins, plateau_from, recovery_from, recovery_from + int(spec.recovery_hours * HOUR)
        )

    def intensity(self, moment: int) -> float:
        """How far into the surge the site is at ``moment``: 0 usual, 1 at its height."""
        if moment <= self.begins or moment >= self.ends:
            return 0.0
        if moment < self.plateau_from:
            return (moment - self.begins) / (self.plateau_from - self.begins)
        if moment <= self.recovery_from:
            return 1.0
        return (self.ends - moment) / (self.ends - self.recovery_from)


class Surge:
    """Schedules itself on the simulation from its creation; ``begins`` is in epoch
    seconds."""

    def __init__(self, simulation: _Simulation, county: County, begins: int) -> None:
        self.sim = simulation
        self.spec = spec = county.surge
        site = county.site(spec.site)
        self.phases = phases = Phases.of(spec, begins)
        self._wards = [
            ward
            for ward in simulation.wards
            if ward.ward.site_id == site.id and ward.role in _ROLES
        ]
        self._escalation = [
            bed
            for ward in simulation.wards
            if ward.ward.site_id == site.id and ward.role is WardRole.ESCALATION
            for bed in ward.beds
        ]
        self._cases = [
            case for case in county.traffic.emergency.cases if site.id in (case.sites or {site.id})
        ]
        self._home = next(one for one in county.traffic.pathways if one.pathway == 0)
        self._source = Source(
            system="Emergency department dashboard", organisation=site.organisation
        )
        self._feed = Actor(
            kind=ActorKind.SYSTEM,
            id=f"{site.id}-ED-DASHBOARD",
            name=f"Emergency department dashboard, {site.name}",
        )
        simulation.at(begins - HOUR, self._report)
        simulation.at(begins, self._begin)
        simulation.at(phases.plateau_from, self._open_escalation)
        simulation.at(phases.recovery_from, self._bring_forward)
        simulation.at(phases.ends, self._close_escalation)

    def _beds(self) -> tuple[int, int]:
        """Open beds of the site, and of them those free for an arrival."""
        open_beds = [bed for ward in self._wards for bed in ward.beds if not bed.closed]
        return len(open_beds), sum(bed.free for bed in open_beds)

    def _begin(self) -> None:
        phases = self.phases
        beds, free = self._beds()
        arrivals = free + math.ceil(self.spec.waiting_share * beds)
        # Home once the recovery is under way, spread so the site empties over its first
        # three quarters rather than all at once.
        leave_by = phases.recovery_from + (phases.ends - phases.recovery_from) * 3 // 4
        for _ in range(arrivals):
            arrives = self.sim.rng.randrange(phases.begins, phases.plateau_from)
            leaves = self.sim.rng.randrange(phases.recovery_from, leave_by)
            case = self.sim.rng.choices(self._cases, weights=[c.share for c in self._cases])[0]
            self.sim.at(arrives, self._arrival(case, leaves))

    def _arrival(self, case: EmergencyCase, leaves: int) -> Callable[[], None]:
        def arrive() -> None:
            self._place(case, self.sim.person(case.age), leaves)

        return arrive

    def _place(self, case: EmergencyCase, person: _Person, leaves: int) -> None:
        """Into the case's assessment unit or wards, else any bed the site has, the
        surgical assessment unit included; with none free, the patient waits in the
        department and is looked for a bed again later."""
        wanted = (case.via, *case.wards) if case.via else case.wards
        bed = self.sim.find_bed(self.spec.site, wanted, person.sex, _ROLES)
        if bed is None:
            wards = [
                *self._wards,
                *{bed.ward.ward_id: bed.ward for bed in self._escalation}.values(),
            ]
            beds = [bed for ward in wards for bed in ward.free_beds(person.sex)]
            bed = self.sim.rng.choice(beds) if beds else None
        if bed is None:
            self.sim.at(self.sim.now + _PLACEMENT_RETRY, lambda: self._place(case, person, leaves))
            return
        departs = max(leaves, self.sim.now + _SHORTEST_STAY)
        # Medically optimised only after leaving: the stay ends at the planned time.
        days = (departs - self.sim.now) / (24 * HOUR) + 1
        spell = self.sim.admit(
            person, bed, case.wards, days, None, prepared=True, pathway=self._home
        )
        if spell is not None:
            self.sim.set_discharge(spell, departs, self._home.destination)

    def _open_escalation(self) -> None:
        """The site full, its escalation area opens for those still waiting."""
        for bed in self._escalation:
            if bed.closed:
                self.sim.set_open(bed, True, "Opened for escalation")

    def _close_escalation(self) -> None:
        """Once the surge is over, each escalation bed closes as soon as it is empty and
        clean; the site looks again every hour for the rest."""
        for bed in self._escalation:
            if bed.free:
                self.sim.set_open(bed, False, "Escalation area closed")
        if any(not bed.closed for bed in self._escalation):
            self.sim.at(self.sim.now + HOUR, self._close_escalation)

    def _bring_forward(self) -> None:
        """The site's response: patients going home without support in the next day and
        a half go over the recovery instead."""
        now = self.sim.now
        beds, _ = self._beds()
        candidates = sorted(
            (spell for spell in self._occupants() if _may_go_sooner(spell, now)),
            key=lambda spell: spell.discharge_at or 0,
        )
        recovery = self.phases.ends - self.phases.recovery_from
        for spell in candidates[: round(self.spec.brought_forward_share * beds)]:
            self.sim.set_discharge(spell, now + self.sim.rng.randrange(recovery * 3 // 4))

    def _occupants(self) -> list[_Spell]:
        return [bed.occupant for ward in self._wards for bed in ward.beds if bed.occupant]

    def _report(self) -> None:
        """The department's figures, worse as the surge grows, a little noisy as
        dashboards are; reported every few minutes from an hour before the surge on."""
        intensity = self.phases.intensity(self.sim.now)
        for parameter, reading in self.spec.readings.items():
            value = reading.usual + (reading.peak - reading.usual) * intensity
            value *= self.sim.rng.uniform(0.97, 1.03)
            self.sim.emit(
                OpelReadingRecorded(
                    **self.sim.envelope(self._source, self._feed),
                    payload=OpelReading(
                        site_id=self.spec.site, parameter=parameter, value=round(value, 1)
                    ),
                )
            )
        self.sim.at(self.sim.now + int(self.spec.reading_every_minutes * MINUTE), self._report)


def _may_go_sooner(spell: _Spell, now: int) -> bool:
    """Going home without support, planned by the ward, within the next day and a half,
    and free to go: not already leaving, on leave or in the flow centre's plans."""
    return (
        spell.active
        and not spell.busy
        and not spell.on_leave
        and spell.plan is None
        and spell.destination is DischargeDestination.USUAL_RESIDENCE
        and spell.discharge_at is not None
        and now < spell.discharge_at <= now + _BRING_FORWARD_WITHIN
    )

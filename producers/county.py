"""The simulated county as data: its organisations, sites, wards and the traffic it sees.

``county.json`` describes each ward by its bays and side rooms; the beds, their stable
ids and labels are expanded here, so the file stays small enough to read and edit.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowcentre.domain.contract import Identifier
from flowcentre.domain.events import (
    DischargeDestination,
    Service,
    Sex,
)
from flowcentre.domain.places import OrganisationKind, SiteKind, WardSex

COUNTY_FILE = Path(__file__).with_name("county.json")
COUNTY_FEEDS = Path(__file__).with_name("county_feeds.toml")
"""The county's source feeds and how long each may be silent (``FLOWCENTRE_FEEDS``)."""
COUNTY_FEEDS_HL7 = Path(__file__).with_name("county_feeds_hl7.toml")
"""The same, when its admissions, transfers, discharges and bed statuses come as HL7."""

Share = Annotated[float, Field(ge=0, le=1)]
Hour = Annotated[int, Field(ge=0, le=24)]
# Codes become part of ward and bed ids, so they keep to what an id may hold.
Code = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,16}$")]


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Skewed(Spec):
    """A lognormal quantity: half the draws fall below the median, ``sigma`` sets the tail."""

    median: float = Field(gt=0)
    sigma: float = Field(ge=0)


class WardRole(StrEnum):
    """How patients reach the ward, which is what the simulator routes by."""

    ASSESSMENT = "assessment"
    INPATIENT = "inpatient"
    ELECTIVE = "elective"
    COMMUNITY = "community"
    ESCALATION = "escalation"
    """Beds opened only under pressure: closed until a surge opens them."""


class OrganisationSpec(Spec):
    id: Identifier
    name: str
    kind: OrganisationKind
    record_system: str = Field(min_length=1, max_length=100)
    housekeeping_system: str | None = Field(default=None, min_length=1, max_length=100)


class WardSpec(Spec):
    code: Code
    name: str
    specialty: str
    sex: WardSex = WardSex.MIXED
    role: WardRole = WardRole.INPATIENT
    bays: tuple[Annotated[int, Field(ge=1, le=12)], ...] = ()
    side_rooms: int = Field(default=0, ge=0, le=40)

    @model_validator(mode="after")
    def _has_beds(self) -> Self:
        if not self.bays and not self.side_rooms:
            raise ValueError(f"ward {self.code} has neither bays nor side rooms")
        return self


class SiteSpec(Spec):
    id: Code
    organisation: Identifier
    name: str
    kind: SiteKind
    wards: tuple[WardSpec, ...]


class BedPlace(Spec):
    """One expanded bed. ``bay`` is the bay's number, None for a side room."""

    bed_id: str
    ward_id: str
    label: str
    room: str
    bay: int | None


class Ward(Spec):
    """A ward with its site and beds resolved: what the simulator works with."""

    ward_id: str
    site_id: str
    organisation_id: str
    spec: WardSpec
    beds: tuple[BedPlace, ...]


# Traffic --------------------------------------------------------------------------------


class EmergencyCase(Spec):
    """A kind of emergency admission: where it is assessed, which wards take it, how long
    it stays until medically optimised."""

    name: str
    share: Share
    via: str | None = Field(default=None, description="Specialty of the assessment unit.")
    wards: tuple[str, ...] = Field(min_length=1, description="Specialties, first preferred.")
    sites: dict[str, Share] | None = None
    age: tuple[int, int]
    short_stay_share: Share
    stay_days: Skewed


class Emergency(Spec):
    per_day: float = Field(gt=0)
    weekday_factors: tuple[float, float, float, float, float, float, float]
    hourly_weights: tuple[float, ...] = Field(min_length=24, max_length=24)
    sites: dict[str, Share]
    readmission_share: Share
    assessment_hours: Skewed
    outlying_after_hours: float = Field(
        ge=0, description="Wait for a specialty bed before taking any ward's bed."
    )
    short_stay_days: Skewed
    cases: tuple[EmergencyCase, ...] = Field(min_length=1)


class ElectiveCase(Spec):
    name: str
    share: Share
    wards: tuple[str, ...] = Field(min_length=1)
    sex: Sex | None = None
    age: tuple[int, int]
    stay_days: Skewed


class Elective(Spec):
    per_weekday: float = Field(ge=0)
    arrival_hours: tuple[Hour, Hour]
    give_up_hour: Hour
    sites: dict[str, Share]
    cases: tuple[ElectiveCase, ...] = Field(min_length=1)


class Pathway(Spec):
    """An NHS discharge pathway: its planning share, where it ends, the community or
    social care capacity it takes, and how long the support takes to arrange: from when
    the patient is medically optimised if the ward arranges it, from triage if the flow
    centre does."""

    pathway: int = Field(ge=0, le=3)
    share: Share
    destination: DischargeDestination
    detail: str = Field(max_length=200)
    wait_days: Skewed
    service: Service | None = Field(default=None, description="None on pathway 0.")


class Discharges(Spec):
    hourly_weights: tuple[float, ...] = Field(min_length=24, max_length=24)
    saturday_factor: Share = Field(description="Saturday's discharges against a weekday's.")
    sunday_factor: Share
    weekend_backlog_days: int = Field(
        ge=1, le=5, description="Weekdays over which the weekend's postponed leave."
    )


class CommunityDestination(Spec):
    share: Share
    destination: DischargeDestination
    detail: str = Field(max_length=200)


class Community(Spec):
    step_up_per_day: float = Field(ge=0)
    transport_hours: Skewed
    stay_days: Skewed
    leave_share: Share
    destinations: tuple[CommunityDestination, ...] = Field(min_length=1)


class Housekeeping(Spec):
    respond_minutes: Skewed
    clean_minutes: Skewed
    night_hours: tuple[Hour, Hour]
    night_factor: float = Field(ge=1)
    deep_clean_share: Share
    deep_clean_minutes: Skewed


class Corrections(Spec):
    cancelled_admission_share: Share
    cancelled_transfer_share: Share
    cancelled_discharge_share: Share


class WardEvents(Spec):
    acute_leave_share: Share
    leave_hours: Skewed
    bed_swaps_per_day: float = Field(ge=0)
    bed_closures_per_day: float = Field(ge=0)
    closure_hours: Skewed
    closure_reasons: tuple[str, ...] = Field(min_length=1)
    review_every_days: int = Field(ge=1)


class Capacity(Spec):
    """A service the community trust or the council offers in each area, declared every
    morning: starts of care or vacancies for the next day, community hospital beds free
    that day."""

    service: Service
    organisation: Identifier
    per_day: dict[Identifier, float] | None = Field(
        default=None,
        description="Median offered a weekday, by area. None for community hospital "
        "beds: the trust declares the beds its wards in the area have free.",
    )
    sigma: float = Field(default=0.0, ge=0, description="Spread from day to day (lognormal).")
    weekend_factor: Share = 1.0


class DischargePlanning(Spec):
    referral_after_days: float = Field(
        gt=0, description="Emergency stays this long or longer may be referred."
    )
    referral_share: Share
    referral_lead_hours: Skewed = Field(
        description="How long before the patient is medically optimised the ward refers."
    )
    referral_cancelled_share: Share
    triage_hours: Skewed
    flow_centre_hours: tuple[Hour, Hour] = Field(description="When triage is done, local.")
    override_share: Share
    late_task_share: Share = Field(description="Tasks left until hours before the discharge.")
    release_share: Share = Field(description="Reservations released before the discharge.")
    last_reservation_hour: Hour = Field(
        description="After this hour a start is no longer reserved for the same day."
    )
    short_day_share: Share = Field(description="Pool-days a provider is short of staff.")
    short_day_factor: Share
    catchments: dict[str, dict[Identifier, Share]] = Field(
        description="By acute site, the areas its patients live in."
    )
    community_areas: dict[str, Identifier] = Field(description="The area of each community site.")
    capacity: tuple[Capacity, ...] = Field(min_length=1)


class Traffic(Spec):
    emergency: Emergency
    elective: Elective
    pathways: tuple[Pathway, ...] = Field(min_length=1)
    discharge: Discharges
    community: Community
    housekeeping: Housekeeping
    corrections: Corrections
    ward_events: WardEvents
    discharge_planning: DischargePlanning


class SurgeReading(Spec):
    """A reported OPEL parameter the site's emergency department feed sends in a surge:
    its usual value, and its value at the surge's height."""

    usual: float
    peak: float


class Surge(Spec):
    """The surge scenario: emergency arrivals beyond the site's free beds over ``rise``,
    the site full through ``plateau``, then over ``recovery`` the surge's patients go
    home and the site brings forward discharges planned for the next day and a half."""

    site: Identifier
    begins_after_minutes: float = Field(ge=0, description="From the start of live traffic.")
    rise_hours: float = Field(gt=0)
    plateau_hours: float = Field(ge=0)
    recovery_hours: float = Field(gt=0)
    waiting_share: Share = Field(
        description="Arrivals beyond the free beds, as a share of the site's beds: they "
        "wait in the department for a bed."
    )
    brought_forward_share: Share = Field(
        description="Discharges brought forward in the recovery, as a share of the beds."
    )
    reading_every_minutes: float = Field(gt=0)
    readings: dict[Identifier, SurgeReading] = Field(
        description="By OPEL parameter, what the department's feed reports."
    )


# The county -----------------------------------------------------------------------------


def _shares_sum_to_one(what: str, shares: list[float]) -> None:
    if abs(sum(shares) - 1.0) > 1e-6:
        raise ValueError(f"{what}: shares add up to {sum(shares):.4f}, not 1")


class County(Spec):
    name: str
    timezone: str
    organisations: tuple[OrganisationSpec, ...]
    sites: tuple[SiteSpec, ...]
    traffic: Traffic
    surge: Surge

    @classmethod
    def load(cls, path: Path | None = None) -> County:
        """The county described by ``path``, by default the demonstration county."""
        return cls.model_validate_json((path or COUNTY_FILE).read_bytes())

    @cached_property
    def zone(self) -> ZoneInfo:
        """The county's clock: daily rhythms follow local time, not UTC."""
        return ZoneInfo(self.timezone)

    @cached_property
    def wards(self) -> tuple[Ward, ...]:
        return tuple(
            Ward(
                ward_id=f"{site.id}-{ward.code}",
                site_id=site.id,
                organisation_id=site.organisation,
                spec=ward,
                beds=_expand(f"{site.id}-{ward.code}", ward),
            )
            for site in self.sites
            for ward in site.wards
        )

    def site(self, site_id: str) -> SiteSpec:
        return next(site for site in self.sites if site.id == site_id)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ZoneInfo(self.timezone)
        organisations = {org.id: org for org in self.organisations}
        if len(organisations) != len(self.organisations):
            raise ValueError("organisation ids must be unique")
        site_ids = [site.id for site in self.sites]
        if len(set(site_ids)) != len(site_ids):
            raise ValueError("site ids must be unique")
        for site in self.sites:
            if site.organisation not in organisations:
                raise ValueError(f"site {site.id}: unknown organisation {site.organisation}")
            codes = [ward.code for ward in site.wards]
            if len(set(codes)) != len(codes):
                raise ValueError(f"site {site.id}: ward codes must be unique")
        traffic = self.traffic
        specialties = {ward.specialty for site in self.sites for ward in site.wards}
        emergency, elective = traffic.emergency, traffic.elective
        for where, sites in [
            ("emergency", emergency.sites),
            ("elective", elective.sites),
            *((f"case {case.name}", case.sites) for case in emergency.cases if case.sites),
        ]:
            unknown = set(sites) - set(site_ids)
            if unknown:
                raise ValueError(f"{where}: unknown sites {sorted(unknown)}")
            _shares_sum_to_one(f"{where} sites", list(sites.values()))
        cases: list[EmergencyCase | ElectiveCase] = [*emergency.cases, *elective.cases]
        for case in cases:
            wanted = set(case.wards)
            if isinstance(case, EmergencyCase) and case.via is not None:
                wanted.add(case.via)
            missing = wanted - specialties
            if missing:
                raise ValueError(f"case {case.name}: no ward has specialty {sorted(missing)}")
        _shares_sum_to_one("emergency cases", [case.share for case in emergency.cases])
        _shares_sum_to_one("elective cases", [case.share for case in elective.cases])
        _shares_sum_to_one("pathways", [pathway.share for pathway in traffic.pathways])
        _shares_sum_to_one(
            "community destinations", [d.share for d in traffic.community.destinations]
        )
        if not any(ward.role is WardRole.COMMUNITY for site in self.sites for ward in site.wards):
            raise ValueError("the county needs at least one community ward")
        _check_discharge_planning(self)
        if self.surge.site not in emergency.sites:
            raise ValueError(f"surge: site {self.surge.site} takes no emergency arrivals")
        return self


def _check_discharge_planning(county: County) -> None:
    """Every acute site has a catchment and every community hospital an area; every
    pathway that needs support names a service some provider declares in every area."""
    planning = county.traffic.discharge_planning
    roles = {site.id: {ward.role for ward in site.wards} for site in county.sites}
    acute = {site for site, kinds in roles.items() if WardRole.COMMUNITY not in kinds}
    community = set(roles) - acute
    if set(planning.catchments) != acute:
        raise ValueError(f"discharge planning: catchments must name the sites {sorted(acute)}")
    if set(planning.community_areas) != community:
        raise ValueError(f"discharge planning: community_areas must name {sorted(community)}")
    for site, catchment in planning.catchments.items():
        _shares_sum_to_one(f"catchment of {site}", list(catchment.values()))
    areas = {area for shares in planning.catchments.values() for area in shares}
    without_beds = areas - set(planning.community_areas.values())
    if without_beds:
        raise ValueError(f"discharge planning: no community hospital in {sorted(without_beds)}")
    declared = {capacity.service: capacity for capacity in planning.capacity}
    if len(declared) != len(planning.capacity):
        raise ValueError("discharge planning: a service is declared twice")
    organisations = {org.id for org in county.organisations}
    for offered, capacity in declared.items():
        if capacity.organisation not in organisations:
            raise ValueError(f"capacity {offered}: unknown organisation {capacity.organisation}")
        from_beds = offered is Service.COMMUNITY_HOSPITAL_BED
        if from_beds != (capacity.per_day is None):
            raise ValueError(f"capacity {offered}: per_day is for all but community beds")
        if capacity.per_day is not None and set(capacity.per_day) != areas:
            raise ValueError(f"capacity {offered}: per_day must name the areas {sorted(areas)}")
    for pathway in county.traffic.pathways:
        service = pathway.service
        if (service is None) != (pathway.pathway == 0):
            raise ValueError(f"{pathway.detail}: only pathway 0 needs no service")
        if service is not None and service.pathway.value != str(pathway.pathway):
            raise ValueError(f"{pathway.detail}: {service} is not a pathway {pathway.pathway} one")
        if service is not None and service not in declared:
            raise ValueError(f"{pathway.detail}: no provider declares {service}")
        moves = pathway.destination is DischargeDestination.COMMUNITY_HOSPITAL
        if moves != (service is Service.COMMUNITY_HOSPITAL_BED):
            raise ValueError(f"{pathway.detail}: community hospital beds are for the move there")


def _expand(ward_id: str, ward: WardSpec) -> tuple[BedPlace, ...]:
    beds = [
        BedPlace(
            bed_id=f"{ward_id}-B{bay:02d}-{bed}",
            ward_id=ward_id,
            label=f"Bay {bay} bed {bed}",
            room=f"Bay {bay}",
            bay=bay,
        )
        for bay, size in enumerate(ward.bays, start=1)
        for bed in range(1, size + 1)
    ]
    beds.extend(
        BedPlace(
            bed_id=f"{ward_id}-SR{room:02d}",
            ward_id=ward_id,
            label=f"Side room {room}",
            room=f"Side room {room}",
            bay=None,
        )
        for room in range(1, ward.side_rooms + 1)
    )
    return tuple(beds)

"""The live picture as FHIR R4 resources: sites, wards and beds as Locations, inpatient
spells as Encounters, validated by fhir.resources as they are built.

Resource ids are ours where FHIR allows them (letters, digits, "-" and "."), and base32
otherwise (a spell id such as ``RWP:V1001``), so that every id reads back to ours.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementImplementation,
    CapabilityStatementRest,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceSearchParam,
)
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.encounter import Encounter, EncounterHospitalization, EncounterLocation
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from flowcentre.domain.events import DischargeDestination, SiteRegistered, WardRegistered
from flowcentre.domain.model import Bed, Spell, SpellStatus

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"

V2_0116 = "http://terminology.hl7.org/CodeSystem/v2-0116"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
OUR_IDS = "https://flowcentre.example/Id/"
"""Identifier systems of our own ids: ``<OUR_IDS>site``, ``ward``, ``bed``, ``spell``."""

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ENCODED = "b32."


class LocationKind(StrEnum):
    """What a Location is, by its physicalType (location-physical-type codes)."""

    SITE = "si"
    WARD = "wa"
    BED = "bd"


_V2_0116_DISPLAY = {
    "C": "Closed",
    "H": "Housekeeping",
    "I": "Isolated",
    "K": "Contaminated",
    "O": "Occupied",
    "U": "Unoccupied",
}

#: Our destinations, as HL7's discharge-disposition codes.
_DISPOSITION = {
    DischargeDestination.USUAL_RESIDENCE: ("home", "Home"),
    DischargeDestination.TEMPORARY_RESIDENCE: ("alt-home", "Alternative home"),
    DischargeDestination.CARE_HOME: ("snf", "Skilled nursing facility"),
    DischargeDestination.COMMUNITY_HOSPITAL: ("other-hcf", "Other healthcare facility"),
    DischargeDestination.OTHER_HOSPITAL: ("other-hcf", "Other healthcare facility"),
    DischargeDestination.HOSPICE: ("hosp", "Hospice"),
    DischargeDestination.DIED: ("exp", "Expired"),
    DischargeDestination.SELF_DISCHARGE: ("aadvice", "Left against advice"),
    DischargeDestination.OTHER: ("oth", "Other"),
}


def fhir_id(ours: str) -> str:
    if _FHIR_ID.fullmatch(ours) and not ours.startswith(_ENCODED):
        return ours
    encoded = base64.b32encode(ours.encode()).decode().rstrip("=").lower()
    return _ENCODED + encoded


def our_id(fhir: str) -> str:
    if not fhir.startswith(_ENCODED):
        return fhir
    encoded = fhir.removeprefix(_ENCODED).upper()
    return base64.b32decode(encoded + "=" * (-len(encoded) % 8)).decode()


def location_id(kind: LocationKind, ours: str) -> str:
    """A Location's id: its kind, then our id (``wa.WRH-AMU``)."""
    return f"{kind.value}.{fhir_id(ours)}"


def parse_location_id(fhir: str) -> tuple[LocationKind, str]:
    """The kind and our id of a Location id, or ValueError."""
    kind, _, rest = fhir.partition(".")
    return LocationKind(kind), our_id(rest)


def _physical(kind: LocationKind, display: str) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=PHYSICAL_TYPE, code=kind.value, display=display)])


def site_location(site: SiteRegistered) -> Location:
    payload = site.payload
    return Location(
        id=location_id(LocationKind.SITE, payload.site_id),
        identifier=[Identifier(system=OUR_IDS + "site", value=payload.site_id)],
        status="active",
        name=payload.name,
        mode="instance",
        physicalType=_physical(LocationKind.SITE, "Site"),
    )


def ward_location(ward: WardRegistered) -> Location:
    payload = ward.payload
    return Location(
        id=location_id(LocationKind.WARD, payload.ward_id),
        identifier=[Identifier(system=OUR_IDS + "ward", value=payload.ward_id)],
        status="active",
        name=payload.name,
        mode="instance",
        physicalType=_physical(LocationKind.WARD, "Ward"),
        partOf=Reference(reference=f"Location/{location_id(LocationKind.SITE, payload.site_id)}"),
    )


def bed_location(bed: Bed) -> Location:
    code = bed.state.hl7_code
    return Location(
        id=location_id(LocationKind.BED, bed.bed_id),
        identifier=[Identifier(system=OUR_IDS + "bed", value=bed.bed_id)],
        status="active" if bed.registered else "inactive",
        name=bed.details.label if bed.details else bed.bed_id,
        mode="instance",
        operationalStatus=Coding(system=V2_0116, code=code, display=_V2_0116_DISPLAY[code]),
        physicalType=_physical(LocationKind.BED, "Bed"),
        partOf=Reference(reference=f"Location/{location_id(LocationKind.WARD, bed.ward_id)}"),
    )


def encounter(spell: Spell, *, identified: bool) -> Encounter:
    """The spell as an inpatient Encounter; the patient named only when ``identified``."""
    stays = [
        EncounterLocation(
            location=Reference(reference=f"Location/{_where(stay.location)}"),
            status="active" if stay.end is None else "completed",
            period=Period(start=stay.start.at, end=stay.end.at if stay.end else None),
        )
        for stay in spell.stays
    ]
    patient = spell.patient
    subject = None
    if identified and patient is not None:
        identifier = (
            Identifier(system=NHS_NUMBER, value=patient.nhs_number)
            if patient.nhs_number
            else Identifier(system=OUR_IDS + "patient", value=patient.patient_id)
        )
        subject = Reference(identifier=identifier)
    disposition = _DISPOSITION.get(spell.destination) if spell.destination else None
    return Encounter(
        id=fhir_id(spell.spell_id),
        identifier=[Identifier(system=OUR_IDS + "spell", value=spell.spell_id)],
        status="finished" if spell.status is SpellStatus.DISCHARGED else "in-progress",
        class_fhir=Coding(system=ACT_CODE, code="IMP", display="inpatient encounter"),
        subject=subject,
        period=Period(
            start=spell.admitted.at if spell.admitted else None,
            end=spell.discharged.at if spell.discharged else None,
        ),
        location=stays or None,
        hospitalization=EncounterHospitalization(
            dischargeDisposition=CodeableConcept(
                coding=[Coding(system=DISPOSITION, code=disposition[0], display=disposition[1])]
            )
        )
        if disposition
        else None,
    )


def _where(location: object) -> str:
    bed_id = getattr(location, "bed_id", None)
    if bed_id:
        return location_id(LocationKind.BED, bed_id)
    return location_id(LocationKind.WARD, str(getattr(location, "ward_id", "")))


def searchset(resources: Sequence[Resource], base: str, self_url: str) -> Bundle:
    return Bundle(
        type="searchset",
        total=len(resources),
        link=[BundleLink(relation="self", url=self_url)],
        entry=[
            BundleEntry(
                fullUrl=f"{base}/{resource.get_resource_type()}/{resource.id}",
                resource=resource,
                search=BundleEntrySearch(mode="match"),
            )
            for resource in resources
        ],
    )


def _searched(
    name: str, kind: str, documentation: str
) -> CapabilityStatementRestResourceSearchParam:
    return CapabilityStatementRestResourceSearchParam(
        name=name, type=kind, documentation=documentation
    )


def capability_statement(base: str) -> CapabilityStatement:
    reads = [
        CapabilityStatementRestResourceInteraction(code="read"),
        CapabilityStatementRestResourceInteraction(code="search-type"),
    ]
    return CapabilityStatement(
        status="active",
        date=datetime.now(UTC),
        kind="instance",
        fhirVersion=FHIR_VERSION,
        format=["json"],
        implementation=CapabilityStatementImplementation(
            description="Flow Centre: the live bed and inpatient picture", url=base
        ),
        rest=[
            CapabilityStatementRest(
                mode="server",
                resource=[
                    CapabilityStatementRestResource(
                        type="Location",
                        interaction=reads,
                        searchParam=[
                            _searched("partof", "reference", "A ward's site, or a bed's ward"),
                            _searched("type", "token", "si (site), wa (ward) or bd (bed)"),
                            _searched(
                                "operational-status", "token", "HL7 table 0116 code of a bed"
                            ),
                        ],
                    ),
                    CapabilityStatementRestResource(
                        type="Encounter",
                        interaction=reads,
                        searchParam=[
                            _searched("location", "reference", "The ward the patient is on"),
                        ],
                    ),
                ],
            )
        ],
    )

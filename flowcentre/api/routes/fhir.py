"""FHIR R4 reads of the live picture: Locations (sites, wards, beds and their states) and
Encounters (inpatient spells), as ``application/fhir+json``, searches as Bundles.

A Location needs capacity.read; an Encounter patient.read over the patient's ward, and
each read of one is audited like any read of a patient's details.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fhir.resources.R4B.resource import Resource

from flowcentre import fhir
from flowcentre.api.audited import record_read, shown_to
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import AuditDep, PolicyDep, ReadsDep
from flowcentre.domain.access import AccessPolicy, Permission, Principal
from flowcentre.domain.model import Spell
from flowcentre.fhir import LocationKind
from flowcentre.store.reads import LiveReads

router = APIRouter(prefix="/fhir", tags=["fhir"], responses=ACCESS_RESPONSES)

FHIR_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {fhir.MEDIA_TYPE: {}}, "description": "A FHIR R4 resource."}
}


def _answer(resource: Resource) -> Response:
    return Response(resource.model_dump_json(exclude_none=True), media_type=fhir.MEDIA_TYPE)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


@router.get(
    "/metadata",
    response_class=Response,
    responses=FHIR_JSON,
    summary="The CapabilityStatement: what this server reads and searches",
)
async def metadata(request: Request, principal: PrincipalDep) -> Response:
    return _answer(fhir.capability_statement(_base(request)))


async def _locations(reads: LiveReads) -> list[Resource]:
    sites = [fhir.site_location(site) for site in await reads.sites()]
    wards = [fhir.ward_location(ward) for ward in await reads.wards()]
    beds = [fhir.bed_location(bed) for bed in await reads.all_beds()]
    return [*sites, *wards, *beds]


def _matches(
    location: Resource, partof: str | None, kind: str | None, operational: str | None
) -> bool:
    part_of = getattr(location, "partOf", None)
    parent = part_of.reference if part_of is not None else None
    physical = location.physicalType.coding[0].code  # type: ignore[attr-defined]
    code = getattr(location, "operationalStatus", None)
    return (
        (partof is None or parent in (partof, f"Location/{partof}"))
        and (kind is None or physical == kind)
        and (operational is None or (code is not None and code.code == operational))
    )


@router.get(
    "/Location",
    response_class=Response,
    responses=FHIR_JSON,
    summary="Search sites, wards and beds",
)
async def search_locations(
    request: Request,
    reads: ReadsDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    partof: Annotated[str | None, Query(description="Location/<id> of a site or ward")] = None,
    kind: Annotated[str | None, Query(alias="type", description="si, wa or bd")] = None,
    operational_status: Annotated[
        str | None, Query(alias="operational-status", description="HL7 table 0116 code")
    ] = None,
) -> Response:
    require(principal, policy, Permission.READ_CAPACITY)
    found = [
        location
        for location in await _locations(reads)
        if _matches(location, partof, kind, operational_status)
    ]
    return _answer(fhir.searchset(found, _base(request), str(request.url)))


@router.get(
    "/Location/{location_id}",
    response_class=Response,
    responses={**FHIR_JSON, 404: {"description": "No such site, ward or bed."}},
    summary="A site, ward or bed",
)
async def read_location(
    location_id: str, reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep
) -> Response:
    require(principal, policy, Permission.READ_CAPACITY)
    try:
        kind, ours = fhir.parse_location_id(location_id)
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no Location {location_id!r}") from None
    if kind is LocationKind.SITE and (site := await reads.site(ours)):
        return _answer(fhir.site_location(site))
    if kind is LocationKind.WARD and (ward := await reads.ward(ours)):
        return _answer(fhir.ward_location(ward))
    if kind is LocationKind.BED and (bed := await reads.bed(ours)):
        return _answer(fhir.bed_location(bed))
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no Location {location_id!r}")


async def _encounters(
    spells: list[Spell], principal: Principal, reads: LiveReads, audit: AuditDep, subject: str
) -> list[Resource]:
    shown = [
        shown_to(principal, spell, await reads.ward_organisation(spell.location.ward_id))
        for spell in spells
        if spell.location is not None
    ]
    await record_read(audit, principal, "GET /fhir/Encounter", subject, shown)
    return [fhir.encounter(one.spell, identified=not one.withheld) for one in shown]


def _readable(spell: Spell, principal: Principal, policy: AccessPolicy) -> bool:
    location = spell.location
    return location is not None and principal.may(policy, Permission.READ_PATIENT, location.ward_id)


@router.get(
    "/Encounter",
    response_class=Response,
    responses=FHIR_JSON,
    summary="Current inpatient spells on the wards the account covers (each read is audited)",
)
async def search_encounters(
    request: Request,
    reads: ReadsDep,
    audit: AuditDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    location: Annotated[str | None, Query(description="Location/<id> of a ward")] = None,
) -> Response:
    require(principal, policy, Permission.READ_PATIENT)
    wards = [ward.payload.ward_id for ward in await reads.wards()]
    if location is not None:
        try:
            kind, ours = fhir.parse_location_id(location.removeprefix("Location/"))
        except ValueError:
            kind, ours = LocationKind.SITE, ""
        wards = [ward for ward in wards if kind is LocationKind.WARD and ward == ours]
    spells = [
        spell
        for ward_id in wards
        if principal.may(policy, Permission.READ_PATIENT, ward_id)
        for spell in await reads.ward_spells(ward_id)
        if spell.in_hospital
    ]
    found = await _encounters(spells, principal, reads, audit, location or "all wards")
    return _answer(fhir.searchset(found, _base(request), str(request.url)))


@router.get(
    "/Encounter/{encounter_id}",
    response_class=Response,
    responses={**FHIR_JSON, 404: {"description": "No such spell on the account's wards."}},
    summary="An inpatient spell (each read is audited)",
)
async def read_encounter(
    encounter_id: str,
    reads: ReadsDep,
    audit: AuditDep,
    principal: PrincipalDep,
    policy: PolicyDep,
) -> Response:
    require(principal, policy, Permission.READ_PATIENT)
    try:
        spell = await reads.spell(fhir.our_id(encounter_id))
    except ValueError:
        spell = None
    # A spell of a ward the account does not cover is as good as absent to it.
    if spell is None or not _readable(spell, principal, policy):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no Encounter {encounter_id!r}")
    [found] = await _encounters([spell], principal, reads, audit, encounter_id)
    return _answer(found)

"""The FHIR R4 reads, validated against the R4 models, over the in-memory picture."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.resource import Resource

from flowcentre.domain.access import Principal, Role
from flowcentre.domain.audit import PatientDetailsRead
from flowcentre.fhir import fhir_id, our_id
from tests.api_app import app_over, signed_in
from tests.unit.conftest import RecordingPublisher


async def get(
    principal: Principal, path: str, trail: RecordingPublisher | None = None
) -> httpx.Response:
    app = app_over(RecordingPublisher(), principal, audit=trail or RecordingPublisher())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def valid(answer: httpx.Response, model: type[Resource]) -> dict[str, Any]:
    """The answer's resource, once the R4 model has validated it."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    model.model_validate_json(answer.content)
    document: dict[str, Any] = answer.json()
    return document


def resources(bundle: dict[str, Any], model: type[Resource]) -> list[dict[str, Any]]:
    found = [entry["resource"] for entry in bundle.get("entry", [])]
    for resource in found:
        model.model_validate(resource)
    return found


async def test_the_capability_statement_says_what_is_read_and_searched() -> None:
    statement = valid(await get(signed_in(Role.MANAGER), "/fhir/metadata"), CapabilityStatement)

    assert statement["fhirVersion"] == "4.0.1"
    assert {kind["type"] for kind in statement["rest"][0]["resource"]} == {"Location", "Encounter"}


async def test_locations_are_the_sites_wards_and_beds_with_their_states() -> None:
    answer = await get(signed_in(Role.MANAGER), "/fhir/Location?partof=Location/wa.AVON4")

    bundle = valid(answer, Bundle)
    beds = {bed["id"]: bed for bed in resources(bundle, Location)}
    assert bundle["type"] == "searchset"
    assert sorted(beds) == ["bd.B1", "bd.B2", "bd.SR1"]
    assert beds["bd.B1"]["operationalStatus"]["code"] == "O"
    assert beds["bd.B2"]["operationalStatus"]["code"] == "U"
    assert beds["bd.B1"]["partOf"]["reference"] == "Location/wa.AVON4"


@pytest.mark.parametrize(
    ("query", "ids"),
    [("type=si", ["si.WRH"]), ("type=wa", ["wa.AVON4"]), ("operational-status=O", ["bd.B1"])],
)
async def test_locations_are_searched_by_type_and_state(query: str, ids: list[str]) -> None:
    bundle = valid(await get(signed_in(Role.FLOW_CENTRE), f"/fhir/Location?{query}"), Bundle)

    assert [location["id"] for location in resources(bundle, Location)] == ids


async def test_a_location_reads_back_by_its_id_and_an_unknown_one_is_404() -> None:
    ward = valid(await get(signed_in(Role.MANAGER), "/fhir/Location/wa.AVON4"), Location)
    unknown = await get(signed_in(Role.MANAGER), "/fhir/Location/wa.NOWHERE")

    assert ward["partOf"]["reference"] == "Location/si.WRH"
    assert unknown.status_code == 404


async def test_encounters_are_the_inpatients_an_account_may_read_each_read_audited() -> None:
    trail = RecordingPublisher()

    found = await get(signed_in(Role.WARD_STAFF, "AVON4"), "/fhir/Encounter", trail)
    one = await get(signed_in(Role.FLOW_CENTRE), f"/fhir/Encounter/{fhir_id('S1')}", trail)
    elsewhere = await get(signed_in(Role.WARD_STAFF, "OTHER"), "/fhir/Encounter")

    [encounter] = resources(valid(found, Bundle), Encounter)
    assert encounter["status"] == "in-progress"
    assert encounter["class"]["code"] == "IMP"
    assert encounter["location"][0]["location"]["reference"] == "Location/bd.B1"
    assert encounter["subject"]["identifier"]["value"] == "P-S1"
    assert valid(one, Encounter)["id"] == "S1"
    assert valid(elsewhere, Bundle)["total"] == 0
    reads = [read for read in trail.published if isinstance(read, PatientDetailsRead)]
    assert [read.payload.view for read in reads] == ["GET /fhir/Encounter"] * 2


async def test_a_manager_reads_no_encounter() -> None:
    answer = await get(signed_in(Role.MANAGER), "/fhir/Encounter")

    assert answer.status_code == 403


@pytest.mark.parametrize("ours", ["S1", "RWP:V1001", "b32.looks-encoded", "a/b@c"])
def test_every_id_reads_back_to_ours(ours: str) -> None:
    assert our_id(fhir_id(ours)) == ours

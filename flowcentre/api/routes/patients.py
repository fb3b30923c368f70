"""Who is in a bed, by name and NHS number: the one view that identifies patients.

Every read is recorded on the audit trail before it is answered, and is not answered if
it cannot be recorded. A patient who objects to sharing is not identified to staff of
other organisations than the one running their ward.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import AuditDep, PolicyDep, ReadsDep
from flowcentre.api.models import PatientDetails
from flowcentre.api.routes.beds import SOURCE_SYSTEM, BedId
from flowcentre.domain.access import Permission, Principal
from flowcentre.domain.audit import DetailsRead, PatientDetailsRead, PatientShown
from flowcentre.domain.events import Source
from flowcentre.domain.model import Spell
from flowcentre.publisher import EventPublisher, PublishFailed

router = APIRouter(prefix="/api/v1/beds", tags=["patients"], responses=ACCESS_RESPONSES)

VIEW = "GET /api/v1/beds/{bed_id}/patients"


def _objects(spell: Spell) -> bool:
    return spell.patient is not None and spell.patient.sharing_objection


def _details(bed_id: str, spell: Spell, *, withheld: bool) -> PatientDetails:
    patient = spell.patient
    identified = patient if patient and not withheld else None
    return PatientDetails(
        bed_id=bed_id,
        spell_id=spell.spell_id,
        withheld=withheld,
        sharing_objection=_objects(spell),
        patient_id=identified.patient_id if identified else None,
        nhs_number=identified.nhs_number if identified else None,
        given_name=identified.given_name if identified else None,
        family_name=identified.family_name if identified else None,
        birth_date=identified.birth_date if identified else None,
        sex=patient.sex.value if patient else "unknown",
        specialty=spell.specialty,
        admitted_at=spell.admitted.at if spell.admitted else None,
        expected_discharge_date=spell.expected_discharge_date,
        on_leave=spell.on_leave,
    )


@router.get(
    "/{bed_id}/patients",
    response_model=list[PatientDetails],
    responses={
        404: {"description": "The feeds have never named a bed of that id."},
        503: {"description": "The read could not be recorded on the audit trail: not shown."},
    },
    summary="The patients in a bed, identified (each read is audited)",
)
async def read_patients(
    bed_id: BedId,
    reads: ReadsDep,
    audit: AuditDep,
    principal: PrincipalDep,
    policy: PolicyDep,
) -> list[PatientDetails]:
    require(principal, policy, Permission.READ_PATIENT)
    bed = await reads.bed(bed_id)
    if bed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bed {bed_id!r} is not known")
    require(principal, policy, Permission.READ_PATIENT, bed.ward_id)
    home = await reads.ward_organisation(bed.ward_id) == principal.organisation_id
    spells = [
        spell
        for occupant in bed.occupants
        if (spell := await reads.spell(occupant.spell_id)) is not None
    ]
    details = [_details(bed_id, spell, withheld=not home and _objects(spell)) for spell in spells]
    if details:
        held_by = await reads.ward_organisation(bed.ward_id)
        await _record(principal, bed_id, spells, details, audit, held_by)
    return details


async def _record(
    principal: Principal,
    bed_id: str,
    spells: list[Spell],
    details: list[PatientDetails],
    audit: EventPublisher,
    held_by: str | None,
) -> None:
    now = datetime.now(UTC)
    read = PatientDetailsRead(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        recorded_at=now,
        source=Source(system=SOURCE_SYSTEM, organisation=principal.organisation_id),
        caused_by=principal.actor,
        payload=DetailsRead(
            view=VIEW,
            subject=bed_id,
            patients=tuple(
                PatientShown(
                    patient_id=spell.patient.patient_id if spell.patient else spell.spell_id,
                    nhs_number=spell.patient.nhs_number if spell.patient else None,
                    spell_id=spell.spell_id,
                    withheld=shown.withheld,
                    held_by=held_by,
                )
                for spell, shown in zip(spells, details, strict=True)
            ),
        ),
    )
    try:
        await audit.publish_async([read])
    except PublishFailed as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the read could not be recorded on the audit trail, so it is not shown: {error}",
        ) from None

"""Who is in a bed, by name and NHS number: the one board view that identifies patients.

Every read is recorded on the audit trail before it is answered, and is not answered if
it cannot be recorded. A patient who objects to sharing is not identified to staff of
other organisations than the one running their ward.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from flowcentre.api.audited import Shown, objects, record_read, shown_to
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import AuditDep, PolicyDep, ReadsDep
from flowcentre.api.models import PatientDetails
from flowcentre.api.routes.beds import BedId
from flowcentre.domain.access import Permission

router = APIRouter(prefix="/api/v1/beds", tags=["patients"], responses=ACCESS_RESPONSES)

VIEW = "GET /api/v1/beds/{bed_id}/patients"


def _details(bed_id: str, shown: Shown) -> PatientDetails:
    spell = shown.spell
    patient = spell.patient
    identified = patient if patient and not shown.withheld else None
    return PatientDetails(
        bed_id=bed_id,
        spell_id=spell.spell_id,
        withheld=shown.withheld,
        sharing_objection=objects(spell),
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
    held_by = await reads.ward_organisation(bed.ward_id)
    shown = [
        shown_to(principal, spell, held_by)
        for occupant in bed.occupants
        if (spell := await reads.spell(occupant.spell_id)) is not None
    ]
    await record_read(audit, principal, VIEW, bed_id, shown)
    return [_details(bed_id, one) for one in shown]

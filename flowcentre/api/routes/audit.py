"""The audit trail of reads of patients' details, for administrators: search and export.

Searched by patient (their identifier or NHS number), by reader (an account id), or
both, over the days the index keeps (``FLOWCENTRE_AUDIT_INDEX_DAYS``); the audit topic
keeps the whole trail.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from flowcentre.api.audited import record_patients
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import AuditDep, AuditIndexDep, PolicyDep
from flowcentre.api.models import AuditReadView
from flowcentre.domain.access import Permission
from flowcentre.domain.audit import WITHHELD, PatientDetailsRead, seen_by
from flowcentre.store.audit_index import AuditQuery

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ACCESS_RESPONSES)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "read_at",
    "reader_kind",
    "reader_id",
    "reader_name",
    "reader_organisation",
    "view",
    "subject",
    "patient_id",
    "nhs_number",
    "spell_id",
    "withheld",
)

Patient = Annotated[
    str | None,
    Query(max_length=128, description="A patient's identifier or NHS number."),
]
Reader = Annotated[str | None, Query(max_length=128, description="A reader's account id.")]
Since = Annotated[datetime | None, Query(description="Reads at or after this time.")]
Until = Annotated[datetime | None, Query(description="Reads at or before this time.")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many, newest first.")]

NAME_ONE: dict[int | str, dict[str, Any]] = {
    422: {"description": "Neither a patient nor a reader is named."}
}


async def found_reads(
    request: Request,
    index: AuditIndexDep,
    audit: AuditDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    patient: Patient = None,
    reader: Reader = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 10_000,
) -> list[PatientDetailsRead]:
    """The reads the request's query names, for an account that may search them."""
    require(principal, policy, Permission.READ_AUDIT)
    if patient is None and reader is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "name a patient, a reader, or both"
        )
    found = await index.find(AuditQuery(patient, reader, since, until, limit))
    seen = [seen_by(read, principal.organisation_id) for read in found]
    # The trail names patients, by NHS number too: searching it is a read of them.
    patients = {
        shown.patient_id: shown
        for read in seen
        for shown in read.payload.patients
        if shown.patient_id != WITHHELD
    }
    view = f"GET {request.url.path}"
    await record_patients(audit, principal, view, str(request.url.query), list(patients.values()))
    return seen


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; a display name typed by anyone
    # must stay text in the administrator's spreadsheet.
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


FoundReads = Annotated[list[PatientDetailsRead], Depends(found_reads)]


@router.get(
    "/reads",
    response_model=list[AuditReadView],
    responses=NAME_ONE,
    summary="Reads of patients' details, by patient or by reader",
)
async def search_reads(reads: FoundReads) -> list[AuditReadView]:
    return [AuditReadView.of(read) for read in reads]


@router.get(
    "/reads.csv",
    response_class=Response,
    responses={**NAME_ONE, 200: {"content": {"text/csv": {}}, "description": "One row a patient."}},
    summary="The same reads as a CSV file, a row for each patient shown",
)
async def export_reads(reads: FoundReads) -> Response:
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(CSV_COLUMNS)
    for read in reads:
        by = read.caused_by
        for shown in read.payload.patients:
            rows.writerow(
                _cell(value)
                for value in (
                    read.occurred_at.isoformat(),
                    by.kind.value,
                    by.id,
                    by.name or "",
                    read.source.organisation,
                    read.payload.view,
                    read.payload.subject,
                    shown.patient_id,
                    shown.nhs_number or "",
                    shown.spell_id,
                    "yes" if shown.withheld else "no",
                )
            )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-reads.csv"'},
    )

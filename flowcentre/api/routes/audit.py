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

from fastapi import APIRouter, HTTPException, Query, Response, status

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import AuditIndexDep, PolicyDep
from flowcentre.api.models import AuditReadView
from flowcentre.domain.access import Permission
from flowcentre.domain.audit import PatientDetailsRead
from flowcentre.store.audit_index import AuditQuery

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ACCESS_RESPONSES)

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


async def _search(
    index: AuditIndexDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    query: AuditQuery,
) -> list[PatientDetailsRead]:
    require(principal, policy, Permission.READ_AUDIT)
    if query.patient is None and query.reader is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "name a patient, a reader, or both"
        )
    return await index.find(query)


@router.get(
    "/reads",
    response_model=list[AuditReadView],
    responses=NAME_ONE,
    summary="Reads of patients' details, by patient or by reader",
)
async def search_reads(
    index: AuditIndexDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    patient: Patient = None,
    reader: Reader = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 500,
) -> list[AuditReadView]:
    query = AuditQuery(patient, reader, since, until, limit)
    return [AuditReadView.of(read) for read in await _search(index, principal, policy, query)]


@router.get(
    "/reads.csv",
    response_class=Response,
    responses={**NAME_ONE, 200: {"content": {"text/csv": {}}, "description": "One row a patient."}},
    summary="The same reads as a CSV file, a row for each patient shown",
)
async def export_reads(
    index: AuditIndexDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    patient: Patient = None,
    reader: Reader = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 10_000,
) -> Response:
    query = AuditQuery(patient, reader, since, until, limit)
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(CSV_COLUMNS)
    for read in await _search(index, principal, policy, query):
        by = read.caused_by
        for shown in read.payload.patients:
            rows.writerow(
                (
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

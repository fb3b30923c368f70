"""A bed as boards show it, and the status ward staff set on it.

Setting a status publishes a ``BedStatusChanged`` event and nothing else: the worker
applies it to the view, so the bed changes on every board the same way whether the
change came from a ward, housekeeping or a hospital feed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from flowcentre.api.audited import SOURCE_SYSTEM
from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, WriterDep, board_scope, require
from flowcentre.api.deps import PolicyDep, PublisherDep, ReadsDep
from flowcentre.api.models import BedStatusRequest, BedView, EventAccepted, beds_seen
from flowcentre.domain.access import Permission
from flowcentre.domain.beds import status_refusal
from flowcentre.domain.events import (
    BedStatusChange,
    BedStatusChanged,
    Source,
)

router = APIRouter(prefix="/api/v1/beds", tags=["beds"], responses=ACCESS_RESPONSES)

UNKNOWN_ORGANISATION = "unknown"

BedId = Annotated[str, Path(examples=["WRH-AVON4-B01"])]


def _not_registered(bed_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"bed {bed_id!r} is not registered")


@router.get(
    "/{bed_id}",
    response_model=BedView,
    responses={404: {"description": "The feeds have never named a bed of that id."}},
    summary="A bed as boards show it",
)
async def read_bed(
    bed_id: BedId, reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep
) -> BedView:
    require(principal, policy, Permission.READ_BOARD)
    bed = await reads.bed(bed_id)
    if bed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bed {bed_id!r} is not known")
    require(principal, policy, Permission.READ_BOARD, bed.ward_id)
    [seen] = beds_seen([bed], await board_scope(principal, policy, reads))
    return seen


@router.post(
    "/{bed_id}/status",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    responses={
        404: {"description": "No bed of that id is registered."},
        409: {"description": "The status cannot be set on the bed as it is now."},
        503: {"description": "The event log did not take the event; nothing changed."},
    },
    summary="Set a bed's housekeeping status",
)
async def set_bed_status(
    bed_id: BedId,
    change: BedStatusRequest,
    reads: ReadsDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
) -> EventAccepted:
    require(principal, policy, Permission.SET_BED_STATUS)
    bed = await reads.bed(bed_id)
    if bed is None or not bed.registered:
        raise _not_registered(bed_id)
    require(principal, policy, Permission.SET_BED_STATUS, bed.ward_id)
    if refusal := status_refusal(bed.state, change.status):
        raise HTTPException(status.HTTP_409_CONFLICT, f"bed {bed_id!r}: {refusal}")
    now = datetime.now(UTC)
    # The nurse acts on the bed as the board showed it, so the change comes after what
    # decided that state even if the feed's clock runs ahead of this server's.
    after_shown = bed.since.at + timedelta(milliseconds=1) if bed.since else now
    event = BedStatusChanged(
        event_id=str(uuid.uuid4()),
        occurred_at=max(now, after_shown),
        recorded_at=now,
        source=Source(
            system=SOURCE_SYSTEM,
            organisation=await reads.ward_organisation(bed.ward_id) or UNKNOWN_ORGANISATION,
        ),
        caused_by=principal.actor,
        payload=BedStatusChange(bed_id=bed_id, status=change.status, reason=change.reason),
    )
    await publisher.publish_async([event])
    return EventAccepted(event_id=event.event_id)

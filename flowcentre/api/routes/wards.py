"""One ward with every bed as its board shows it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, board_scope, require
from flowcentre.api.deps import PolicyDep, ReadsDep
from flowcentre.api.models import SiteView, WardDetail, beds_seen, counts_of
from flowcentre.domain import board
from flowcentre.domain.access import Permission

router = APIRouter(prefix="/api/v1/wards", tags=["wards"], responses=ACCESS_RESPONSES)


@router.get(
    "/{ward_id}",
    response_model=WardDetail,
    responses={404: {"description": "No ward of that id is registered."}},
    summary="A ward with its beds",
)
async def read_ward(
    ward_id: Annotated[str, Path(examples=["WRH-AVON4"])],
    reads: ReadsDep,
    principal: PrincipalDep,
    policy: PolicyDep,
) -> WardDetail:
    require(principal, policy, Permission.READ_BOARD, ward_id)
    ward = await reads.ward(ward_id)
    if ward is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"ward {ward_id!r} is not registered")
    site_id = ward.payload.site_id
    site = await reads.site(site_id)
    beds = await reads.ward_beds(ward_id)
    return WardDetail(
        **board.ward_view(ward),
        site=SiteView(**board.site_view(site)) if site else None,
        counts=counts_of(beds),
        beds=beds_seen(beds, await board_scope(principal, policy, reads)),
    )

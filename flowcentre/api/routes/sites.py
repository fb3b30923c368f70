"""One site: its wards with their bed counts."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import PolicyDep, ReadsDep
from flowcentre.api.models import SiteSummary, site_summary
from flowcentre.domain.access import Permission

router = APIRouter(prefix="/api/v1/sites", tags=["sites"], responses=ACCESS_RESPONSES)


@router.get(
    "/{site_id}",
    response_model=SiteSummary,
    responses={404: {"description": "No site of that id is registered."}},
    summary="A site with its wards and bed counts",
)
async def read_site(
    site_id: Annotated[str, Path(examples=["WRH"])],
    reads: ReadsDep,
    principal: PrincipalDep,
    policy: PolicyDep,
) -> SiteSummary:
    require(principal, policy, Permission.READ_CAPACITY)
    site = await reads.site(site_id)
    if site is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site_id!r} is not registered")
    wards = [w for w in await reads.wards() if w.payload.site_id == site_id]
    beds = await asyncio.gather(*(reads.ward_beds(w.payload.ward_id) for w in wards))
    grouped = {w.payload.ward_id: ward_beds for w, ward_beds in zip(wards, beds, strict=True)}
    return site_summary(site, wards, grouped)

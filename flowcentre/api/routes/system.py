"""The whole county at a glance: every site and ward with its bed counts."""

from __future__ import annotations

from fastapi import APIRouter

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import PolicyDep, ReadsDep
from flowcentre.api.models import SystemView, by_ward, counts_of, site_summary
from flowcentre.domain.access import Permission

router = APIRouter(prefix="/api/v1/system", tags=["system"], responses=ACCESS_RESPONSES)


@router.get("", response_model=SystemView, summary="Sites and wards with bed counts")
async def read_system(reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep) -> SystemView:
    require(principal, policy, Permission.READ_CAPACITY)
    sites = await reads.sites()
    wards = await reads.wards()
    beds = await reads.all_beds()
    grouped = by_ward(beds, wards)
    return SystemView(
        counts=counts_of(beds),
        sites=[site_summary(site, wards, grouped) for site in sites],
    )

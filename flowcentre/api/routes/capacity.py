"""Community and social care capacity, as the community trust and the council declare it,
against the patients still waiting for each pathway's capacity. Providers declare capacity
with ``CapacityDeclared`` events (``POST /api/v1/events``); reservations are discharge
plans'."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import PlanningDep, PolicyDep, ReadsDep
from flowcentre.domain import discharge_lists
from flowcentre.domain.access import Permission

router = APIRouter(prefix="/api/v1/capacity", tags=["capacity"], responses=ACCESS_RESPONSES)


@router.get("/community", summary="Community capacity from today, and demand per pathway")
async def community(
    reads: ReadsDep, principal: PrincipalDep, policy: PolicyDep, planning: PlanningDep
) -> dict[str, Any]:
    require(principal, policy, Permission.READ_CAPACITY)
    now = datetime.now(UTC)
    today = now.astimezone(planning.zone).date()
    pools = [pool for pool in await reads.capacity_pools() if pool.capacity.day >= today]
    pools.sort(key=lambda pool: (pool.capacity.day, pool.capacity.service.value, pool.key))
    return {
        "at": now.isoformat(),
        "pathways": discharge_lists.demand_and_capacity(
            await reads.referred_spells(), pools, now, today
        ),
        "pools": [{**discharge_lists.pool_view(pool), "free": pool.free_at(now)} for pool in pools],
    }

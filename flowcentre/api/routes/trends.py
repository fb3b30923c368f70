"""Trends for managers: the measures the alert watch samples each quarter hour of the
log's clock, for an acute site or the whole system, over the last day or week."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, require
from flowcentre.api.deps import LogNowDep, PolicyDep, ReadsDep, TrendsDep
from flowcentre.domain.access import Permission
from flowcentre.domain.measures import SYSTEM
from flowcentre.domain.places import SiteKind
from flowcentre.domain.trends import EVERY, REFERENCES, SAMPLED

router = APIRouter(prefix="/api/v1/trends", tags=["alerts"], responses=ACCESS_RESPONSES)

JSON = dict[str, Any]
WEEK_HOURS = 7 * 24


@router.get(
    "",
    summary="An acute site's or the system's sampled measures over the last hours",
    responses={422: {"description": "The query is not valid; the message names the field."}},
)
async def read_trends(
    reads: ReadsDep,
    trends: TrendsDep,
    end: LogNowDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    scope: Annotated[
        str, Query(max_length=128, description="An acute site's id, or `system`.")
    ] = SYSTEM,
    hours: Annotated[
        int, Query(ge=1, le=WEEK_HOURS, description="How far back: 24 for a day, 168 a week.")
    ] = 24,
) -> JSON:
    """The samples of the ``hours`` up to now, or to the clock on the log when it runs
    ahead (as the simulator's does), oldest first; each gives every sampled measure's
    value, null where there was nothing to measure. Each measure comes with the values its
    chart marks."""
    require(principal, policy, Permission.READ_ALERTS)
    if scope != SYSTEM:
        site = await reads.site(scope)
        if site is None or site.payload.kind is not SiteKind.ACUTE_HOSPITAL:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"scope: {scope!r} is neither `system` nor a registered acute site",
            )
    start = end - timedelta(hours=hours)
    record = await trends.record(scope)
    samples = record.between(start, end) if record else []
    return {
        "scope": scope,
        "from": start,
        "until": end,
        "every_minutes": EVERY // timedelta(minutes=1),
        "measures": [
            {
                "measure": measure,
                "references": [one.model_dump() for one in REFERENCES.get(measure, ())],
            }
            for measure in SAMPLED
        ],
        "samples": [one.model_dump(mode="json") for one in samples],
    }

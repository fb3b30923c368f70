"""OPEL: each acute site's and the system's level, with the parameters behind it and the
week's levels, and a manager's entry of a reported parameter's reading (feeds publish
``OpelReadingRecorded`` events instead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from flowcentre.api.auth import ACCESS_RESPONSES, PrincipalDep, WriterDep, require
from flowcentre.api.deps import OpelConfigurationDep, PolicyDep, PublisherDep, ReadsDep
from flowcentre.api.models import EventAccepted
from flowcentre.api.routes.alerts import publish_as
from flowcentre.domain.access import Permission
from flowcentre.domain.alert_views import opel_view, reading_view
from flowcentre.domain.contract import Identifier
from flowcentre.domain.events import OpelReading, OpelReadingRecorded
from flowcentre.domain.opel import ParameterSource
from flowcentre.domain.places import SiteKind

router = APIRouter(prefix="/api/v1/opel", tags=["alerts"], responses=ACCESS_RESPONSES)

JSON = dict[str, Any]
#: A reading dated a little ahead of this server is taken: the sender's clock may run fast.
CLOCK_SKEW = timedelta(minutes=5)


class ReadingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: Identifier | None = Field(default=None, description="An acute site; none: the system.")
    parameter: Identifier = Field(description="A reported parameter of the OPEL configuration.")
    value: Annotated[float, Field(allow_inf_nan=False)]
    measured_at: AwareDatetime | None = Field(default=None, description="Default: now.")


@router.get("", summary="Each acute site's OPEL and the system's, and the readings behind them")
async def read_opel(
    reads: ReadsDep,
    principal: PrincipalDep,
    policy: PolicyDep,
    configuration: OpelConfigurationDep,
) -> JSON:
    require(principal, policy, Permission.READ_ALERTS)
    return {
        "framework": configuration.framework,
        "version": configuration.version,
        "parameters": [one.model_dump(mode="json") for one in configuration.parameters],
        "places": [opel_view(one) for one in sorted(await reads.opel(), key=lambda o: o.place)],
        "readings": [reading_view(one) for one in await reads.opel_readings()],
    }


@router.post(
    "/readings",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Record a reported parameter's reading",
    responses={
        422: {"description": "The reading is not valid; the message names the field."},
        503: {"description": "The event log did not take the event; nothing changed."},
    },
)
async def record_reading(
    body: ReadingRequest,
    reads: ReadsDep,
    publisher: PublisherDep,
    principal: WriterDep,
    policy: PolicyDep,
    configuration: OpelConfigurationDep,
) -> EventAccepted:
    require(principal, policy, Permission.MANAGE_ALERTS)
    reported = {p.id for p in configuration.parameters if p.source is ParameterSource.REPORTED}
    if body.parameter not in reported:
        known = ", ".join(sorted(reported))
        raise _invalid(f"parameter: {body.parameter!r} is not one reported; these are: {known}")
    if body.site_id is not None:
        site = await reads.site(body.site_id)
        if site is None or site.payload.kind is not SiteKind.ACUTE_HOSPITAL:
            raise _invalid(f"site_id: {body.site_id!r} is not a registered acute site")
    now = datetime.now(UTC)
    measured = body.measured_at or now
    if measured > now + CLOCK_SKEW:
        raise _invalid("measured_at: a reading cannot be measured in the future")
    payload = OpelReading(site_id=body.site_id, parameter=body.parameter, value=body.value)
    return await publish_as(publisher, principal, OpelReadingRecorded, payload, at=measured)


def _invalid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)

"""Events from feeds and other systems, published to the log as they are sent.

An integration account publishes the events of its own organisation's systems, in the
contract of ``docs/events.md``; the worker applies them as it applies every other event,
so duplicates, late arrivals and cancels are handled there, not here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status

from flowcentre.api.auth import ACCESS_RESPONSES, WriterDep, require
from flowcentre.api.deps import PolicyDep, PublisherDep
from flowcentre.api.models import EventsAccepted
from flowcentre.domain.access import Permission
from flowcentre.domain.events import Event

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ACCESS_RESPONSES)

#: A batch stays well inside the request size limit, and the log takes it in one go.
MAX_BATCH = 200


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventsAccepted,
    responses={
        403: {"description": "Not an integration account, or an event of another organisation."},
        422: {"description": "An event breaks the contract; the answer names it and the field."},
        503: {"description": "The event log did not take the events; none was published."},
    },
    summary="Publish events from a feed (integration accounts)",
)
async def publish_events(
    events: Annotated[list[Event], Body(min_length=1, max_length=MAX_BATCH)],
    principal: WriterDep,
    policy: PolicyDep,
    publisher: PublisherDep,
) -> EventsAccepted:
    require(principal, policy, Permission.PUBLISH_EVENTS)
    for index, event in enumerate(events):
        # An account speaks for its own organisation's systems only, so an event's source
        # always names the organisation whose account vouched for it.
        if event.source.organisation != principal.organisation_id:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"event {index} ({event.event_id}): its source is organisation "
                f"{event.source.organisation!r}; this account publishes for "
                f"{principal.organisation_id!r} only",
            )
    await publisher.publish_async(events)
    return EventsAccepted(event_ids=[event.event_id for event in events])

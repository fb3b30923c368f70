"""Events from feeds and other systems, published to the log for the account's organisation.

An integration account publishes the events of its own organisation's systems, in the
contract of ``docs/events.md``: every site, ward, bed and patient an event names must be
its organisation's as the live picture knows them (a patient or bed the picture does
not know yet is nobody else's). The account is recorded as each event's cause. The
worker applies them as it applies every other event, so duplicates, late arrivals and
cancels are handled there, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status

from flowcentre.api.auth import ACCESS_RESPONSES, WriterDep, require
from flowcentre.api.deps import PolicyDep, PublisherDep, ReadsDep
from flowcentre.api.models import EventsAccepted
from flowcentre.domain.access import Permission
from flowcentre.domain.events import (
    AdmissionRequested,
    BedDecommissioned,
    BedRegistered,
    BedStatusChanged,
    Event,
    EventBase,
    Location,
    OpelReadingRecorded,
    SiteRegistered,
    WardRegistered,
)
from flowcentre.store.reads import LiveReads

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ACCESS_RESPONSES)

#: A batch stays well inside the request size limit, and the log takes it in one go.
MAX_BATCH = 200

#: How far ahead of this server's clock a feed's clock may run. An event dated further
#: ahead would win every "latest" comparison for as long as that lasts.
CLOCK_SKEW = timedelta(minutes=5)


async def _site_owner(reads: LiveReads, site_id: str) -> str | None:
    site = await reads.site(site_id)
    return site.payload.organisation_id if site else None


async def _bed_owner(reads: LiveReads, bed_id: str) -> tuple[bool, str | None]:
    """Whether the picture knows the bed, and the organisation running its ward."""
    bed = await reads.bed(bed_id)
    return bed is not None, await reads.ward_organisation(bed.ward_id) if bed else None


async def _places(event: EventBase, reads: LiveReads) -> list[tuple[str, str | None]]:
    """Each place or patient the event names that the picture knows, and who runs it; a
    ward or location must be known, a patient or bed already held by someone may be."""
    payload = event.payload  # type: ignore[attr-defined]
    named: list[tuple[str, str | None]] = []

    async def ward(ward_id: str) -> tuple[str, str | None]:
        return f"ward {ward_id}", await reads.ward_organisation(ward_id)

    if (organisation := getattr(payload, "organisation_id", None)) is not None:
        named.append((f"organisation {organisation}", organisation))
    if isinstance(event, SiteRegistered) and (held := await _site_owner(reads, payload.site_id)):
        named.append((f"site {payload.site_id}", held))
    if isinstance(event, WardRegistered):
        named.append((f"site {payload.site_id}", await _site_owner(reads, payload.site_id)))
        if await reads.ward(payload.ward_id) is not None:
            named.append(
                (f"ward {payload.ward_id}", await reads.ward_organisation(payload.ward_id))
            )
    if isinstance(event, BedRegistered):
        named.append((f"ward {payload.ward_id}", await reads.ward_organisation(payload.ward_id)))
    if isinstance(event, BedRegistered | BedDecommissioned | BedStatusChanged):
        known, held = await _bed_owner(reads, payload.bed_id)
        if known or not isinstance(event, BedRegistered):
            named.append((f"bed {payload.bed_id}", held))
    for field in ("location", "other_location"):
        if isinstance(where := getattr(payload, field, None), Location):
            named.append(await ward(where.ward_id))
    # A wait for a bed, or a reading, is of a site the account's organisation runs.
    if isinstance(event, AdmissionRequested | OpelReadingRecorded) and payload.site_id:
        named.append((f"site {payload.site_id}", await _site_owner(reads, payload.site_id)))
    if isinstance(event, AdmissionRequested) and payload.ward_id is not None:
        named.append(await ward(payload.ward_id))
    for field in ("spell_id", "other_spell_id"):
        spell_id = getattr(payload, field, None)
        if not isinstance(spell_id, str):
            continue
        spell = await reads.spell(spell_id)
        if spell is not None and spell.location is not None:
            ward_id = spell.location.ward_id
            named.append((f"patient {spell_id}", await reads.ward_organisation(ward_id)))
        elif (wait := await reads.pending_admission(spell_id)) is not None:
            # Not in a bed yet: the patient is the site's they wait at.
            named.append((f"patient {spell_id}", await _site_owner(reads, wait.site_id)))
    return named


async def _refusal(event: EventBase, organisation: str, reads: LiveReads) -> str | None:
    """Why the organisation's account may not publish the event, if it may not."""
    if max(event.occurred_at, event.recorded_at) > datetime.now(UTC) + CLOCK_SKEW:
        return "is dated in the future"
    for what, held_by in await _places(event, reads):
        if held_by != organisation:
            return f"names {what}, which the picture does not know as {organisation}'s"
    return None


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
    reads: ReadsDep,
) -> EventsAccepted:
    require(principal, policy, Permission.PUBLISH_EVENTS)
    organisation = principal.organisation_id
    for index, event in enumerate(events):
        # An account speaks for its own organisation's systems only, so an event's source
        # always names the organisation whose account vouched for it.
        if event.source.organisation != organisation:
            refusal: str | None = f"comes from organisation {event.source.organisation!r}"
        else:
            refusal = await _refusal(event, organisation, reads)
        if refusal:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"event {index} ({event.event_id}) {refusal}; this account publishes for "
                f"{organisation!r} only",
            )
    attributed = [event.model_copy(update={"caused_by": principal.actor}) for event in events]
    await publisher.publish_async(attributed)
    return EventsAccepted(event_ids=[event.event_id for event in attributed])

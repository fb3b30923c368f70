"""Events the alert watch decides itself: at the clock's time, in the name of the
organisation that runs the flow centre, attributed to the watch."""

from __future__ import annotations

from datetime import datetime

from flowcentre.domain.events import Actor, ActorKind, EventBase, Source

WATCH = Actor(kind=ActorKind.SYSTEM, id="flowcentre-alerts", name="Alert watch")


def watched(
    kind: type[EventBase], event_id: str, now: datetime, organisation: str, payload: object
) -> EventBase:
    """An event of ``kind``, named ``event_id`` by what caused it, so deciding it again
    publishes the same event."""
    return kind.model_validate(
        {
            "event_id": event_id,
            "occurred_at": now,
            "recorded_at": now,
            "source": Source(system=WATCH.id, organisation=organisation),
            "caused_by": WATCH,
            "payload": payload,
        }
    )

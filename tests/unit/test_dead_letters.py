"""An event whose application fails is dead-lettered before any later event is applied."""

from __future__ import annotations

from collections.abc import Sequence

from faust.types import Message

from flowcentre.domain.events import encode_event
from streams.agents import DeadLetter, EventApplier
from tests.builders import bed
from tests.fakes import InMemoryView

TOPIC = "events"


def message(offset: int, value: bytes) -> Message:
    return Message(TOPIC, 0, offset, 0.0, 0, None, b"key", value, None)


async def test_a_failed_event_is_dead_lettered_before_the_next_is_applied() -> None:
    events = [bed("B1"), bed("B2"), bed("B3")]
    view = InMemoryView(refuse=lambda positioned: positioned.event.event_id == events[1].event_id)
    applied_when_lettered: list[int] = []

    async def dead_letter(letters: Sequence[DeadLetter]) -> None:
        applied_when_lettered.append(len(view.applied[TOPIC]))

    applier = EventApplier(view, dead_letter)
    await applier.apply(TOPIC, [message(n, encode_event(e)) for n, e in enumerate(events)])
    # Had B3 been applied first, a crash before the letter was sent would lose it: the
    # view records offset 2 as applied and a redelivery skips offset 1.
    assert applied_when_lettered == [1]
    assert [p.event.event_id for p in view.applied[TOPIC]] == [
        events[0].event_id,
        events[2].event_id,
    ]


async def test_undecodable_messages_are_returned_for_the_batch_to_dead_letter() -> None:
    async def dead_letter(letters: Sequence[DeadLetter]) -> None:
        raise AssertionError("decoding failures are found again on redelivery")

    letters = await EventApplier(InMemoryView(), dead_letter).apply(TOPIC, [message(0, b"{")])
    assert [letter.reason.split(":")[0] for letter in letters] == ["invalid event"]

"""Agents, one a concern. The apply agent folds the events topic into the live view; the
audit agent indexes the audit trail for administrators to search.

Delivery is at-least-once. The apply agent takes events in batches without Faust's
automatic acks and acks each event only once the view has applied it or its dead letter
has been written, so a crash or shutdown mid-batch leaves those offsets uncommitted and
the events are delivered again; the view skips offsets it has already applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar, cast

import faust
from faust.types import AgentT, EventT, Message, StreamT, TopicT
from mode import CrashingSupervisor

from flowcentre.domain.audit import PatientDetailsRead, decode_audit_event
from flowcentre.domain.events import EventRejected, decode_event
from flowcentre.store.audit_index import AuditIndex
from flowcentre.store.view import LiveView, PositionedEvent
from streams.topics import FlowTopics

log = logging.getLogger(__name__)

Result = TypeVar("Result")

REASON_HEADER = "flowcentre-reason"
TOPIC_HEADER = "flowcentre-topic"
PARTITION_HEADER = "flowcentre-partition"
OFFSET_HEADER = "flowcentre-offset"

#: A batch is cut at this many events, or after this long, whichever comes first; the
#: second bounds the latency batching adds to a quiet stream.
BATCH_MAX_EVENTS = 500
BATCH_WITHIN_S = 0.005

RETRY_FIRST_DELAY_S = 0.1
RETRY_MAX_DELAY_S = 5.0


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    reason: str


class EventApplier:
    """Decodes a batch of messages, applies it to the view, and names what cannot be applied.

    ``unavailable`` are the errors that mean the view itself cannot be reached: they say
    nothing about the events, so they propagate instead of dead-lettering the batch.
    ``dead_letter`` sends an event whose application failed, before any later event is
    applied: once a later offset is recorded as applied, a redelivery would skip it.
    """

    def __init__(
        self,
        view: LiveView,
        dead_letter: Callable[[Sequence[DeadLetter]], Awaitable[None]],
        *,
        unavailable: tuple[type[Exception], ...] = (),
    ) -> None:
        self._view = view
        self._dead_letter = dead_letter
        self.unavailable = unavailable

    async def apply(self, topic: str, messages: Sequence[Message]) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        decoded: list[tuple[Message, PositionedEvent]] = []
        for message in messages:
            try:
                if message.value is None:
                    raise EventRejected("message has no value")
                event = decode_event(message.value)
            except EventRejected as error:
                letters.append(DeadLetter(message, f"invalid event: {error.reason}"))
            else:
                positioned = PositionedEvent(
                    partition=message.partition, offset=message.offset, event=event
                )
                decoded.append((message, positioned))
        if decoded:
            letters.extend(await self._apply_decoded(topic, decoded))
        return sorted(letters, key=lambda letter: (letter.message.partition, letter.message.offset))

    async def _apply_decoded(
        self, topic: str, decoded: Sequence[tuple[Message, PositionedEvent]]
    ) -> list[DeadLetter]:
        try:
            await self._view.apply(topic, [positioned for _, positioned in decoded])
        except self.unavailable:
            raise
        except Exception:
            log.warning(
                "batch apply failed; applying its %d events one by one",
                len(decoded),
                exc_info=True,
            )
        else:
            return []
        # The view skips offsets it has applied, so events the failed batch got through
        # are not applied twice; only the events that fail alone are dead-lettered.
        for message, positioned in decoded:
            try:
                await self._view.apply(topic, [positioned])
            except self.unavailable:
                raise
            except Exception as error:
                log.exception(
                    "apply failed for %s[%d]@%d", topic, message.partition, message.offset
                )
                reason = f"apply failed: {type(error).__name__}: {error}"
                await self._dead_letter([DeadLetter(message, reason)])
        return []


async def apply_until_available(
    applier: EventApplier, topic: str, messages: Sequence[Message]
) -> list[DeadLetter]:
    """Apply, waiting out an unreachable view instead of dead-lettering sound events."""
    return await _until_available(
        lambda: applier.apply(topic, messages), applier.unavailable, "live view"
    )


async def _until_available(
    attempt: Callable[[], Awaitable[Result]],
    unavailable: tuple[type[Exception], ...],
    what: str,
) -> Result:
    delay = RETRY_FIRST_DELAY_S
    while True:
        try:
            return await attempt()
        except unavailable as error:
            log.warning("%s unavailable (%s); retrying in %.1f s", what, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY_S)


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    message = letter.message
    return [
        (REASON_HEADER, letter.reason.encode()),
        (TOPIC_HEADER, message.topic.encode()),
        (PARTITION_HEADER, str(message.partition).encode()),
        (OFFSET_HEADER, str(message.offset).encode()),
    ]


async def send_dead_letters(topic: TopicT, letters: Sequence[DeadLetter]) -> None:
    """Write each letter's original key and bytes to ``topic`` and wait for the broker."""
    pending = []
    for letter in letters:
        # force: send now rather than when the source offset commits, because the
        # source event is acked only after the broker has confirmed its dead letter.
        pending.append(
            await topic.send(
                key=letter.message.key,
                value=letter.message.value,
                headers=dead_letter_headers(letter),
                force=True,
            )
        )
    await asyncio.gather(*pending)


async def event_batches(stream: StreamT[bytes]) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The stream's events in batches, none of them acked: acking is the caller's."""
    # Agents are given a faust.Stream; the StreamT interface lacks its take methods.
    batches = cast(faust.Stream[bytes], stream).noack_take(BATCH_MAX_EVENTS, within=BATCH_WITHIN_S)
    async for batch in batches:
        # noack_take buffers the stream's events themselves, not their values.
        yield cast(Sequence[EventT[bytes]], batch)


def register_apply_agent(
    app: faust.App,
    topics: FlowTopics,
    view: LiveView,
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> AgentT[bytes]:
    """Register the agent that applies the events topic to ``view``."""

    async def dead_letter(letters: Sequence[DeadLetter]) -> None:
        await send_dead_letters(topics.dead_letter, letters)

    applier = EventApplier(view, dead_letter, unavailable=unavailable)
    source = topics.events.get_topic_name()

    async def apply_events(stream: StreamT[bytes]) -> None:
        async for events in event_batches(stream):
            messages = [event.message for event in events]
            letters = await apply_until_available(applier, source, messages)
            await send_dead_letters(topics.dead_letter, letters)
            for event in events:
                await stream.ack(event)

    # A failure here (the dead-letter topic unwritable, say) stops the worker: restarted
    # by its supervisor, it resumes from the last commit, while an agent restarted in
    # place would leave the failed batch unacked and hold the partition's commits back.
    return app.agent(
        topics.events, name="flowcentre.apply", supervisor_strategy=CrashingSupervisor
    )(apply_events)


def register_audit_agent(
    app: faust.App,
    topics: FlowTopics,
    index: AuditIndex,
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> AgentT[bytes]:
    """Register the agent that indexes the audit topic's reads in ``index``."""

    async def index_reads(stream: StreamT[bytes]) -> None:
        async for events in event_batches(stream):
            reads: list[PatientDetailsRead] = []
            letters: list[DeadLetter] = []
            for event in events:
                try:
                    reads.append(decode_audit_event(event.message.value or b""))
                except EventRejected as error:
                    reason = f"invalid audit record: {error.reason}"
                    letters.append(DeadLetter(event.message, reason))
            await _until_available(partial(index.add, reads), unavailable, "audit index")
            await send_dead_letters(topics.dead_letter, letters)
            for event in events:
                await stream.ack(event)

    return app.agent(
        topics.audit, name="flowcentre.audit-index", supervisor_strategy=CrashingSupervisor
    )(index_reads)

"""The HL7 listener: each message read, checked against its sender, translated, put on the
log, kept, and only then acknowledged.

An AA is sent once the message's events and its receipt are on the broker, never before;
an AE (with an ERR segment naming the problem) for a message that cannot be applied as
it is, which is kept and dead-lettered; an AR for one that is not HL7 this service can
read, comes from a sender that may not send it, or carries an unsupported trigger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flowcentre import bootstrap
from flowcentre.config import Settings
from flowcentre.hl7 import mllp
from flowcentre.hl7.archive import KafkaMessageArchive, MessageArchive, Receipt
from flowcentre.hl7.messages import (
    AckCode,
    FieldInvalid,
    Fields,
    MessageUnreadable,
    Problem,
    acknowledge,
    parse,
    reject_unreadable,
)
from flowcentre.hl7.sources import Sources, load_sources
from flowcentre.hl7.translation import TRANSLATED, MessageRefused, Received, translate
from flowcentre.publisher import EventPublisher, PublishFailed
from flowcentre.runtime import ensure_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hl7Listener:
    sources: Sources
    events: EventPublisher
    archive: MessageArchive
    zone: ZoneInfo
    answer_within_s: float = 4.0
    """An engine that hears nothing this long gives up on the ACK (Mirth's default is 5 s),
    so a message not safe by then is answered by closing the connection: the engine sends
    it again, in order, and never reads a late ACK as the next message's."""

    async def answer(self, payload: bytes, peer: str) -> bytes | None:
        """The ACK of one message from ``peer`` once what it means is safe; None when it
        could not be made safe, so that the sender sends it again."""
        try:
            return await asyncio.wait_for(self._answer(payload, peer), self.answer_within_s)
        except (TimeoutError, PublishFailed) as error:
            log.warning("a message from %s is not safe yet (%r): asking for it again", peer, error)
            return None

    async def _answer(self, payload: bytes, peer: str) -> bytes:
        received_at = datetime.now(UTC)
        try:
            message = parse(payload)
        except MessageUnreadable as error:
            await self.archive.keep(
                Receipt(payload, "", peer, received_at, "AR", reason=str(error))
            )
            return reject_unreadable(str(error))
        fields = Fields(message, self.zone)
        facility = fields.text("MSH.F4.R1.C1")
        key = f"{facility}:{fields.text('MSH.F3.R1.C1')}:{fields.text('MSH.F10')}"

        async def refuse(code: AckCode, problem: Problem) -> bytes:
            log.warning("%s from %s: %s %s", key, peer, code, problem.text)
            receipt = Receipt(payload, key, peer, received_at, code.value, reason=problem.detail)
            await self.archive.keep(receipt)
            return acknowledge(message, code, problem)

        sender = self.sources.sender(peer, facility)
        if sender is None:
            detail = f"sending facility {facility!r} may not send from {peer}"
            return await refuse(AckCode.REJECTED, Problem("207", "Application error", detail))
        try:
            translation = translate(Received(fields, sender, self.sources, received_at))
        except MessageRefused as error:
            return await refuse(AckCode.REJECTED, error.problem)
        except FieldInvalid as error:
            return await refuse(AckCode.ERROR, error.problem)
        except Exception:
            # A message no rule foresaw must not end the connection unanswered: the engine
            # would send it for ever. It is kept, and the error is logged for a fix.
            log.exception("translating %s from %s failed", key, peer)
            problem = Problem("207", "Application internal error", "the message could not be read")
            return await refuse(AckCode.ERROR, problem)
        events = translation.events
        await self.events.publish_async(events)
        ids = [event.event_id for event in events]
        await self.archive.keep(
            Receipt(payload, key, peer, received_at, "AA", ids, reason=translation.note)
        )
        return acknowledge(message, AckCode.ACCEPTED)


async def listen(settings: Settings) -> None:
    """Serve MLLP on the configured address until cancelled."""
    sources = load_sources(settings.hl7_sources)
    events = bootstrap.publisher(settings)
    archive = KafkaMessageArchive(
        bootstrap.raw_publisher(settings, settings.hl7_topic),
        bootstrap.raw_publisher(settings, settings.dead_letter_topic),
    )
    listener = Hl7Listener(sources, events, archive, ZoneInfo(settings.hl7_timezone))
    tls = None
    if settings.hl7_tls_certfile and settings.hl7_tls_keyfile:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings.hl7_tls_certfile, settings.hl7_tls_keyfile)
    server = await mllp.serve(
        listener.answer,
        reject_unreadable,
        sources.admits,
        settings.hl7_host,
        settings.hl7_port,
        tls=tls,
        limits=mllp.Limits(max_connections=settings.hl7_max_connections),
    )
    log.info(
        "HL7 listener on %s:%d%s, translating %s",
        settings.hl7_host,
        settings.hl7_port,
        " (TLS)" if tls else "",
        ", ".join(TRANSLATED),
    )
    try:
        async with server:
            await server.serve_forever()
    finally:
        await asyncio.to_thread(events.close)
        await asyncio.to_thread(archive.close)


def run_hl7_listener(settings: Settings) -> None:
    ensure_topics(bootstrap.kafka_bootstrap(settings), settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(listen(settings))

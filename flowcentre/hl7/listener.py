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
from flowcentre.hl7.translation import (
    NOTED,
    TRANSLATED,
    Received,
    UnsupportedTrigger,
    translate,
)
from flowcentre.publisher import EventPublisher, PublishFailed
from flowcentre.runtime import ensure_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hl7Listener:
    sources: Sources
    events: EventPublisher
    archive: MessageArchive
    zone: ZoneInfo

    async def answer(self, payload: bytes, peer: str) -> bytes:
        """The ACK of one message from ``peer``, once what it means is safe."""
        received_at = datetime.now(UTC)
        try:
            message = parse(payload)
        except MessageUnreadable as error:
            try:
                await self.archive.keep(
                    Receipt(payload, "", peer, received_at, "AR", reason=str(error))
                )
            except PublishFailed:
                log.exception("could not keep an unreadable message from %s", peer)
            return reject_unreadable(str(error))
        fields = Fields(message, self.zone)
        facility = fields.text("MSH.F4.R1.C1")
        key = f"{facility}:{fields.text('MSH.F10')}"

        async def refuse(code: AckCode, problem: Problem) -> bytes:
            log.warning("%s from %s: %s %s", key, peer, code, problem.detail)
            receipt = Receipt(payload, key, peer, received_at, code.value, reason=problem.detail)
            try:
                await self.archive.keep(receipt)
            except PublishFailed as error:
                return acknowledge(message, AckCode.ERROR, _send_again(error))
            return acknowledge(message, code, problem)

        sender = self.sources.sender(peer, facility)
        if sender is None:
            detail = f"sending facility {facility!r} may not send from {peer}"
            return await refuse(AckCode.REJECTED, Problem("207", "Application error", detail))
        try:
            events = translate(Received(fields, sender, self.sources, received_at))
        except UnsupportedTrigger as error:
            return await refuse(AckCode.REJECTED, error.problem)
        except FieldInvalid as error:
            return await refuse(AckCode.ERROR, error.problem)
        ids = [event.event_id for event in events]
        noted = NOTED.get(str(fields.text("MSH.F9.R1.C2")).upper(), "")
        try:
            await self.events.publish_async(events)
            await self.archive.keep(
                Receipt(payload, key, peer, received_at, "AA", ids, reason=noted)
            )
        except PublishFailed as error:
            # Nothing is acknowledged that is not safe; the sender sends again, and what
            # did reach the log is recognised by its event ids and applied once.
            return acknowledge(message, AckCode.ERROR, _send_again(error))
        return acknowledge(message, AckCode.ACCEPTED)


def _send_again(error: PublishFailed) -> Problem:
    return Problem("207", "Application internal error", f"{error}; send the message again")


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

"""The HL7 listener over real sockets, the real broker and the real Redis view: ACKs, the
board state the messages make, resends, and what happens to input that is wrong."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from redis.asyncio import Redis

from flowcentre.config import Settings
from flowcentre.domain.model import Bed
from flowcentre.hl7 import mllp
from flowcentre.hl7.archive import ACK_HEADER, EVENTS_HEADER, KafkaMessageArchive
from flowcentre.hl7.listener import Hl7Listener
from flowcentre.hl7.messages import reject_unreadable
from flowcentre.hl7.sources import LocationRule, Sources, load_sources
from flowcentre.publisher import KafkaPublisher
from flowcentre.runtime import ensure_topics
from flowcentre.store.reads import LiveReads
from flowcentre.store.view import RedisView
from streams.worker import running_worker
from tests import hl7_samples as samples
from tests.builders import bed, organisation, site, ward
from tests.certificates import self_signed

DEADLINE_S = 30.0
SOURCES = load_sources()


@dataclass(frozen=True)
class Listening:
    port: int
    settings: Settings


@asynccontextmanager
async def listening(
    settings: Settings, sources: Sources = SOURCES, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Listening]:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    bootstrap = settings.kafka_bootstrap
    events = KafkaPublisher(bootstrap, settings.events_topic)
    archive = KafkaMessageArchive(
        KafkaPublisher(bootstrap, settings.hl7_topic),
        KafkaPublisher(bootstrap, settings.dead_letter_topic),
    )
    listener = Hl7Listener(sources, events, archive, ZoneInfo("Europe/London"))
    server = await mllp.serve(
        listener.answer, reject_unreadable, sources.admits, "127.0.0.1", 0, tls=tls
    )
    try:
        async with server:
            yield Listening(server.sockets[0].getsockname()[1], settings)
    finally:
        await asyncio.to_thread(events.close)
        await asyncio.to_thread(archive.close)


async def exchange(
    port: int, *payloads: bytes, tls: ssl.SSLContext | None = None
) -> list[hl7.Message]:
    """Send each message on one connection and read its ACK before the next."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    answers = []
    try:
        for payload in payloads:
            writer.write(mllp.framed(payload))
            await writer.drain()
            frame = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), DEADLINE_S)
            answers.append(hl7.parse(frame[1:-2].decode()))
    finally:
        writer.close()
    return answers


async def records(settings: Settings, topic: str, count: int) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(DEADLINE_S):
            while len(found) < count:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(batch)
    finally:
        await consumer.stop()
    return found


def header(record: ConsumerRecord, name: str) -> str:
    value: bytes = dict(record.headers)[name]
    return value.decode()


async def occupied_bed(reads: LiveReads, bed_id: str) -> Bed:
    """The bed once the worker has put someone in it."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            found = await reads.bed(bed_id)
            if found is not None and found.occupants:
                return found
            await asyncio.sleep(0.1)


def codes(answers: Sequence[hl7.Message]) -> list[str]:
    return [str(answer["MSA.F1"]) for answer in answers]


async def test_an_admission_is_acknowledged_once_safe_and_a_resend_changes_nothing(
    settings: Settings, redis_client: Redis
) -> None:
    assert settings.kafka_bootstrap
    registry = [organisation("RWP"), site("WRH", "RWP"), ward("WRH-AMU", "WRH")]
    registry.append(bed("WRH-AMU-B01-1", "WRH-AMU"))
    KafkaPublisher(settings.kafka_bootstrap, settings.events_topic).publish(registry)
    view = RedisView(redis_client, prefix=settings.redis_prefix)
    reads = LiveReads(redis_client, prefix=settings.redis_prefix)
    async with (
        listening(settings) as listener,
        running_worker(settings, view, app_id=f"{settings.events_topic}.workers"),
    ):
        first = await exchange(listener.port, samples.a01())
        again = await exchange(listener.port, samples.a01())
        occupied = await occupied_bed(reads, "WRH-AMU-B01-1")
        kept = await records(settings, settings.hl7_topic, 2)
        spell = await reads.spell("RWP:V1001")

    assert codes(first + again) == ["AA", "AA"]
    assert str(first[0]["MSA.F2"]) == "MSG0001"
    assert [o.spell_id for o in occupied.occupants] == ["RWP:V1001"]
    assert spell is not None
    assert len(spell.events) == 1, "the resent message was applied once"
    assert [header(record, ACK_HEADER) for record in kept] == ["AA", "AA"]
    assert header(kept[0], EVENTS_HEADER) == "hl7:WRH:PAS:MSG0001"
    assert kept[0].value == samples.a01(), "the message is kept as it came"


async def test_feeds_of_several_styles_are_each_acknowledged(settings: Settings) -> None:
    async with listening(settings) as listener:
        answers = await exchange(
            listener.port,
            samples.a01("S1", end="\n"),
            samples.a02_v24_lf("S2"),
            samples.a03_v23_crlf("S3"),
            samples.a20("H", "S4"),
        )

    assert codes(answers) == ["AA"] * 4
    assert [str(answer["MSA.F2"]) for answer in answers] == ["S1", "S2", "S3", "S4"]


async def test_wrong_input_is_answered_kept_and_does_not_stop_the_listener(
    settings: Settings,
) -> None:
    bad_date = samples.a01("BAD").replace(b"20261102075500+0000", b"2026-11-02")
    unknown = samples.message(samples.MSH_24.format(trigger="A40", control="MERGE1"), "EVN|A40|")
    stranger = samples.a01("ELSE").replace(b"|PAS|WRH|", b"|PAS|NOWHERE|", 1)
    async with listening(settings) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        # A sender that dies mid-frame: its connection ends, the others carry on.
        writer.write(b"\x0bMSH|^~\\&|PAS|WRH|")
        await writer.drain()
        answers = await exchange(
            listener.port, b"this is not HL7", bad_date, unknown, stranger, samples.a01("OK")
        )
        writer.close()
        del reader
        kept = await records(settings, settings.hl7_topic, 5)
        dead = await records(settings, settings.dead_letter_topic, 1)

    assert codes(answers) == ["AR", "AE", "AR", "AR", "AA"]
    assert str(answers[1]["ERR.F3.R1.C1"]) == "102"
    assert "PV1-44" in str(answers[1]["ERR.F8"])
    assert str(answers[2]["ERR.F3.R1.C1"]) == "201"
    assert "NOWHERE" in str(answers[3]["ERR.F8"])
    # Receipts are keyed by facility and control id, so they spread over partitions.
    by_key = {(record.key or b"").decode(): record for record in kept}
    assert {key: header(record, ACK_HEADER) for key, record in by_key.items()} == {
        "": "AR",
        "WRH:PAS:BAD": "AE",
        "WRH:EPR:MERGE1": "AR",
        "NOWHERE:PAS:ELSE": "AR",
        "WRH:PAS:OK": "AA",
    }
    assert "PV1-44" in header(by_key["WRH:PAS:BAD"], "flowcentre-reason")
    assert [record.value for record in dead] == [bad_date]


async def test_an_address_no_sender_may_use_is_not_answered(settings: Settings) -> None:
    elsewhere = Sources(
        tuple(s.model_copy(update={"addresses": ("10.0.0.0/8",)}) for s in SOURCES.senders),
        SOURCES.locations,
    )
    async with listening(settings, elsewhere) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(mllp.framed(samples.a01()))
        try:
            closed = await asyncio.wait_for(reader.read(), DEADLINE_S)
        except ConnectionResetError:
            closed = b""
        writer.close()

    assert closed == b"", "closed without an answer"


async def test_mllp_over_tls(settings: Settings, tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(certfile, keyfile)
    trusting = ssl.create_default_context(cafile=str(certfile))
    async with listening(settings, tls=serving) as listener:
        answers = await exchange(listener.port, samples.a01(), tls=trusting)

    assert codes(answers) == ["AA"]


async def test_a_location_no_rule_maps_is_answered_ae_and_kept(settings: Settings) -> None:
    only_amu = Sources(
        SOURCES.senders,
        (LocationRule(facility="WRH", point_of_care="AMU", ward="WRH-AMU"),),
    )
    elsewhere = samples.a02_v24_lf("MOVE9")
    async with listening(settings, only_amu) as listener:
        answers = await exchange(listener.port, elsewhere, samples.a01("STILL"))
        kept = await records(settings, settings.hl7_topic, 2)

    assert codes(answers) == ["AE", "AA"]
    assert str(answers[0]["ERR.F3.R1.C1"]) == "103"
    assert "CCU" in str(answers[0]["ERR.F8"])
    reasons = {(record.key or b"").decode(): header(record, "flowcentre-reason") for record in kept}
    assert "no location rule" in reasons["WRH:EPR:MOVE9"]

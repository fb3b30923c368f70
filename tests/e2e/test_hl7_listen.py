"""`flowcentre hl7-listen` as a process of its own: a feed's message in, its ACK out."""

from __future__ import annotations

import asyncio

import hl7

from flowcentre.config import Settings
from flowcentre.hl7 import mllp
from flowcentre.runtime import ensure_topics, free_port
from tests import hl7_samples as samples
from tests.e2e.conftest import Processes


async def test_the_listener_acknowledges_an_admission_once_it_is_on_the_log(
    settings: Settings, processes: Processes
) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings)
    port = free_port()
    listener = processes.start("hl7-listen", FLOWCENTRE_HL7_PORT=str(port))
    for _ in range(300):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"the listener never listened:\n{processes.log_of(listener)}")
    writer.write(mllp.framed(samples.a01()))
    await writer.drain()
    frame = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 60)
    writer.close()

    ack = hl7.parse(frame[1:-2].decode())
    assert (str(ack["MSA.F1"]), str(ack["MSA.F2"])) == ("AA", "MSG0001")

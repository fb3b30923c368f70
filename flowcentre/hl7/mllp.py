"""MLLP over asyncio: frames in, an answer out for each, many senders at once.

A frame is <VT> message <FS><CR>. Senders are not all exact: bytes before a <VT> are
skipped, a bare <FS> ends a frame too, and a <VT> inside a frame starts it again (the
sender gave up on the first). Each connection is answered in order, one frame at a time,
as MLLP requires; a connection from an address no sender may use is closed unanswered.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

START, END, CARRIAGE_RETURN = 0x0B, 0x1C, 0x0D

#: The answer to a frame, given its payload and the sender's address; None closes the
#: connection unanswered, so that the sender sends the frame again.
Answer = Callable[[bytes, str], Awaitable[bytes | None]]


class FrameTooLarge(ValueError):
    """A frame longer than the limit: refused, and the connection closed."""


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 1024 * 1024
    idle_s: float = 600.0
    """A connection that sends nothing for this long is closed."""
    max_connections: int = 200


def framed(payload: bytes) -> bytes:
    return bytes([START]) + payload + bytes([END, CARRIAGE_RETURN])


async def frames(reader: asyncio.StreamReader, limits: Limits) -> AsyncIterator[bytes]:
    """The payloads of the frames the sender sends, until it closes or falls silent."""
    payload = bytearray()
    inside = False
    while chunk := await asyncio.wait_for(reader.read(65536), limits.idle_s):
        for byte in chunk:
            if byte == START:
                inside, payload = True, bytearray()
            elif not inside:
                continue
            elif byte == END:
                inside = False
                yield bytes(payload)
            else:
                payload.append(byte)
                if len(payload) > limits.max_frame_bytes:
                    raise FrameTooLarge(f"a frame of more than {limits.max_frame_bytes} bytes")


async def serve(
    answer: Answer,
    refuse_oversize: Callable[[str], bytes],
    admits: Callable[[str], bool],
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    limits: Limits | None = None,
) -> asyncio.Server:
    """Listen until the returned server is closed."""
    bounds = limits or Limits()
    slots = asyncio.Semaphore(bounds.max_connections)

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        try:
            if not admits(address):
                log.warning("refused a connection from %s: no sender may use it", address)
                return
            if slots.locked():
                log.warning(
                    "refused a connection from %s: %d open", address, bounds.max_connections
                )
                return
            async with slots:
                await _converse(reader, writer, address, answer, refuse_oversize, bounds)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError) as error:
                log.debug("closing the connection from %s: %r", address, error)

    return await asyncio.start_server(connected, host, port, ssl=tls)


async def _converse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    address: str,
    answer: Answer,
    refuse_oversize: Callable[[str], bytes],
    limits: Limits,
) -> None:
    try:
        async for payload in frames(reader, limits):
            reply = await answer(payload, address)
            if reply is None:
                log.warning("closing the connection from %s unanswered: send again", address)
                return
            writer.write(framed(reply))
            await writer.drain()
    except FrameTooLarge as error:
        writer.write(framed(refuse_oversize(str(error))))
        await writer.drain()
    except (TimeoutError, ConnectionError, ssl.SSLError) as error:
        log.info("closing the connection from %s: %r", address, error)

"""Every message received, kept as it came with what became of it: the events it made, or
why it was refused. A board's state can so be traced back to the message behind it."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flowcentre.hl7.messages import AckCode
from flowcentre.publisher import KafkaPublisher, Record

ACK_HEADER = "flowcentre-hl7-ack"
EVENTS_HEADER = "flowcentre-events"
REASON_HEADER = "flowcentre-reason"
PEER_HEADER = "flowcentre-peer"
RECEIVED_HEADER = "flowcentre-received-at"


@dataclass(frozen=True)
class Receipt:
    """What became of one message."""

    payload: bytes
    key: str
    """The sending facility and control id (MSH-4 and MSH-10), when they could be read."""
    peer: str
    received_at: datetime
    ack: str
    event_ids: Sequence[str] = ()
    reason: str = ""

    def record(self) -> Record:
        headers = [
            (ACK_HEADER, self.ack.encode()),
            (EVENTS_HEADER, ",".join(self.event_ids).encode()),
            (REASON_HEADER, self.reason.encode()),
            (PEER_HEADER, self.peer.encode()),
            (RECEIVED_HEADER, self.received_at.isoformat().encode()),
        ]
        return Record(self.key.encode(), self.payload, headers)


class MessageArchive(abc.ABC):
    @abc.abstractmethod
    async def keep(self, receipt: Receipt) -> None:
        """Keep the receipt; return once it is safe (PublishFailed if it is not)."""


class KafkaMessageArchive(MessageArchive):
    """Receipts on a topic of their own, each acknowledged by the broker before it returns;
    a message that could not be applied also goes to the dead-letter topic."""

    def __init__(self, receipts: KafkaPublisher, dead_letters: KafkaPublisher) -> None:
        self._receipts = receipts
        self._dead_letters = dead_letters

    async def keep(self, receipt: Receipt) -> None:
        await asyncio.to_thread(self._receipts.send, [receipt.record()])
        if receipt.ack == AckCode.ERROR:
            await asyncio.to_thread(self._dead_letters.send, [receipt.record()])

    def close(self) -> None:
        self._receipts.close()
        self._dead_letters.close()

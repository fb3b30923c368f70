"""The listener's answers when what a message means cannot be made safe: no ACK at all,
so that the engine sends the message again, rather than an AE it would give up on."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import hl7
import pytest

from flowcentre.hl7.archive import MessageArchive, Receipt
from flowcentre.hl7.listener import Hl7Listener
from flowcentre.hl7.sources import load_sources
from flowcentre.hl7.translation import Received, Translation
from flowcentre.publisher import PublishFailed
from tests import hl7_samples as samples
from tests.unit.conftest import RecordingPublisher, UnreachableLog


class KeptReceipts(MessageArchive):
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    async def keep(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)


class UnwritableArchive(MessageArchive):
    async def keep(self, receipt: Receipt) -> None:
        raise PublishFailed("no broker acknowledged the receipt in time")


def listener(events: RecordingPublisher | UnreachableLog, archive: MessageArchive) -> Hl7Listener:
    return Hl7Listener(load_sources(), events, archive, ZoneInfo("Europe/London"))


async def test_an_admission_is_answered_aa_once_its_events_and_receipt_are_kept() -> None:
    events, archive = RecordingPublisher(), KeptReceipts()

    answer = await listener(events, archive).answer(samples.a01(), "127.0.0.1")

    assert answer is not None
    assert str(hl7.parse(answer.decode())["MSA.F1"]) == "AA"
    assert [type(event).__name__ for event in events.published] == ["PatientAdmitted"]
    assert [receipt.ack for receipt in archive.receipts] == ["AA"]


async def test_a_message_the_log_does_not_take_is_not_answered() -> None:
    answer = await listener(UnreachableLog(), KeptReceipts()).answer(samples.a01(), "127.0.0.1")

    assert answer is None


async def test_a_refusal_that_cannot_be_kept_is_not_answered_either() -> None:
    archive = UnwritableArchive()
    events = RecordingPublisher()

    unreadable = await listener(events, archive).answer(b"not HL7", "127.0.0.1")
    bad = await listener(events, archive).answer(
        samples.a01().replace(b"20261102075500+0000", b"yesterday"), "127.0.0.1"
    )

    assert (unreadable, bad) == (None, None)


async def test_a_message_no_rule_foresaw_is_answered_and_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unforeseen(received: Received) -> Translation:
        raise RuntimeError("a shape of message no rule foresaw")

    monkeypatch.setattr("flowcentre.hl7.listener.translate", unforeseen)
    archive = KeptReceipts()

    answer = await listener(RecordingPublisher(), archive).answer(samples.a01(), "127.0.0.1")

    assert answer is not None
    assert str(hl7.parse(answer.decode())["MSA.F1"]) == "AE"
    assert [receipt.ack for receipt in archive.receipts] == ["AE"]

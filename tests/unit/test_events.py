"""The wire contract: what is accepted, and how a rejection names the problem."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from flowcentre.cli import SCHEMAS, write_schemas
from flowcentre.domain.beds import (
    BedState,
    BedStatus,
    state_of_status,
    status_from_hl7,
    status_refusal,
)
from flowcentre.domain.events import (
    EventRejected,
    decode_event,
    encode_event,
    message_key,
)
from tests.builders import admitted, bed_status, event


def test_an_event_survives_the_wire_unchanged() -> None:
    admission = admitted("S1", "B1", 0)
    assert decode_event(encode_event(admission)) == admission


def test_events_of_one_spell_share_a_key_and_bed_statuses_key_by_bed() -> None:
    assert message_key(admitted("S1", "B1", 0)) == b"S1"
    assert message_key(bed_status("B1", "clean", 0)) == b"B1"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"schema_version": 2}', "schema_version"),
        (b'{"type": "PatientTeleported"}', "type"),
    ],
)
def test_rejections_name_the_problem(raw: bytes, named: str) -> None:
    with pytest.raises(EventRejected, match=named):
        decode_event(raw)


def test_a_missing_payload_field_is_named() -> None:
    document = orjson.loads(encode_event(admitted("S1", "B1", 0)))
    del document["payload"]["location"]
    with pytest.raises(EventRejected, match=r"payload\.location"):
        decode_event(orjson.dumps(document))


def test_a_naive_timestamp_is_refused() -> None:
    document = orjson.loads(encode_event(admitted("S1", "B1", 0)))
    document["occurred_at"] = "2026-11-02T08:00:00"
    with pytest.raises(EventRejected, match="occurred_at"):
        decode_event(orjson.dumps(document))


def test_an_unknown_field_is_refused_rather_than_lost() -> None:
    document = orjson.loads(encode_event(event("SpellUpdated", {"spell_id": "S1"})))
    document["payload"]["expected_dischrage_date"] = "2026-11-05"
    with pytest.raises(EventRejected, match="expected_dischrage_date"):
        decode_event(orjson.dumps(document))


def test_published_schemas_match_the_models(tmp_path: Path) -> None:
    fresh = {path.name: path.read_bytes() for path in write_schemas(tmp_path)}
    shipped = {path.name: path.read_bytes() for path in SCHEMAS.glob("*.schema.json")}
    assert fresh == shipped, "run `flowcentre schemas` and commit the result"


def test_every_hl7_bed_status_code_maps_both_ways() -> None:
    for code in "CHIKU":
        assert state_of_status(status_from_hl7(code)).hl7_code == code
    with pytest.raises(ValueError, match="'O'"):
        status_from_hl7("O")
    assert state_of_status(BedStatus.CLEAN) is BedState.AVAILABLE


def test_an_occupied_bed_takes_only_isolation_from_staff() -> None:
    assert status_refusal(BedState.OCCUPIED, BedStatus.ISOLATED) is None
    assert status_refusal(BedState.AVAILABLE, BedStatus.CLOSED) is None
    refusal = status_refusal(BedState.OCCUPIED, BedStatus.CLEAN)
    assert refusal is not None
    assert "'clean'" in refusal

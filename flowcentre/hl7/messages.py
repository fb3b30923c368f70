"""Reading HL7 v2 messages and answering them, with python-hl7 doing the parsing and the
ACKs; this module adds the leniency real feeds need and the strictness ours does."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import hl7

#: Feeds end segments with \r as the standard says, or with \r\n or \n; the parser
#: splits on \r alone, so the others are turned into it first.
SEGMENT_END = re.compile(r"\r\n|\n|\r")

#: HL7 v2 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
_DTM = re.compile(
    r"(?P<year>\d{4})(?:(?P<month>\d{2})(?:(?P<day>\d{2})"
    r"(?:(?P<hour>\d{2})(?:(?P<minute>\d{2})(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?)?)?)?"
    r"(?P<offset>[+-]\d{4})?"
)

#: What python-hl7 raises for input it cannot take apart as HL7.
PARSE_ERRORS = (hl7.HL7Exception, IndexError, KeyError, ValueError, TypeError, AssertionError)

#: What this service calls itself in the ACKs it sends (MSH-3).
APPLICATION = "FLOWCENTRE"


class AckCode(StrEnum):
    ACCEPTED = "AA"
    ERROR = "AE"
    REJECTED = "AR"


@dataclass(frozen=True)
class Problem:
    """Why a message is not accepted, as an ERR segment says it (HL7 table 0357)."""

    code: str
    """0357: 100 segment sequence, 101 required field missing, 102 data type error,
    103 table value not found, 200 unsupported message type, 201 unsupported event code,
    204 unknown key identifier, 207 application internal error."""
    text: str
    detail: str
    segment: str = ""
    field: int | None = None

    @classmethod
    def missing(cls, what: str, segment: str, field: int | None) -> Problem:
        return cls("101", "Required field missing", f"{what} is missing", segment, field)


class MessageUnreadable(ValueError):
    """Not an HL7 v2 message this service can read at all: answered AR."""


class FieldInvalid(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def decode(payload: bytes) -> str:
    """The message's text: UTF-8, or ISO 8859-1 when MSH-18 says so; MessageUnreadable for
    bytes that are neither, rather than a name silently mangled."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        header = payload.split(b"\r", 1)[0].split(b"\n", 1)[0]
        if b"8859" in header:
            return payload.decode("latin-1")
        raise MessageUnreadable("the message is not UTF-8, and MSH-18 names no other") from None


def parse(payload: bytes) -> hl7.Message:
    """The message in an MLLP frame, or MessageUnreadable saying why not."""
    text = decode(payload)
    try:
        message = hl7.parse(SEGMENT_END.sub("\r", text).strip("\r"))
        for required in ("MSH.F9.R1.C2", "MSH.F10", "MSH.F12"):
            if not message[required]:
                raise MessageUnreadable(f"MSH lacks {required.replace('.F', '-')}")
    except MessageUnreadable:
        raise
    except PARSE_ERRORS as error:
        raise MessageUnreadable(f"not an HL7 v2 message: {type(error).__name__}: {error}") from None
    return message


class Fields:
    """Typed access to one message's fields, empty strings for what it leaves out."""

    def __init__(self, message: hl7.Message, zone: ZoneInfo) -> None:
        self.message = message
        self._zone = zone

    def text(self, path: str) -> str:
        """A component as text: ``PV1.F3.R1.C1``; HL7's explicit null "" counts as empty."""
        try:
            value = str(self.message[path])
        except (KeyError, IndexError):
            return ""
        return "" if value == '""' else value

    def text_of_field(self, segment: str, field: int) -> str:
        """A whole field, every repetition and component, as sent."""
        try:
            return str(self.message.segment(segment)(field))
        except (KeyError, IndexError, TypeError):
            return ""

    def has(self, segment: str) -> bool:
        try:
            self.message.segment(segment)
        except KeyError:
            return False
        return True

    def repetitions(self, segment: str, field: int) -> list[Any]:
        try:
            return list(self.message.segment(segment)(field))
        except (KeyError, IndexError):
            return []

    def required(self, path: str, what: str) -> str:
        value = self.text(path)
        if not value:
            raise FieldInvalid(Problem.missing(what, *_where(path)))
        return value

    def time(self, path: str, what: str) -> datetime | None:
        """A DTM, read strictly; a time without an offset is the feed's local time."""
        value = self.text(path)
        if not value:
            return None
        match = _DTM.fullmatch(value)
        segment, field = _where(path)
        if match is None:
            detail = f"{what} {value!r} is not an HL7 time"
            raise FieldInvalid(Problem("102", "Data type error", detail, segment, field))
        fraction = (match["fraction"] or "").ljust(6, "0")[:6]
        try:
            zone: tzinfo = self._zone
            if offset := match["offset"]:
                sign = -1 if offset[0] == "-" else 1
                zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
            return datetime(
                int(match["year"]),
                int(match["month"] or 1),
                int(match["day"] or 1),
                int(match["hour"] or 0),
                int(match["minute"] or 0),
                int(match["second"] or 0),
                int(fraction),
                tzinfo=zone,
            )
        except ValueError as error:
            detail = f"{what} {value!r}: {error}"
            raise FieldInvalid(Problem("102", "Data type error", detail, segment, field)) from None

    def day(self, path: str, what: str) -> date | None:
        moment = self.time(path, what)
        return moment.date() if moment else None


def _where(path: str) -> tuple[str, int | None]:
    segment, _, rest = path.partition(".F")
    number = rest.split(".")[0]
    return segment, int(number) if number.isdigit() else None


def acknowledge(message: hl7.Message, code: AckCode, problem: Problem | None = None) -> bytes:
    """The ACK of a message, with an ERR segment saying what was wrong, if anything."""
    ack = message.create_ack(
        ack_code=code.value, message_id=f"ACK{uuid.uuid4().hex[:16]}", application=APPLICATION
    )
    # python-hl7 writes the time in UTC without saying so; an hour off in summer.
    ack["MSH.F7"] = f"{ack['MSH.F7']}+0000"
    if problem is not None:
        ack.append(_error_segment(ack, problem))
    return str(ack).encode()


def reject_unreadable(reason: str) -> bytes:
    """An AR for input whose MSH could not be read: the ACK of a stand-in header."""
    stand_in = hl7.parse(r"MSH|^~\&|UNKNOWN|UNKNOWN|FLOWCENTRE|FLOWCENTRE|||ACK^|UNKNOWN|P|2.5.1")
    return acknowledge(stand_in, AckCode.REJECTED, Problem("100", "Segment sequence error", reason))


def _error_segment(ack: hl7.Message, problem: Problem) -> Any:
    err = ack.create_segment([ack.create_field(["ERR"])])
    field = str(problem.field or "")
    # ERR-1 for receivers of v2.3 and v2.4; ERR-2, -3, -4 and -8 for v2.5 and later.
    err.assign_field(f"{problem.segment}^1^{field}^{problem.code}&{problem.text}&HL70357", 1)
    if problem.segment:
        err.assign_field(problem.segment, 2, 1, 1)
        err.assign_field("1", 2, 1, 2)
        err.assign_field(field, 2, 1, 3)
    err.assign_field(problem.code, 3, 1, 1)
    err.assign_field(problem.text, 3, 1, 2)
    err.assign_field("HL70357", 3, 1, 3)
    err.assign_field("E", 4)
    err.assign_field(ack.escape(problem.detail), 8)
    return err

"""Bed states: what staff set, what a board shows, and their HL7 table 0116 codes.

Staff and feeds set a bed's housekeeping status (``BedStatus``). What a board shows
(``BedState``) also depends on who is in the bed and when the last patient left: a bed a
patient has just left needs cleaning whatever its status said before, and an occupied
bed is occupied whatever its status says.
"""

from __future__ import annotations

from enum import StrEnum


class BedStatus(StrEnum):
    """A status set on a bed by ward staff, housekeeping or a feed (HL7 A20)."""

    CLEAN = "clean"
    AWAITING_CLEAN = "awaiting_clean"
    CLEANING = "cleaning"
    CONTAMINATED = "contaminated"
    ISOLATED = "isolated"
    RESERVED = "reserved"
    BLOCKED = "blocked"
    CLOSED = "closed"


class BedState(StrEnum):
    """What a board shows for a bed."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"
    AWAITING_CLEAN = "awaiting_clean"
    CLEANING = "cleaning"
    CONTAMINATED = "contaminated"
    ISOLATED = "isolated"
    RESERVED = "reserved"
    BLOCKED = "blocked"
    CLOSED = "closed"

    @property
    def hl7_code(self) -> str:
        """HL7 v2 table 0116 (also FHIR R4 Location.operationalStatus)."""
        return _HL7_0116[self]

    @property
    def usable(self) -> bool:
        """Whether a patient could be put in the bed now."""
        return self is BedState.AVAILABLE


_HL7_0116 = {
    BedState.AVAILABLE: "U",
    BedState.OCCUPIED: "O",
    BedState.AWAITING_CLEAN: "H",
    BedState.CLEANING: "H",
    BedState.CONTAMINATED: "K",
    BedState.ISOLATED: "I",
    BedState.RESERVED: "U",
    BedState.BLOCKED: "C",
    BedState.CLOSED: "C",
}

_FROM_HL7_0116 = {
    "C": BedStatus.CLOSED,
    "H": BedStatus.AWAITING_CLEAN,
    "I": BedStatus.ISOLATED,
    "K": BedStatus.CONTAMINATED,
    "U": BedStatus.CLEAN,
}


def status_from_hl7(code: str) -> BedStatus:
    """The status an HL7 0116 code sets; ``O`` is not a status: occupancy comes from ADT."""
    try:
        return _FROM_HL7_0116[code.strip().upper()]
    except KeyError:
        raise ValueError(f"HL7 table 0116 code {code!r} does not set a bed status") from None


_STATE_OF_STATUS = {
    BedStatus.CLEAN: BedState.AVAILABLE,
    BedStatus.AWAITING_CLEAN: BedState.AWAITING_CLEAN,
    BedStatus.CLEANING: BedState.CLEANING,
    BedStatus.CONTAMINATED: BedState.CONTAMINATED,
    BedStatus.ISOLATED: BedState.ISOLATED,
    BedStatus.RESERVED: BedState.RESERVED,
    BedStatus.BLOCKED: BedState.BLOCKED,
    BedStatus.CLOSED: BedState.CLOSED,
}


def state_of_status(status: BedStatus) -> BedState:
    return _STATE_OF_STATUS[status]


def status_refusal(shown: BedState, status: BedStatus) -> str | None:
    """Why staff cannot set ``status`` on a bed showing ``shown``, or None when they can.

    Occupancy outranks any status, so on an occupied bed a housekeeping status would
    change nothing the ward sees, and would mark the bed clean before its patient left:
    only isolation means something there.
    """
    if shown is BedState.OCCUPIED and status is not BedStatus.ISOLATED:
        return (
            f"it is occupied: only 'isolated' can be set on an occupied bed, not {status.value!r}"
        )
    return None

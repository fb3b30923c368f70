"""Who may send HL7 v2, for which organisation, and which of our wards and beds their
locations are: the listener's configuration file (``flowcentre/hl7/hl7.toml`` shape)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowcentre.domain.configuration import load_toml
from flowcentre.domain.contract import Identifier

DEFAULT_SOURCES = Path(__file__).with_name("hl7.toml")

ANY = "*"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourcesInvalid(ValueError):
    """The file cannot be used; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sender(_Strict):
    facility: Identifier
    """The sending facility (MSH-4.1) the sender speaks for."""
    organisation: Identifier
    """The organisation whose events its messages become."""
    addresses: tuple[Network, ...] = Field(min_length=1)
    """Where it may connect from."""
    patient_classes: tuple[str, ...] = ("I",)
    """The patient classes (PV1-2) followed: inpatients; others' messages are taken and
    make no event (an emergency department's attendances are not beds)."""


class LocationRule(_Strict):
    facility: str = Field(min_length=1)
    point_of_care: str = Field(min_length=1)
    ward: str = Field(min_length=1)
    """Our ward id; may use {facility} and {point_of_care}."""
    bed: str = "{ward}-{bed}"
    """Our bed id; may use {ward}, {facility}, {point_of_care}, {room} and {bed}."""

    @model_validator(mode="after")
    def _templates_name_known_parts(self) -> LocationRule:
        parts = dict.fromkeys(("facility", "point_of_care", "room", "bed", "ward"), "x")
        for template in (self.ward, self.bed):
            try:
                template.format(**parts)
            except (KeyError, IndexError, ValueError) as error:
                raise ValueError(f"{template!r} names an unknown part: {error}") from None
        return self

    def matches(self, facility: str, point_of_care: str) -> bool:
        return self.facility in (ANY, facility) and self.point_of_care in (ANY, point_of_care)


class _File(_Strict):
    senders: tuple[Sender, ...] = Field(min_length=1)
    locations: tuple[LocationRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Place:
    """One of our wards, and the bed in it when the message names one."""

    ward_id: str
    bed_id: str | None


class UnknownLocation(LookupError):
    """No rule maps the location: it is reported, never guessed."""


@dataclass(frozen=True)
class Sources:
    senders: tuple[Sender, ...]
    locations: tuple[LocationRule, ...]

    def admits(self, address: str) -> bool:
        """Whether any sender may connect from the address."""
        return self.senders_at(address) != ()

    def senders_at(self, address: str) -> tuple[Sender, ...]:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return ()
        return tuple(sender for sender in self.senders if any(peer in n for n in sender.addresses))

    def sender(self, address: str, facility: str) -> Sender | None:
        """The sender that may send for the facility from the address, if one may."""
        return next((s for s in self.senders_at(address) if s.facility == facility), None)

    def place(self, facility: str, point_of_care: str, room: str, bed: str) -> Place:
        """Our ward and bed for a location (PV1-3 or NPU-1), or UnknownLocation."""
        for rule in self.locations:
            if rule.matches(facility, point_of_care):
                parts = {"facility": facility, "point_of_care": point_of_care, "room": room}
                ward_id = rule.ward.format(**parts)
                bed_id = rule.bed.format(ward=ward_id, bed=bed, **parts) if bed else None
                return Place(ward_id, bed_id)
        raise UnknownLocation(
            f"no location rule maps point of care {point_of_care!r} of facility {facility!r}"
        )


def load_sources(path: Path = DEFAULT_SOURCES) -> Sources:
    parsed = load_toml(path, _File, SourcesInvalid)
    return Sources(parsed.senders, parsed.locations)

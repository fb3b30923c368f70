"""The access log's events: accounts, their passwords and the roles granted to them.

They share the envelope of the event contract, so every change of who may do what is
attributed (``caused_by``) and dated like any other, but travel on a topic of their own
(``FLOWCENTRE_ACCESS_TOPIC``): the live picture's topic is read by feeds and integrations,
and a password hash has no business there.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from flowcentre.domain.access import Role
from flowcentre.domain.contract import Contract, Identifier
from flowcentre.domain.events import EventBase, EventRejected, decode_with

Username = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z0-9._@-]+$")]
PasswordHash = Annotated[str, Field(pattern=r"^\$argon2id\$", max_length=512)]
TokenDigest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AccountKind(StrEnum):
    PERSON = "person"
    DEVICE = "device"
    SERVICE = "service"


class AccountDetails(Contract):
    account_id: Identifier
    kind: AccountKind
    username: Username
    """What the account signs in with, lower case; unique among accounts."""
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    organisation_id: Identifier
    """The organisation the person works for, or that runs the device or system."""
    single_sign_on: bool = False
    """A person who signs in through the organisation's identity provider. Only such an
    account is matched to the provider's sign-in: a password account cannot be taken over
    by whoever the provider names with its username."""


class PasswordChange(Contract):
    account_id: Identifier
    password_hash: PasswordHash
    """An Argon2id hash in PHC form: never the password."""


class RoleGrant(Contract):
    account_id: Identifier
    role: Role
    ward_ids: tuple[Identifier, ...] = ()
    """The wards a ward-reach role covers; empty for a role whose reach is the system."""


class RoleRevocation(Contract):
    account_id: Identifier
    role: Role


class AccountRef(Contract):
    account_id: Identifier


class TokenIssue(Contract):
    account_id: Identifier
    token_id: Identifier
    """Names the token in lists and revocations; it is not the token."""
    digest: TokenDigest
    """The token's SHA-256, in hex: never the token. A token is random and long, so its
    digest cannot be reversed, and a fast digest lets every request be checked by lookup."""


class SignOnLink(Contract):
    account_id: Identifier
    issuer: Annotated[str, Field(min_length=1, max_length=500)]
    subject: Annotated[str, Field(min_length=1, max_length=255)]
    """The provider's ``sub``: its own, lasting name for the person."""


class TokenRef(Contract):
    account_id: Identifier
    token_id: Identifier


class AccountCreated(EventBase):
    type: Literal["AccountCreated"] = "AccountCreated"
    payload: AccountDetails


class PasswordSet(EventBase):
    type: Literal["PasswordSet"] = "PasswordSet"
    payload: PasswordChange


class RoleGranted(EventBase):
    type: Literal["RoleGranted"] = "RoleGranted"
    payload: RoleGrant


class RoleRevoked(EventBase):
    type: Literal["RoleRevoked"] = "RoleRevoked"
    payload: RoleRevocation


class AccountDisabled(EventBase):
    type: Literal["AccountDisabled"] = "AccountDisabled"
    payload: AccountRef


class AccountEnabled(EventBase):
    type: Literal["AccountEnabled"] = "AccountEnabled"
    payload: AccountRef


class TokenIssued(EventBase):
    """A device or a system may sign in with a token: a wall screen once, a feed on each
    request."""

    type: Literal["TokenIssued"] = "TokenIssued"
    payload: TokenIssue


class TokenRevoked(EventBase):
    type: Literal["TokenRevoked"] = "TokenRevoked"
    payload: TokenRef


class SignOnLinked(EventBase):
    """The person the provider names so signed in to this account first: from then on only
    they may, whatever a username claim comes to say."""

    type: Literal["SignOnLinked"] = "SignOnLinked"
    payload: SignOnLink


class SignOnUnlinked(EventBase):
    """The account may be claimed again by the next sign-on (a person's new identity)."""

    type: Literal["SignOnUnlinked"] = "SignOnUnlinked"
    payload: AccountRef


AccessEvent = Annotated[
    AccountCreated
    | PasswordSet
    | RoleGranted
    | RoleRevoked
    | AccountDisabled
    | AccountEnabled
    | TokenIssued
    | TokenRevoked
    | SignOnLinked
    | SignOnUnlinked,
    Field(discriminator="type"),
]

_ACCESS_EVENT: TypeAdapter[AccessEvent] = TypeAdapter(AccessEvent)


def decode_access_event(raw: bytes) -> AccessEvent:
    """Parse one access event from the wire, or raise EventRejected naming the problem."""
    return decode_with(_ACCESS_EVENT, raw)


def access_key(event: EventBase) -> bytes:
    """The Kafka key: an account's events share its id."""
    account_id = getattr(getattr(event, "payload", None), "account_id", None)
    if not isinstance(account_id, str):
        raise EventRejected(f"{type(event).__name__}: payload has no account_id to key by")
    return account_id.encode()

"""Account administration: each change to who may do what, as the access events it publishes.

The functions check a change against the directory as the access log has it, and return
the events that make it; publishing them is the caller's. Every event names who made
the change (``by``), as every event on the live picture's log does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from flowcentre.domain.access import AccessPolicy, Role, grant
from flowcentre.domain.access_events import (
    AccessEvent,
    AccountCreated,
    AccountDetails,
    AccountDisabled,
    AccountEnabled,
    AccountKind,
    AccountRef,
    PasswordChange,
    PasswordSet,
    RoleGrant,
    RoleGranted,
    RoleRevocation,
    RoleRevoked,
)
from flowcentre.domain.directory import Account, Directory, Fact
from flowcentre.domain.events import Actor, Source
from flowcentre.passwords import Passwords

SOURCE_SYSTEM = "flowcentre-accounts"
SUCCESSOR_GAP = timedelta(microseconds=1)


class Envelope(TypedDict):
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    source: Source
    caused_by: Actor


class AccountRefused(ValueError):
    """The change cannot be made as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class NewAccount:
    username: str
    display_name: str
    organisation_id: str
    kind: AccountKind = AccountKind.PERSON


@dataclass(frozen=True, slots=True)
class RoleRequest:
    role: Role
    wards: frozenset[str] = frozenset()


class Administration:
    """Changes to the directory made by one person or process: ``by``."""

    def __init__(
        self, directory: Directory, policy: AccessPolicy, passwords: Passwords, by: Actor
    ) -> None:
        self._directory = directory
        self._policy = policy
        self._passwords = passwords
        self._by = by

    def create(
        self, account: NewAccount, password: str | None, roles: Iterable[RoleRequest]
    ) -> list[AccessEvent]:
        username = self.available(account.username)
        details = AccountDetails(
            account_id=f"acc-{uuid.uuid4().hex[:12]}",
            kind=account.kind,
            username=username,
            display_name=account.display_name,
            organisation_id=account.organisation_id,
        )
        events: list[AccessEvent] = [
            AccountCreated(**self._envelope(details.organisation_id), payload=details)
        ]
        if password is not None:
            events.append(self._password_set(details.account_id, details.organisation_id, password))
        events.extend(
            self._role_granted(details.account_id, details.organisation_id, request)
            for request in roles
        )
        return events

    def available(self, username: str) -> str:
        """The username as it would be stored, if no account has it yet."""
        wanted = username.strip().lower()
        if self._directory.by_username(wanted) is not None:
            raise AccountRefused(f"the username {wanted!r} is taken")
        return wanted

    def set_password(self, username: str, password: str) -> list[AccessEvent]:
        account, organisation = self._existing(username)
        return [
            self._password_set(account.account_id, organisation, password, account.password_hash)
        ]

    def grant(self, username: str, request: RoleRequest) -> list[AccessEvent]:
        account, organisation = self._existing(username)
        superseded = account.roles.get(request.role)
        return [self._role_granted(account.account_id, organisation, request, superseded)]

    def revoke(self, username: str, role: Role) -> list[AccessEvent]:
        account, organisation = self._existing(username)
        revocation = RoleRevocation(account_id=account.account_id, role=role)
        envelope = self._envelope(organisation, account.roles.get(role))
        return [RoleRevoked(**envelope, payload=revocation)]

    def disable(self, username: str) -> list[AccessEvent]:
        account, organisation = self._existing(username)
        ref = AccountRef(account_id=account.account_id)
        return [AccountDisabled(**self._envelope(organisation, account.disabled), payload=ref)]

    def enable(self, username: str) -> list[AccessEvent]:
        account, organisation = self._existing(username)
        ref = AccountRef(account_id=account.account_id)
        return [AccountEnabled(**self._envelope(organisation, account.disabled), payload=ref)]

    def _existing(self, username: str) -> tuple[Account, str]:
        account = self._directory.by_username(username)
        if account is None or account.details is None:
            raise AccountRefused(f"no account has the username {username!r}")
        return account, account.details.value.organisation_id

    def _password_set(
        self,
        account_id: str,
        organisation: str,
        password: str,
        superseded: Fact[Any] | None = None,
    ) -> PasswordSet:
        change = PasswordChange(account_id=account_id, password_hash=self._passwords.hash(password))
        return PasswordSet(**self._envelope(organisation, superseded), payload=change)

    def _role_granted(
        self,
        account_id: str,
        organisation: str,
        request: RoleRequest,
        superseded: Fact[Any] | None = None,
    ) -> RoleGranted:
        # Checked here so that a grant the policy cannot honour never reaches the log.
        given = grant(self._policy, request.role, request.wards)
        payload = RoleGrant(
            account_id=account_id, role=given.role, ward_ids=tuple(sorted(given.wards or ()))
        )
        return RoleGranted(**self._envelope(organisation, superseded), payload=payload)

    def _envelope(self, organisation: str, superseded: Fact[Any] | None = None) -> Envelope:
        now = datetime.now(UTC)
        # The directory keeps the fact latest in event time: a change made from a machine
        # whose clock is behind the one that set the fact must still come after it.
        at = max(now, superseded.order[0] + SUCCESSOR_GAP) if superseded else now
        return Envelope(
            event_id=str(uuid.uuid4()),
            occurred_at=at,
            recorded_at=now,
            source=Source(system=SOURCE_SYSTEM, organisation=organisation),
            caused_by=self._by,
        )

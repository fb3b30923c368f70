"""Account administration: each change to who may do what, as the access events it publishes.

The functions check a change against the directory as the access log has it, and return
the events that make it; publishing them is the caller's. Every event names who made
the change (``by``), as every event on the live picture's log does.
"""

from __future__ import annotations

import secrets
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
    SignOnLink,
    SignOnLinked,
    SignOnUnlinked,
    TokenIssue,
    TokenIssued,
    TokenRef,
    TokenRevoked,
)
from flowcentre.domain.directory import Account, Directory, Fact, token_digest
from flowcentre.domain.events import Actor, Source
from flowcentre.passwords import Passwords

SOURCE_SYSTEM = "flowcentre-accounts"
SUCCESSOR_GAP = timedelta(microseconds=1)
#: Marks a string as a Flow Centre token, so a secret scanner or a reader can tell one.
TOKEN_PREFIX = "fct_"


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
    single_sign_on: bool = False


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
        if password is not None and account.kind is not AccountKind.PERSON:
            raise AccountRefused(f"a {account.kind} account signs in with a token, not a password")
        details = AccountDetails(
            account_id=f"acc-{uuid.uuid4().hex[:12]}",
            kind=account.kind,
            username=username,
            display_name=account.display_name,
            organisation_id=account.organisation_id,
            single_sign_on=account.single_sign_on,
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
        if account.details is not None and account.details.value.kind is not AccountKind.PERSON:
            raise AccountRefused(
                f"{username!r} is a {account.details.value.kind} account: it signs in with a "
                "token, not a password"
            )
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

    def issue_token(self, username: str) -> tuple[str, list[AccessEvent]]:
        """A new token for a device or a system, and the event recording its digest.

        The token is the caller's to hand over once: the log keeps only its digest."""
        account, organisation = self._existing(username)
        if account.details is not None and account.details.value.kind is AccountKind.PERSON:
            raise AccountRefused(
                f"{username!r} is a person's account: people sign in themselves, not by token"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        issue = TokenIssue(
            account_id=account.account_id,
            token_id=f"tok-{uuid.uuid4().hex[:12]}",
            digest=token_digest(token),
        )
        return token, [TokenIssued(**self._envelope(organisation), payload=issue)]

    def revoke_token(self, username: str, token_id: str) -> list[AccessEvent]:
        account, organisation = self._existing(username)
        issued = account.tokens.get(token_id)
        if issued is None:
            raise AccountRefused(f"{username!r} has no token {token_id!r}")
        ref = TokenRef(account_id=account.account_id, token_id=token_id)
        return [TokenRevoked(**self._envelope(organisation, issued), payload=ref)]

    def link(self, account: Account, issuer: str, subject: str) -> list[AccessEvent]:
        """The account held to the person the provider signed in as it first."""
        if account.details is None:
            raise AccountRefused(f"no account {account.account_id!r}")
        link = SignOnLink(account_id=account.account_id, issuer=issuer, subject=subject)
        envelope = self._envelope(account.details.value.organisation_id)
        return [SignOnLinked(**envelope, payload=link)]

    def unlink(self, username: str) -> list[AccessEvent]:
        """Let the next sign-on claim the account again (the person's identity changed)."""
        account, organisation = self._existing(username)
        ref = AccountRef(account_id=account.account_id)
        latest = max(account.sign_on_links, key=lambda link: link.order, default=None)
        return [SignOnUnlinked(**self._envelope(organisation, latest), payload=ref)]

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

"""The directory of accounts, folded from the access log.

Each fact of an account (its details, its password, each role, whether it is disabled)
keeps the event latest in event time that set it, so duplicates and any arrival order
give the same directory, as the live picture's registry does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatch
from typing import Generic, TypeVar

from flowcentre.domain.access import AccessPolicy, Grant, Principal, Reach, Role
from flowcentre.domain.access_events import (
    AccessEvent,
    AccountCreated,
    AccountDetails,
    AccountDisabled,
    AccountEnabled,
    AccountKind,
    PasswordSet,
    RoleGranted,
    RoleRevoked,
    SignOnLinked,
    SignOnUnlinked,
    TokenIssued,
    TokenRevoked,
)
from flowcentre.domain.events import Actor, ActorKind, EventBase

Order = tuple[datetime, datetime, str]
Value = TypeVar("Value")

ACTOR_KINDS = {
    AccountKind.PERSON: ActorKind.USER,
    AccountKind.DEVICE: ActorKind.DEVICE,
    AccountKind.SERVICE: ActorKind.SERVICE,
}


@dataclass(frozen=True, slots=True)
class Fact(Generic[Value]):
    """A value, and the event-time order of the event that set it."""

    value: Value
    order: Order


def _newer(current: Fact[Value] | None, event: EventBase) -> bool:
    return current is None or current.order < event.order()


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    details: Fact[AccountDetails] | None = None
    password_hash: Fact[str] | None = None
    roles: dict[Role, Fact[tuple[str, ...] | None]] = field(default_factory=dict)
    """Each role's latest grant (the ward ids it covers) or revocation (None)."""
    disabled: Fact[bool] | None = None
    last_disabled: datetime | None = None
    """When the account was last disabled, even if enabled since."""
    tokens: dict[str, Fact[str | None]] = field(default_factory=dict)
    """Each token's digest, by token id; None once it is revoked."""
    sign_on_links: frozenset[Fact[tuple[str, str]]] = frozenset()
    """Every link to a provider's issuer and subject ever recorded."""
    sign_on_reset: Order | None = None
    """When the account was last unlinked: links before it no longer count."""

    @property
    def sign_on(self) -> tuple[str, str] | None:
        """The identity at the provider the account is held to: the first linked since it
        was last unlinked, so that two sign-ons racing to claim it agree on the winner."""
        standing = [
            link
            for link in self.sign_on_links
            if self.sign_on_reset is None or link.order > self.sign_on_reset
        ]
        return min(standing, key=lambda link: link.order).value if standing else None

    @property
    def active(self) -> bool:
        """Created and not disabled: only then may the account sign in."""
        return self.details is not None and not (self.disabled and self.disabled.value)

    def admits(self, session_started: datetime) -> bool:
        """Whether a session started then still stands: a new password or a disable ends
        every session started before it, a stolen one included."""
        ended = [self.last_disabled]
        if self.password_hash is not None:
            ended.append(self.password_hash.order[0])
        return all(at is None or at < session_started for at in ended)

    def token_live(self, token_id: str) -> bool:
        issued = self.tokens.get(token_id)
        return issued is not None and issued.value is not None

    def is_kind(self, kind: AccountKind) -> bool:
        return self.details is not None and self.details.value.kind is kind

    def grants(self, policy: AccessPolicy) -> tuple[Grant, ...]:
        held = []
        for role, fact in sorted(self.roles.items()):
            if fact.value is None:
                continue
            reach = policy.roles[role].reach
            held.append(Grant(role, frozenset(fact.value) if reach is Reach.WARDS else None))
        return tuple(held)


@singledispatch
def _apply(event: EventBase, account: Account) -> Account:
    raise TypeError(f"no rule applies {type(event).__name__} to an account")


@_apply.register
def _(event: AccountCreated, account: Account) -> Account:
    if not _newer(account.details, event):
        return account
    return replace(account, details=Fact(event.payload, event.order()))


@_apply.register
def _(event: PasswordSet, account: Account) -> Account:
    if not _newer(account.password_hash, event):
        return account
    return replace(account, password_hash=Fact(event.payload.password_hash, event.order()))


@_apply.register(RoleGranted)
@_apply.register(RoleRevoked)
def _(event: RoleGranted | RoleRevoked, account: Account) -> Account:
    role = event.payload.role
    if not _newer(account.roles.get(role), event):
        return account
    wards = event.payload.ward_ids if isinstance(event, RoleGranted) else None
    return replace(account, roles={**account.roles, role: Fact(wards, event.order())})


@_apply.register(AccountDisabled)
@_apply.register(AccountEnabled)
def _(event: AccountDisabled | AccountEnabled, account: Account) -> Account:
    disabled = isinstance(event, AccountDisabled)
    last = account.last_disabled
    if disabled and (last is None or last < event.occurred_at):
        last = event.occurred_at
    if not _newer(account.disabled, event):
        return replace(account, last_disabled=last)
    return replace(account, disabled=Fact(disabled, event.order()), last_disabled=last)


@_apply.register(TokenIssued)
@_apply.register(TokenRevoked)
def _(event: TokenIssued | TokenRevoked, account: Account) -> Account:
    token_id = event.payload.token_id
    if not _newer(account.tokens.get(token_id), event):
        return account
    digest = event.payload.digest if isinstance(event, TokenIssued) else None
    return replace(account, tokens={**account.tokens, token_id: Fact(digest, event.order())})


@_apply.register
def _(event: SignOnLinked, account: Account) -> Account:
    link = Fact((event.payload.issuer, event.payload.subject), event.order())
    return replace(account, sign_on_links=account.sign_on_links | {link})


@_apply.register
def _(event: SignOnUnlinked, account: Account) -> Account:
    reset = account.sign_on_reset
    if reset is not None and reset >= event.order():
        return account
    return replace(account, sign_on_reset=event.order())


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Directory:
    """Every account the access log names, and who holds each username."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._usernames: dict[str, Fact[str]] = {}
        self._tokens: dict[str, tuple[str, str]] = {}
        """Who each token digest ever issued belongs to: (account id, token id)."""

    def apply(self, event: AccessEvent) -> None:
        account_id = event.payload.account_id
        account = _apply(event, self._accounts.get(account_id) or Account(account_id))
        self._accounts[account_id] = account
        if isinstance(event, AccountCreated):
            # The first account created with a username keeps it: a later claim is a
            # mistake by whoever published it, and must not take over someone's sign-in.
            username = event.payload.username
            holder = self._usernames.get(username)
            if holder is None or event.order() < holder.order:
                self._usernames[username] = Fact(account_id, event.order())
        if isinstance(event, TokenIssued):
            self._tokens[event.payload.digest] = (account_id, event.payload.token_id)

    def accounts(self) -> list[Account]:
        return sorted(self._accounts.values(), key=lambda account: account.account_id)

    def account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def by_username(self, username: str) -> Account | None:
        holder = self._usernames.get(username.lower())
        account = self._accounts.get(holder.value) if holder else None
        # An account renamed since keeps its old username no longer.
        if account is None or account.details is None:
            return None
        return account if account.details.value.username == username.lower() else None

    def by_token(self, token: str) -> tuple[Account, str] | None:
        """The account the token was issued to, and the token's id, while it stands."""
        holder = self._tokens.get(token_digest(token))
        if holder is None:
            return None
        account_id, token_id = holder
        account = self._accounts[account_id]
        return (account, token_id) if account.token_live(token_id) else None

    def principal(self, account_id: str, policy: AccessPolicy) -> Principal | None:
        """Who the account acts as, or None if it cannot act (unknown, or disabled)."""
        account = self._accounts.get(account_id)
        if account is None or account.details is None or not account.active:
            return None
        details = account.details.value
        return Principal(
            actor=Actor(kind=ACTOR_KINDS[details.kind], id=account_id, name=details.display_name),
            organisation_id=details.organisation_id,
            grants=account.grants(policy),
        )

    def __len__(self) -> int:
        return len(self._accounts)

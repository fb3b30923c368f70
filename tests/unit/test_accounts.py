"""Account administration's rules, checked against a directory in memory."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles

from flowcentre.accounts import (
    TOKEN_PREFIX,
    AccountRefused,
    Administration,
    NewAccount,
    RoleRequest,
)
from flowcentre.accounts_command import role_request
from flowcentre.domain.access import GrantRefused, Permission, Role, load_policy
from flowcentre.domain.access_events import (
    AccessEvent,
    AccountCreated,
    AccountKind,
    PasswordSet,
    RoleGrant,
    RoleGranted,
    TokenIssued,
)
from flowcentre.domain.directory import Directory
from flowcentre.domain.events import Actor, ActorKind
from flowcentre.passwords import PasswordRefused, Passwords

POLICY = load_policy()
OPERATOR = Actor(kind=ActorKind.SYSTEM, id="flowcentre-accounts", name="run by test")
# The cheapest Argon2 parameters: these tests are about the rules, not the hash's cost.
PASSWORDS = Passwords(PasswordHasher.from_parameters(profiles.CHEAPEST))


def applied(directory: Directory, events: list[AccessEvent]) -> list[AccessEvent]:
    for one in events:
        directory.apply(one)
    return events


def nurse() -> NewAccount:
    return NewAccount("Nurse.Jones", "Nurse Jones", "RWP")


def test_a_new_account_gets_its_password_hash_and_roles_attributed_to_the_operator() -> None:
    directory = Directory()
    admin = Administration(directory, POLICY, PASSWORDS, OPERATOR)

    events = applied(
        directory,
        admin.create(nurse(), "a long password", [RoleRequest(Role.WARD_STAFF, frozenset({"W1"}))]),
    )

    created, password, granted = events
    assert granted.payload.account_id == created.payload.account_id
    assert isinstance(created, AccountCreated)
    assert created.payload.username == "nurse.jones"
    assert isinstance(password, PasswordSet)
    assert "a long password" not in password.model_dump_json()
    assert {one.caused_by for one in events} == {OPERATOR}
    principal = directory.principal(created.payload.account_id, POLICY)
    assert principal is not None
    assert principal.may(POLICY, Permission.SET_BED_STATUS, "W1")


def test_a_taken_username_a_short_password_and_a_grant_without_wards_are_refused() -> None:
    directory = Directory()
    admin = Administration(directory, POLICY, PASSWORDS, OPERATOR)
    applied(directory, admin.create(nurse(), "a long password", []))

    with pytest.raises(AccountRefused, match="taken"):
        admin.create(nurse(), "a long password", [])
    with pytest.raises(PasswordRefused, match="at least 10"):
        admin.set_password("nurse.jones", "short")
    with pytest.raises(GrantRefused, match="name at least one"):
        admin.grant("nurse.jones", RoleRequest(Role.DISPLAY))
    with pytest.raises(AccountRefused, match="no account"):
        admin.disable("nobody")


def test_revoking_and_disabling_take_effect_in_the_directory() -> None:
    directory = Directory()
    admin = Administration(directory, POLICY, PASSWORDS, OPERATOR)
    [created, _] = applied(directory, admin.create(nurse(), None, [RoleRequest(Role.FLOW_CENTRE)]))
    assert isinstance(created, AccountCreated)
    account_id = created.payload.account_id

    applied(directory, admin.revoke("nurse.jones", Role.FLOW_CENTRE))
    revoked = directory.principal(account_id, POLICY)
    applied(directory, admin.disable("nurse.jones"))

    assert revoked is not None
    assert revoked.grants == ()
    assert directory.principal(account_id, POLICY) is None


def test_roles_are_typed_as_role_colon_wards() -> None:
    assert role_request("ward_staff:W1,W2") == RoleRequest(Role.WARD_STAFF, frozenset({"W1", "W2"}))
    assert role_request("manager") == RoleRequest(Role.MANAGER)
    with pytest.raises(argparse.ArgumentTypeError, match="the roles are"):
        role_request("matron")


def test_a_change_comes_after_the_fact_it_replaces_whatever_this_machines_clock_says() -> None:
    directory = Directory()
    admin = Administration(directory, POLICY, PASSWORDS, OPERATOR)
    [created] = applied(directory, admin.create(nurse(), None, []))
    assert isinstance(created, AccountCreated)
    # Granted from a machine whose clock runs a day ahead of this one.
    ahead = datetime.now(UTC) + timedelta(days=1)
    payload = RoleGrant(account_id=created.payload.account_id, role=Role.FLOW_CENTRE)
    granted = RoleGranted(
        event_id="grant-1",
        occurred_at=ahead,
        recorded_at=ahead,
        source=created.source,
        caused_by=created.caused_by,
        payload=payload,
    )
    applied(directory, [granted])

    [revoked] = applied(directory, admin.revoke("nurse.jones", Role.FLOW_CENTRE))

    assert revoked.occurred_at > ahead
    principal = directory.principal(created.payload.account_id, POLICY)
    assert principal is not None
    assert principal.grants == ()


def test_a_device_gets_tokens_and_no_password_and_a_person_the_reverse() -> None:
    directory = Directory()
    admin = Administration(directory, POLICY, PASSWORDS, OPERATOR)
    screen = NewAccount("wall.avon4", "Avon 4 wall screen", "RWP", AccountKind.DEVICE)
    with pytest.raises(AccountRefused, match="token, not a password"):
        admin.create(screen, "a long password", [])
    applied(directory, admin.create(screen, None, [RoleRequest(Role.DISPLAY, frozenset({"W1"}))]))
    applied(directory, admin.create(nurse(), "a long password", []))

    token, events = admin.issue_token("wall.avon4")
    applied(directory, events)

    [issued] = events
    assert isinstance(issued, TokenIssued)
    assert token.startswith(TOKEN_PREFIX)
    assert token not in issued.model_dump_json()
    held = directory.by_token(token)
    assert held is not None
    assert held[0].details is not None
    assert held[0].details.value.username == "wall.avon4"
    with pytest.raises(AccountRefused, match="not by token"):
        admin.issue_token("nurse.jones")
    with pytest.raises(AccountRefused, match="not a password"):
        admin.set_password("wall.avon4", "a long password")
    with pytest.raises(AccountRefused, match="no token"):
        admin.revoke_token("wall.avon4", "tok-unknown")

    applied(directory, admin.revoke_token("wall.avon4", issued.payload.token_id))

    assert directory.by_token(token) is None

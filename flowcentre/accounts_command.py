"""``flowcentre accounts``: read the access log, make one change, publish it.

Every change is attributed to the command and the operating-system user who ran it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from flowcentre import bootstrap
from flowcentre.accounts import AccountRefused, Administration, NewAccount, RoleRequest
from flowcentre.config import Settings
from flowcentre.domain.access import GrantRefused, Role, load_policy
from flowcentre.domain.access_events import AccessEvent, AccountKind
from flowcentre.domain.directory import Directory
from flowcentre.domain.events import Actor, ActorKind
from flowcentre.passwords import PasswordRefused, Passwords
from flowcentre.runtime import ensure_topics

READ_ACCESS_LOG_S = 30.0

Change = Callable[[Administration, argparse.Namespace], list[AccessEvent]]


def role_request(text: str) -> RoleRequest:
    """``ward_staff:WRH-AVON4,WRH-AMU`` or ``manager``, as typed on the command line."""
    name, _, wards = text.partition(":")
    try:
        role = Role(name)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise argparse.ArgumentTypeError(f"no role {name!r}: the roles are {known}") from None
    return RoleRequest(role, frozenset(ward for ward in wards.split(",") if ward))


def _operator() -> Actor:
    return Actor(
        kind=ActorKind.SYSTEM,
        id="flowcentre-accounts",
        name=f"flowcentre accounts, run by {getpass.getuser()} on {socket.gethostname()}",
    )


async def _directory(settings: Settings) -> Directory:
    log = bootstrap.access_log(settings)
    await log.start()
    try:
        await log.wait_ready(READ_ACCESS_LOG_S)
        return log.directory
    finally:
        await log.stop()


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise PasswordRefused("the two passwords differ")
    return first


def _add(admin: Administration, args: argparse.Namespace) -> list[AccessEvent]:
    account = NewAccount(
        args.username, args.name, args.organisation, AccountKind(args.kind), args.sso
    )
    # Refused before anyone is asked for a password they would type for nothing.
    admin.available(account.username)
    asks = account.kind is AccountKind.PERSON and not args.sso
    password = _password(args) if asks else None
    return admin.create(account, password, args.role)


def _token(admin: Administration, args: argparse.Namespace) -> list[AccessEvent]:
    token, events = admin.issue_token(args.username)
    # Shown once, on standard output alone, so `TOKEN=$(flowcentre accounts token x)` works.
    print(token)
    return events


CHANGES: dict[str, Change] = {
    "add": _add,
    "password": lambda admin, args: admin.set_password(args.username, _password(args)),
    "grant": lambda admin, args: admin.grant(args.username, args.role),
    "revoke": lambda admin, args: admin.revoke(args.username, Role(args.role)),
    "token": _token,
    "revoke-token": lambda admin, args: admin.revoke_token(args.username, args.token_id),
    "unlink": lambda admin, args: admin.unlink(args.username),
    "disable": lambda admin, args: admin.disable(args.username),
    "enable": lambda admin, args: admin.enable(args.username),
}


def publish(settings: Settings, events: list[AccessEvent]) -> None:
    publisher = bootstrap.access_publisher(settings)
    try:
        publisher.publish(events)
    finally:
        publisher.close()


def run_accounts(settings: Settings, args: argparse.Namespace) -> int:
    ensure_topics(bootstrap.kafka_bootstrap(settings), settings)
    directory = asyncio.run(_directory(settings))
    if args.change == "list":
        _list(directory)
        return 0
    admin = Administration(directory, load_policy(settings.access_policy), Passwords(), _operator())
    try:
        events = CHANGES[args.change](admin, args)
    except (AccountRefused, GrantRefused, PasswordRefused, ValidationError) as error:
        print(f"flowcentre accounts: {error}", file=sys.stderr)
        return 2
    publish(settings, events)
    recorded = ", ".join(type(event).__name__ for event in events)
    print(f"Recorded {recorded} for {args.username}", file=sys.stderr)
    return 0


def _list(directory: Directory) -> None:
    for account in directory.accounts():
        if account.details is None:
            continue
        details = account.details.value
        roles = ", ".join(
            f"{role}:{','.join(fact.value)}" if fact.value else str(role)
            for role, fact in sorted(account.roles.items())
            if fact.value is not None
        )
        state = "active" if account.active else "disabled"
        tokens = "".join(
            f" {token_id}" for token_id, fact in sorted(account.tokens.items()) if fact.value
        )
        print(
            f"{details.username:24} {details.kind:7} {state:8} {details.display_name} [{roles}]"
            + (f" tokens:{tokens}" if tokens else "")
        )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    accounts = commands.add_parser("accounts", help="add accounts, set passwords, grant roles")
    accounts.set_defaults(run=run_accounts)
    changes = accounts.add_subparsers(dest="change", required=True)
    add = changes.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the name shown for the account")
    add.add_argument("--organisation", required=True, help="organisation id, such as RWP")
    add.add_argument(
        "--kind",
        choices=[kind.value for kind in AccountKind],
        default="person",
        help="a person signs in with a password; a device or service with a token",
    )
    add.add_argument(
        "--sso",
        action="store_true",
        help="a person who signs in through the organisation's provider only: no password",
    )
    add.add_argument(
        "--role",
        type=role_request,
        action="append",
        default=[],
        help="ROLE or ROLE:WARD,WARD (repeatable); roles: "
        + ", ".join(role.value for role in Role),
    )
    password = changes.add_parser("password", help="set an account's password")
    password.add_argument("username")
    for parser in (add, password):
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
    token = changes.add_parser(
        "token", help="issue a device's or a system's token (printed once, on standard output)"
    )
    token.add_argument("username")
    revoke_token = changes.add_parser("revoke-token", help="revoke a token by its id")
    revoke_token.add_argument("username")
    revoke_token.add_argument("token_id", help="as `flowcentre accounts list` shows it")
    changes.add_parser(
        "unlink", help="let the next single sign-on claim the account (a new identity)"
    ).add_argument("username")
    grant = changes.add_parser("grant", help="grant a role")
    grant.add_argument("username")
    grant.add_argument("role", type=role_request, help="ROLE or ROLE:WARD,WARD")
    revoke = changes.add_parser("revoke", help="revoke a role")
    revoke.add_argument("username")
    revoke.add_argument("role", choices=[role.value for role in Role])
    for name in ("disable", "enable"):
        changes.add_parser(name, help=f"{name} an account").add_argument("username")
    changes.add_parser("list", help="list the accounts and their roles")


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    credential: str
    """The password of a person's account, the token of a device's or a system's."""
    role: str


def demo_accounts(settings: Settings, organisation_id: str, ward_id: str) -> list[DemoAccount]:
    """An account for each role, with fresh random passwords and tokens: for ``up``."""
    ward = frozenset({ward_id})
    wanted: list[tuple[str, str, AccountKind, Role | RoleRequest]] = [
        ("ward.nurse", "Demo ward nurse", AccountKind.PERSON, RoleRequest(Role.WARD_STAFF, ward)),
        ("flow.centre", "Demo flow centre coordinator", AccountKind.PERSON, Role.FLOW_CENTRE),
        ("site.manager", "Demo site manager", AccountKind.PERSON, Role.MANAGER),
        ("admin", "Demo administrator", AccountKind.PERSON, Role.ADMINISTRATOR),
        ("wall.screen", "Demo wall screen", AccountKind.DEVICE, RoleRequest(Role.DISPLAY, ward)),
        ("demo.feed", "Demo integration feed", AccountKind.SERVICE, Role.INTEGRATION),
    ]
    directory = asyncio.run(_directory(settings))
    admin = Administration(directory, load_policy(settings.access_policy), Passwords(), _operator())
    created: list[DemoAccount] = []
    events: list[AccessEvent] = []
    for username, name, kind, role in wanted:
        if directory.by_username(username) is not None:
            continue
        request = role if isinstance(role, RoleRequest) else RoleRequest(role)
        account = NewAccount(username, name, organisation_id, kind)
        person = kind is AccountKind.PERSON
        credential = secrets.token_urlsafe(12) if person else ""
        for event in admin.create(account, credential or None, [request]):
            # Applied here too, so that the token below is issued to an account it knows.
            directory.apply(event)
            events.append(event)
        if not person:
            credential, issued = admin.issue_token(username)
            events.extend(issued)
        wards = f" on {','.join(sorted(request.wards))}" if request.wards else ""
        created.append(DemoAccount(username, credential, f"{request.role}{wards}"))
    publish(settings, events)
    return created

"""Accounts for tests that sign in: recorded on the real access log, signed in for real."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from flowcentre.config import Settings
from flowcentre.domain.access_events import AccessEvent, access_key
from flowcentre.domain.directory import token_digest
from flowcentre.passwords import Passwords
from flowcentre.publisher import KafkaPublisher
from tests.builders import access_event, account_created, role_granted

PASSWORD = "correct horse battery"


def account(account_id: str, username: str, role: str, *wards: str) -> list[AccessEvent]:
    """An account with the test password and one role."""
    password_hash = Passwords().hash(PASSWORD)
    return [
        account_created(account_id, username),
        access_event("PasswordSet", {"account_id": account_id, "password_hash": password_hash}),
        role_granted(account_id, role, *wards),
    ]


def device(
    account_id: str, username: str, role: str, *wards: str, kind: str = "device"
) -> tuple[str, list[AccessEvent]]:
    """A device's or a system's account with one role, and a token issued to it."""
    token = f"fct_token-of-{account_id}"
    issued = {"account_id": account_id, "token_id": "t1", "digest": token_digest(token)}
    return token, [
        account_created(account_id, username, kind=kind),
        role_granted(account_id, role, *wards),
        access_event("TokenIssued", issued),
    ]


def record(settings: Settings, events: Sequence[AccessEvent]) -> None:
    assert settings.kafka_bootstrap
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.access_topic, key=access_key)
    try:
        publisher.publish(events)
    finally:
        publisher.close()


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/v1/session", json={"username": username, "password": password})

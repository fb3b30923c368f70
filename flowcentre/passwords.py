"""Passwords: hashed with Argon2id (RFC 9106), and checked off the event loop.

A check costs tens of milliseconds and 64 MiB by design, so it runs in a thread, a few
at a time, and sign-in attempts are rate limited before they reach it.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

#: NCSC guidance: length over composition rules; the upper bound only stops abuse.
MIN_LENGTH = 10
MAX_LENGTH = 256


class PasswordRefused(ValueError):
    """A new password that does not meet the rules; the message says which."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(f"a password has at most {MAX_LENGTH} characters")


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, *, at_once: int = 2) -> None:
        self._hasher = hasher or PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
        self._gate = asyncio.Semaphore(at_once)
        # Checked against when the account does not exist, so that answer takes as long
        # as a wrong password and does not tell which usernames exist.
        self._decoy = self._hasher.hash("not anyone's password")

    def hash(self, password: str) -> str:
        check_new_password(password)
        return self._hasher.hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        async with self._gate:
            matched = await asyncio.to_thread(self._matches, password_hash or self._decoy, password)
        return matched and password_hash is not None

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

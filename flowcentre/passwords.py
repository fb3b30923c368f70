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


class TooBusy(RuntimeError):
    """More password checks are waiting than the process will queue."""


class Passwords:
    def __init__(
        self, hasher: PasswordHasher | None = None, *, at_once: int = 2, queued: int = 32
    ) -> None:
        self._hasher = hasher or PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
        self._gate = asyncio.Semaphore(at_once)
        self._queued = queued
        self._waiting = 0
        # Checked against when the account does not exist, so that answer takes as long
        # as a wrong password and does not tell which usernames exist.
        self._decoy = self._hasher.hash("not anyone's password")

    def hash(self, password: str) -> str:
        check_new_password(password)
        return self._hasher.hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        # Each check holds 64 MiB: a flood of sign-ins is refused rather than queued.
        if self._waiting >= self._queued:
            raise TooBusy("too many sign-ins at once: try again in a moment")
        self._waiting += 1
        try:
            async with self._gate:
                decoy = password_hash or self._decoy
                matched = await asyncio.to_thread(self._matches, decoy, password)
        finally:
            self._waiting -= 1
        return matched and password_hash is not None

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

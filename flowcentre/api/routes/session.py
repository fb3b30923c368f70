"""Signing in and out: a session is a cookie the browser sends back, and nothing else.

The cookie is HttpOnly (scripts cannot read it), Secure (sent over HTTPS, or to the
machine itself in a browser) and SameSite=Lax (other sites cannot make the browser send
it with a write). A wrong username and a wrong password get the same answer, after the
same work, so the answer does not tell which usernames exist. People sign in with a
password; a wall screen is paired once with its device token, and keeps its session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field, SecretStr

from flowcentre.api.auth import SESSION_COOKIE, PrincipalDep, current_directory, start_session
from flowcentre.api.deps import AccessDep, SettingsDep
from flowcentre.api.models import SessionView
from flowcentre.domain.access_events import AccountKind
from flowcentre.passwords import MAX_LENGTH, TooBusy

router = APIRouter(prefix="/api/v1/session", tags=["session"])

NOT_RECOGNISED = "username or password not recognised"


class DevicePairing(BaseModel):
    token: Annotated[SecretStr, Field(min_length=1, max_length=200)]


class SignIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    # SecretStr: a validation error never echoes it back, and logs show it masked.
    password: Annotated[SecretStr, Field(min_length=1, max_length=MAX_LENGTH)]


@router.post(
    "",
    response_model=SessionView,
    responses={
        401: {"description": "The username or the password is not recognised."},
        429: {"description": "Too many failed attempts for this username or address."},
        503: {"description": "The access log has not been read yet."},
    },
    summary="Sign in with a username and password",
)
async def sign_in(
    body: SignIn, request: Request, response: Response, access: AccessDep
) -> SessionView:
    username = body.username.strip().lower()
    address = request.client.host if request.client else "unknown"
    if not await access.attempts.attempt(username, address):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many failed sign-ins: try again later"
        )
    directory = await current_directory(access)
    account = directory.by_username(username)
    if account and account.details and account.details.value.kind is not AccountKind.PERSON:
        # A device or a system has a token and no password; one set before that rule is
        # not honoured, so a wall screen's account cannot be used to sign in as a person.
        account = None
    known_hash = account.password_hash.value if account and account.password_hash else None
    try:
        matched = await access.passwords.verify(known_hash, body.password.get_secret_value())
    except TooBusy as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    principal = directory.principal(account.account_id, access.policy) if account else None
    if not matched or principal is None or account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, NOT_RECOGNISED)
    await access.attempts.succeeded(username)
    await start_session(request, response, access, account.account_id)
    return SessionView.of(principal, access.policy)


@router.post(
    "/device",
    response_model=SessionView,
    responses={
        401: {"description": "The token is not recognised, or has been revoked."},
        429: {"description": "Too many failed attempts from this address."},
        503: {"description": "The access log has not been read yet."},
    },
    summary="Pair a wall screen: sign it in with its device token",
)
async def pair_device(
    body: DevicePairing,
    request: Request,
    response: Response,
    access: AccessDep,
    settings: SettingsDep,
) -> SessionView:
    address = request.client.host if request.client else "unknown"
    # A token cannot be guessed, so only the address's attempts are limited: a limit on
    # every pairing would let anyone stop all screens being paired.
    if not await access.attempts.attempt_from(address):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many failed sign-ins: try again later"
        )
    directory = await current_directory(access)
    held = directory.by_token(body.token.get_secret_value().strip())
    # Only a wall screen's token pairs: a system's would become a browser session.
    account, token_id = held if held and held[0].is_kind(AccountKind.DEVICE) else (None, None)
    principal = directory.principal(account.account_id, access.policy) if account else None
    if account is None or principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "token not recognised")
    await start_session(
        request, response, access, account.account_id, settings.device_session_idle_s, token_id
    )
    return SessionView.of(principal, access.policy)


@router.get(
    "",
    response_model=SessionView,
    responses={401: {"description": "Not signed in, or the session has ended."}},
    summary="Who is signed in, and what they may do",
)
async def read_session(principal: PrincipalDep, access: AccessDep) -> SessionView:
    return SessionView.of(principal, access.policy)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
async def sign_out(request: Request, response: Response, access: AccessDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await access.sessions.end(token)
    response.delete_cookie(SESSION_COOKIE, httponly=True, secure=True, samesite="lax", path="/")

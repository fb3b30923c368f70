"""Signing in and out: a session is a cookie the browser sends back, and nothing else.

The cookie is HttpOnly (scripts cannot read it), Secure (sent over HTTPS, or to the
machine itself in a browser) and SameSite=Lax (other sites cannot make the browser send
it with a write). A wrong username and a wrong password get the same answer, after the
same work, so the answer does not tell which usernames exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field, SecretStr

from flowcentre.api.auth import SESSION_COOKIE, PrincipalDep, current_directory
from flowcentre.api.deps import AccessDep
from flowcentre.api.models import SessionView
from flowcentre.passwords import MAX_LENGTH, TooBusy

router = APIRouter(prefix="/api/v1/session", tags=["session"])

NOT_RECOGNISED = "username or password not recognised"


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
    known_hash = account.password_hash.value if account and account.password_hash else None
    try:
        matched = await access.passwords.verify(known_hash, body.password.get_secret_value())
    except TooBusy as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    principal = directory.principal(account.account_id, access.policy) if account else None
    if not matched or principal is None or account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, NOT_RECOGNISED)
    await access.attempts.succeeded(username)
    # A session the browser already held is ended, so no one can plant one to share.
    if previous := request.cookies.get(SESSION_COOKIE):
        await access.sessions.end(previous)
    token = await access.sessions.start(account.account_id)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")
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

"""Who is calling: the session cookie or a bearer token, resolved to a principal.

A route that needs someone signed in names ``principal: PrincipalDep``, and checks what it
is about to show or change with ``require``: a 401 says "sign in", a 403 names what the
principal may not do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Response, status
from starlette.requests import HTTPConnection

from flowcentre.access_log import AccessLogNotReady
from flowcentre.api.deps import Access, AccessDep, WriteLimitDep
from flowcentre.domain.access import AccessPolicy, Permission, Principal
from flowcentre.domain.access_events import AccountKind
from flowcentre.domain.board import BoardScope
from flowcentre.domain.directory import Directory
from flowcentre.store.reads import LiveReads

# The __Host- prefix makes browsers refuse the cookie unless this origin set it, Secure,
# for every path: a sibling subdomain cannot plant a session of its choosing.
SESSION_COOKIE = "__Host-fc_session"

#: How long a request waits for a just-started process to read the access log.
ACCESS_LOG_WAIT_S = 5.0


def bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


async def signed_in_as(connection: HTTPConnection, access: AccessDep) -> Principal | None:
    """The principal of the request's token or session, or None when neither is live.

    A system sends its token on every request; a browser's session is in its cookie."""
    if bearer := bearer_token(connection):
        directory = await current_directory(access)
        held = directory.by_token(bearer)
        # A wall screen's token pairs the screen once; only a system's is a bearer token.
        if held is None or not held[0].is_kind(AccountKind.SERVICE):
            return None
        return directory.principal(held[0].account_id, access.policy)
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await access.sessions.session_of(token)
    if session is None:
        return None
    directory = await current_directory(access)
    account = directory.account(session.account_id)
    if account is None or account.details is None:
        # Not in this process's directory yet: the access log may be a moment behind the
        # process that started the session, so the session stands.
        return None
    paired_by_revoked = session.token_id is not None and not account.token_live(session.token_id)
    if not account.active or not account.admits(session.started) or paired_by_revoked:
        # Disabled, its password changed since, or the token that paired it revoked: the
        # session is over for good.
        await access.sessions.end(token)
        return None
    return directory.principal(session.account_id, access.policy)


async def current_directory(access: Access) -> Directory:
    """The directory, once this process has read the access log (503 until then)."""
    try:
        await access.log.wait_ready(ACCESS_LOG_WAIT_S)
    except AccessLogNotReady as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    return access.log.directory


async def start_session(
    connection: HTTPConnection,
    response: Response,
    access: Access,
    account_id: str,
    idle_s: int | None = None,
    token_id: str | None = None,
) -> None:
    """Sign the browser in as the account: a new session, in its cookie."""
    # A session the browser already held is ended, so no one can plant one to share.
    if previous := connection.cookies.get(SESSION_COOKIE):
        await access.sessions.end(previous)
    token = await access.sessions.start(account_id, idle_s, token_id)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")


def current_principal(
    principal: Annotated[Principal | None, Depends(signed_in_as)],
) -> Principal:
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first (POST /api/v1/session), or send a live token",
            headers={"WWW-Authenticate": 'Bearer realm="flowcentre"'},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_writer(principal: PrincipalDep, writes: WriteLimitDep) -> Principal:
    """The principal, if its writes are within the account's limit (429 if not)."""
    if not await writes.allow(principal.actor.id):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many writes from this account: slow down"
        )
    return principal


WriterDep = Annotated[Principal, Depends(current_writer)]

#: What every route behind a sign-in may answer, for the OpenAPI document.
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in, or the session has ended."},
    403: {"description": "Signed in, without the permission (or not over the ward) needed."},
}


async def home_wards(reads: LiveReads, organisation_id: str) -> frozenset[str]:
    """The wards of the organisation's own sites."""
    sites = {
        site.payload.site_id
        for site in await reads.sites()
        if site.payload.organisation_id == organisation_id
    }
    return frozenset(
        ward.payload.ward_id for ward in await reads.wards() if ward.payload.site_id in sites
    )


async def scope_of(
    principal: Principal, policy: AccessPolicy, reads: LiveReads
) -> BoardScope | None:
    """What of the boards the principal may see, or None if nothing."""
    return BoardScope.of(principal, policy, await home_wards(reads, principal.organisation_id))


async def board_scope(principal: Principal, policy: AccessPolicy, reads: LiveReads) -> BoardScope:
    """What of the boards the principal may see; 403 if it may see none."""
    scope = await scope_of(principal, policy, reads)
    if scope is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may see no board")
    return scope


def require(
    principal: Principal,
    policy: AccessPolicy,
    permission: Permission,
    ward_id: str | None = None,
) -> None:
    """Refuse with 403 unless a grant carries ``permission`` (over ``ward_id`` if named)."""
    if not principal.may(policy, permission, ward_id):
        where = f" on ward {ward_id}" if ward_id else ""
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not {permission.value}{where}")

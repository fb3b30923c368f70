"""Who is calling: the session cookie resolved to a principal, for routes to depend on.

A route that needs someone signed in names ``principal: PrincipalDep``, and checks what it
is about to show or change with ``require``: a 401 says "sign in", a 403 names what the
principal may not do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from flowcentre.access_log import AccessLogNotReady
from flowcentre.api.deps import Access, AccessDep
from flowcentre.domain.access import AccessPolicy, Permission, Principal
from flowcentre.domain.board import BoardScope
from flowcentre.domain.directory import Directory

# The __Host- prefix makes browsers refuse the cookie unless this origin set it, Secure,
# for every path: a sibling subdomain cannot plant a session of its choosing.
SESSION_COOKIE = "__Host-fc_session"

#: How long a request waits for a just-started process to read the access log.
ACCESS_LOG_WAIT_S = 5.0


async def signed_in_as(connection: HTTPConnection, access: AccessDep) -> Principal | None:
    """The principal of the request's session, or None when there is none that is live."""
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
    if not account.active or not account.admits(session.started):
        # Disabled, or its password changed since: the session is over for good.
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


def current_principal(
    principal: Annotated[Principal | None, Depends(signed_in_as)],
) -> Principal:
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: POST /api/v1/session",
            headers={"WWW-Authenticate": f'Cookie realm="flowcentre" cookie="{SESSION_COOKIE}"'},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]

#: What every route behind a sign-in may answer, for the OpenAPI document.
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in, or the session has ended."},
    403: {"description": "Signed in, without the permission (or not over the ward) needed."},
}


def board_scope(principal: Principal, policy: AccessPolicy) -> BoardScope:
    """What of the boards the principal may see; 403 if it may see none."""
    scope = BoardScope.of(principal, policy)
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

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
from flowcentre.api.deps import AccessDep
from flowcentre.domain.access import AccessPolicy, Permission, Principal

SESSION_COOKIE = "fc_session"

#: How long a request waits for a just-started process to read the access log.
ACCESS_LOG_WAIT_S = 5.0


async def signed_in_as(connection: HTTPConnection, access: AccessDep) -> Principal | None:
    """The principal of the request's session, or None when there is none that is live."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    account_id = await access.sessions.account_of(token)
    if account_id is None:
        return None
    try:
        await access.log.wait_ready(ACCESS_LOG_WAIT_S)
    except AccessLogNotReady as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    return access.log.directory.principal(account_id, access.policy)


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

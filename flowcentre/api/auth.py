"""Who is calling: the session cookie resolved to a principal, for routes to depend on.

A route that needs someone signed in names ``principal: PrincipalDep``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from flowcentre.access_log import AccessLogNotReady
from flowcentre.api.deps import AccessDep
from flowcentre.domain.access import Principal

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

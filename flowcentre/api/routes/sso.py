"""Signing in through the organisation's OpenID Connect provider.

The browser is sent to the provider and comes back to the callback; the person signed in
there is signed in here as the Flow Centre account of the same username (the claim
``FLOWCENTRE_OIDC_USERNAME_CLAIM``), if one is active. Roles still come from the access
log: the provider says who someone is, not what they may do here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse

from flowcentre.accounts import Administration
from flowcentre.api.auth import current_directory, start_session
from flowcentre.api.deps import Access, AccessDep, SettingsDep
from flowcentre.api.models import SingleSignOnView
from flowcentre.domain.access_events import AccountKind
from flowcentre.domain.directory import Account, Directory
from flowcentre.domain.events import Actor, ActorKind
from flowcentre.publisher import PublishFailed
from flowcentre.sso import Refusal, SignInRefused, SingleSignOn
from flowcentre.store.pending_sign_ins import PENDING_S

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/session/sso", tags=["session"])

#: Holds the browser's token for its sign-in in progress; Lax, so that it comes back with
#: the provider's redirect, a top-level navigation from another site.
PENDING_COOKIE = "__Host-fc_sign_in"

#: How long a first sign-on waits to read its link back from the access log.
LINK_READ_BACK_S = 5.0

NOT_SET_UP: dict[int | str, dict[str, Any]] = {
    404: {"description": "Single sign-on is not set up here."}
}


def _provider(sso: SingleSignOn | None) -> SingleSignOn:
    if sso is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "single sign-on is not set up here")
    return sso


@router.get(
    "/provider",
    response_model=SingleSignOnView,
    responses=NOT_SET_UP,
    summary="Whether people may sign in through a provider, and its name",
)
async def read_provider(access: AccessDep) -> SingleSignOnView:
    return SingleSignOnView(name=_provider(access.sso).provider_name)


@router.get(
    "",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={**NOT_SET_UP, 303: {"description": "On to the provider's sign-in."}},
    summary="Sign in through the provider (a browser navigation)",
)
async def begin_single_sign_on(
    request: Request, access: AccessDep, settings: SettingsDep
) -> RedirectResponse:
    sso = _provider(access.sso)
    address = request.client.host if request.client else "unknown"
    # Each start keeps a pending sign-in in Redis for minutes: counted like sign-ins.
    if not await access.attempts.attempt_from(address):
        return _back_to_sign_in(Refusal.TOO_MANY)
    redirect_uri = settings.oidc_redirect_url or str(request.url_for("finish_single_sign_on"))
    try:
        url, pending = await sso.begin(redirect_uri)
    except SignInRefused as refused:
        log.warning("single sign-on could not start: %s", refused)
        return _back_to_sign_in(refused.refusal)
    response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        PENDING_COOKIE,
        await access.pending.keep(pending),
        max_age=PENDING_S,
        httponly=True,
        secure=True,
        samesite="lax",
        path="/",
    )
    return response


@router.get(
    "/callback",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={
        **NOT_SET_UP,
        303: {
            "description": "Signed in, on to the whiteboard; or back to the sign-in page, "
            "with `?sign-in=<why>` saying why not."
        },
    },
    summary="Where the provider sends the browser back",
)
async def finish_single_sign_on(request: Request, access: AccessDep) -> RedirectResponse:
    sso = _provider(access.sso)
    token = request.cookies.get(PENDING_COOKIE)
    pending = await access.pending.take(token) if token else None
    try:
        claims = await sso.finish(pending, request.query_params)
        username = sso.username_of(claims)
        directory = await current_directory(access)
        account = directory.by_username(username)
        if account is None or not _signs_in_as_person(account, directory, access):
            raise SignInRefused(
                Refusal.NO_ACCOUNT, f"no active single sign-on account {username!r}"
            )
        await _hold_to_identity(account, sso.identity_of(claims), access)
    except SignInRefused as refused:
        log.warning("single sign-on refused: %s", refused)
        response = _back_to_sign_in(refused.refusal)
    else:
        response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
        await start_session(request, response, access, account.account_id)
    response.delete_cookie(PENDING_COOKIE, httponly=True, secure=True, samesite="lax", path="/")
    return response


async def _hold_to_identity(account: Account, identity: tuple[str, str], access: Access) -> None:
    """The first person the provider signs in as an account is the only one who may: a
    username claim can come to name someone else, the provider's subject cannot."""
    linked = account.sign_on
    if linked is None:
        signer = Administration(
            access.log.directory, access.policy, access.passwords, _signer(account)
        )
        try:
            await access.log_writer.publish_async(signer.link(account, *identity))
        except PublishFailed as error:
            detail = f"linking the account failed: {error}"
            raise SignInRefused(Refusal.UNAVAILABLE, detail) from None
        # Two sign-ons may race to claim the account: the log says which came first.
        try:
            linked = await _link_read_back(account.account_id, access)
        except TimeoutError:
            detail = "the access log did not show the account's link in time"
            raise SignInRefused(Refusal.UNAVAILABLE, detail) from None
    if linked != identity:
        detail = f"{account.account_id} is linked to another identity at the provider"
        raise SignInRefused(Refusal.NO_ACCOUNT, detail)


async def _link_read_back(account_id: str, access: Access) -> tuple[str, str] | None:
    async with asyncio.timeout(LINK_READ_BACK_S):
        while True:
            account = access.log.directory.account(account_id)
            if account is not None and account.sign_on is not None:
                return account.sign_on
            await asyncio.sleep(0.05)


def _signer(account: Account) -> Actor:
    details = account.details
    name = details.value.display_name if details else None
    return Actor(kind=ActorKind.USER, id=account.account_id, name=name)


def _signs_in_as_person(account: Account, directory: Directory, access: Access) -> bool:
    details = account.details
    signs_on = details is not None and details.value.single_sign_on
    is_person = account.is_kind(AccountKind.PERSON)
    return (
        signs_on
        and is_person
        and directory.principal(account.account_id, access.policy) is not None
    )


def _back_to_sign_in(refusal: Refusal) -> RedirectResponse:
    return RedirectResponse(f"/?sign-in={refusal.value}", status.HTTP_303_SEE_OTHER)

"""Single sign-on with an OpenID Connect provider, through Authlib.

The authorization code flow with PKCE (S256), state and nonce. The ID token's signature
is checked against the provider's published keys, and its issuer, audience (this
client), expiry and nonce against what this sign-in expects. What a sign-in must remember
between leaving for the provider and coming back is kept server-side (``PendingSignIns``),
never in a cookie the browser could read or alter.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc.errors import JoseError

from flowcentre.config import Settings

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"

#: A provider that cannot be reached, or whose documents are not what they should be:
#: Authlib raises these for an unreadable discovery or key document.
UNREACHABLE = (httpx2.HTTPError, ValueError, KeyError, RuntimeError)


class Refusal(StrEnum):
    """Why a sign-in through the provider did not sign anyone in; the page explains each."""

    EXPIRED = "expired"
    """No sign-in of this browser's was waiting (too slow, another tab, or a forged return)."""
    DECLINED = "declined"
    """The provider, or the person, declined."""
    UNVERIFIED = "unverified"
    """The provider's answer failed a check: signature, issuer, audience, expiry or nonce."""
    UNAVAILABLE = "unavailable"
    """The provider could not be reached, or failed."""
    NO_ACCOUNT = "no-account"
    """The person is not a Flow Centre user: no active account has their username."""
    TOO_MANY = "too-many"
    """This address started too many sign-ins lately."""


class SignInRefused(Exception):
    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(f"{refusal}: {detail}")
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """What a sign-in remembers while the person is at the provider."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


class SingleSignOn:
    """This deployment as a client of one OpenID Connect provider."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: str,
        username_claim: str,
        provider_name: str,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self.username_claim = username_claim
        self.provider_name = provider_name
        # A registry of its own: Authlib caches the provider's metadata and keys on it.
        registry = OAuth()
        registry.register(
            "provider",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=self._issuer + DISCOVERY_PATH,
            client_kwargs={"scope": scopes, "code_challenge_method": "S256"},
        )
        self._client: Any = registry.create_client("provider")

    @classmethod
    def from_settings(cls, settings: Settings) -> SingleSignOn | None:
        if not settings.oidc_issuer:
            return None
        # Settings refuses an issuer without the client's id and secret.
        client_id = settings.oidc_client_id or ""
        secret = (
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
        )
        return cls(
            settings.oidc_issuer,
            client_id,
            secret,
            scopes=settings.oidc_scopes,
            username_claim=settings.oidc_username_claim,
            provider_name=settings.oidc_provider_name,
        )

    async def begin(self, redirect_uri: str) -> tuple[str, PendingSignIn]:
        """Where to send the browser, and what to remember until it comes back."""
        try:
            await self._discovered()
            started = await self._client.create_authorization_url(redirect_uri)
        except UNREACHABLE as error:
            raise SignInRefused(Refusal.UNAVAILABLE, f"discovery failed: {error!r}") from None
        pending = PendingSignIn(
            state=started["state"],
            nonce=started["nonce"],
            code_verifier=started["code_verifier"],
            redirect_uri=redirect_uri,
        )
        return started["url"], pending

    async def finish(
        self, pending: PendingSignIn | None, answer: Mapping[str, str]
    ) -> dict[str, Any]:
        """The verified ID token's claims, from the provider's answer (the callback's query)."""
        if declined := answer.get("error"):
            detail = f"{declined}: {answer.get('error_description')}"
            raise SignInRefused(Refusal.DECLINED, detail)
        state = answer.get("state", "").encode()
        if pending is None or not secrets.compare_digest(pending.state.encode(), state):
            raise SignInRefused(Refusal.EXPIRED, "no sign-in of this browser's has that state")
        try:
            issuer = await self._discovered()
            token = await self._client.fetch_access_token(
                code=answer.get("code", ""),
                redirect_uri=pending.redirect_uri,
                code_verifier=pending.code_verifier,
            )
            if "id_token" not in token:
                raise SignInRefused(Refusal.UNVERIFIED, "the provider sent no ID token")
            # Authlib pins only the issuer by default; the audience must be this client too.
            claims = await self._client.parse_id_token(
                token,
                nonce=pending.nonce,
                claims_options={
                    "iss": {"essential": True, "values": [issuer]},
                    "aud": {"essential": True, "values": [self._client_id]},
                },
            )
        except OAuthError as error:
            raise SignInRefused(Refusal.DECLINED, f"{error.error}: {error.description}") from None
        except JoseError as error:
            raise SignInRefused(Refusal.UNVERIFIED, repr(error)) from None
        except UNREACHABLE as error:
            raise SignInRefused(Refusal.UNAVAILABLE, repr(error)) from None
        return dict(claims)

    async def _discovered(self) -> str:
        """The provider's issuer, once its discovery document is known to be its own."""
        metadata = await self._client.load_server_metadata()
        issuer = str(metadata.get("issuer", ""))
        if issuer.rstrip("/") != self._issuer:
            raise ValueError(f"the discovery document names the issuer {issuer!r}")
        return issuer

    def identity_of(self, claims: Mapping[str, Any]) -> tuple[str, str]:
        """The provider's issuer and its lasting name for the person (``sub``)."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise SignInRefused(Refusal.UNVERIFIED, "the ID token has no subject")
        return str(claims.get("iss", self._issuer)), subject

    def username_of(self, claims: Mapping[str, Any]) -> str:
        """The Flow Centre username the claims name."""
        username = claims.get(self.username_claim)
        if not isinstance(username, str) or not username:
            raise SignInRefused(
                Refusal.NO_ACCOUNT, f"the ID token has no {self.username_claim!r} claim"
            )
        if self.username_claim == "email" and claims.get("email_verified") is not True:
            raise SignInRefused(Refusal.NO_ACCOUNT, "the provider has not verified the email")
        return username.strip().lower()

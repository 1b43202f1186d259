"""The OpenID Connect relying party: discovery, the authorization request, the code exchange
and id_token verification. Works with any issuer that publishes a discovery document."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gas_gateway.settings import Settings

log = logging.getLogger(__name__)

# Only public-key signatures: an HS* id_token would be signed with our own client secret.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DISCOVERY_TTL_SECONDS = 3600
CLOCK_SKEW_SECONDS = 60


class LoginFailed(Exception):
    """The identity provider's answer cannot be trusted or used; the message says why."""


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str | None


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str
    id_token: str
    access_token: str | None
    refresh_token: str | None


@dataclass
class _Provider:
    metadata: dict[str, Any]
    keys: KeySet
    fetched_at: float = field(default_factory=time.monotonic)


class OidcClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._provider: _Provider | None = None
        self._lock = asyncio.Lock()

    async def _discover(self, *, refresh: bool = False) -> _Provider:
        async with self._lock:
            stale = (
                self._provider is None
                or refresh
                or time.monotonic() - self._provider.fetched_at > DISCOVERY_TTL_SECONDS
            )
            if stale:
                self._provider = await self._fetch_provider()
            assert self._provider is not None
            return self._provider

    async def _fetch_provider(self) -> _Provider:
        url = f"{self._settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            metadata = response.json()
            jwks = await self._http.get(metadata["jwks_uri"])
            jwks.raise_for_status()
        except (httpx.HTTPError, KeyError, ValueError) as error:
            raise LoginFailed(f"the identity provider at {url} did not answer: {error}") from error
        if metadata.get("issuer") != self._settings.oidc_issuer:
            raise LoginFailed(
                f"the identity provider calls itself {metadata.get('issuer')!r}, "
                f"not {self._settings.oidc_issuer!r} (GAS_GATEWAY_OIDC_ISSUER)"
            )
        return _Provider(metadata=metadata, keys=KeySet.import_key_set(jwks.json()))

    async def authorization_request(self) -> AuthorizationRequest:
        provider = await self._discover()
        settings = self._settings
        state, nonce = generate_token(32), generate_token(32)
        code_verifier = generate_token(64) if settings.oidc_use_pkce else None
        pkce = (
            {
                "code_challenge": create_s256_code_challenge(code_verifier),
                "code_challenge_method": "S256",
            }
            if code_verifier
            else {}
        )
        url = prepare_grant_uri(
            provider.metadata["authorization_endpoint"],
            client_id=settings.oidc_client_id,
            response_type="code",
            redirect_uri=settings.redirect_uri,
            scope=settings.oidc_scopes,
            state=state,
            nonce=nonce,
            **pkce,
            **settings.oidc_extra_authorize_params,
        )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=code_verifier)

    async def complete(self, *, code: str, nonce: str, code_verifier: str | None) -> Identity:
        """Exchange the code, verify the id_token and read the user's profile."""
        provider = await self._discover()
        token = await self._exchange_code(provider, code=code, code_verifier=code_verifier)
        id_token = token.get("id_token")
        if not id_token:
            raise LoginFailed("the identity provider sent no id_token (is 'openid' in the scopes?)")
        claims = await self._verify_id_token(id_token, nonce=nonce)
        access_token = token.get("access_token")
        profile = await self._userinfo(provider, access_token) if access_token else {}
        if profile and profile.get("sub") != claims["sub"]:
            raise LoginFailed("userinfo describes a different user than the id_token")
        merged = {**claims, **profile}
        return Identity(
            issuer=claims["iss"],
            subject=claims["sub"],
            email=merged.get("email"),
            email_verified=bool(merged.get("email_verified", False)),
            name=str(merged.get("name") or merged.get("preferred_username") or ""),
            id_token=id_token,
            access_token=access_token,
            refresh_token=token.get("refresh_token"),
        )

    async def _exchange_code(
        self, provider: _Provider, *, code: str, code_verifier: str | None
    ) -> dict[str, Any]:
        settings = self._settings
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.redirect_uri,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        try:
            response = await self._http.post(
                provider.metadata["token_endpoint"],
                data=form,
                auth=(settings.oidc_client_id, settings.oidc_client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise LoginFailed(f"the identity provider's token endpoint failed: {error}") from error
        if response.status_code != 200:
            raise LoginFailed(
                f"the identity provider refused the code ({response.status_code}): "
                f"{response.text[:300]}"
            )
        return dict(response.json())

    async def _verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        provider = await self._discover()
        algorithms = sorted(
            ASYMMETRIC_ALGORITHMS.intersection(
                provider.metadata.get("id_token_signing_alg_values_supported", ["RS256"])
            )
        )
        try:
            decoded = jwt.decode(id_token, provider.keys, algorithms=algorithms)
        except JoseError:
            # The provider may have rotated its keys since we fetched them: look once more.
            provider = await self._discover(refresh=True)
            try:
                decoded = jwt.decode(id_token, provider.keys, algorithms=algorithms)
            except JoseError as error:
                raise LoginFailed(f"the id_token signature does not verify: {error}") from error
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": self._settings.oidc_issuer},
            aud={"essential": True, "value": self._settings.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as error:
            raise LoginFailed(f"the id_token was refused: {error}") from error
        return dict(decoded.claims)

    async def _userinfo(self, provider: _Provider, access_token: str) -> dict[str, Any]:
        endpoint = provider.metadata.get("userinfo_endpoint")
        if not endpoint:
            return {}
        response = await self._http.get(
            endpoint, headers={"Authorization": f"Bearer {access_token}"}
        )
        if response.status_code != 200:
            log.warning("userinfo answered %s; using the id_token claims", response.status_code)
            return {}
        return dict(response.json())

    async def end_session_url(
        self, *, id_token: str | None, post_logout_redirect_uri: str
    ) -> str | None:
        """Where to send the browser to sign out at the provider too (RP-initiated logout)."""
        try:
            provider = await self._discover()
        except LoginFailed:
            return None
        endpoint = provider.metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        params = {
            "client_id": self._settings.oidc_client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        if id_token:
            params["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(params)}"

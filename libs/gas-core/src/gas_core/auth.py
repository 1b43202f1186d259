"""The short-lived internal JWT the gateway attaches to every request it forwards.

HS256 with the shared ``GAS_INTERNAL_JWT_SECRET``; audience ``gas-internal``; claims
``sub`` (user id), ``tier`` and optionally ``email``. Internal services verify it and never
see the user's OIDC tokens or API tokens.

Services calling each other (e.g. the notifier asking the gateway for a user's email) use a
*service token*: the same secret, audience ``gas-service``, ``sub`` = the calling service's
name. The two audiences never verify as each other, so a user's forwarded token cannot call a
service-only endpoint.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import SecretStr

from gas_core.tiers import Tier

ISSUER = "gas-gateway"
AUDIENCE = "gas-internal"
SERVICE_AUDIENCE = "gas-service"
ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 60
CLOCK_SKEW_SECONDS = 10


class InvalidInternalToken(Exception):
    """The token is missing, forged, expired or for someone else."""


@dataclass(frozen=True)
class InternalIdentity:
    user_id: str
    tier: Tier
    email: str | None = None


def mint_internal_token(
    identity: InternalIdentity, secret: SecretStr, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> str:
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": identity.user_id,
        "tier": identity.tier.value,
    }
    if identity.email:
        claims["email"] = identity.email
    return _mint(claims, audience=AUDIENCE, secret=secret, ttl_seconds=ttl_seconds)


def verify_internal_token(token: str, secret: SecretStr) -> InternalIdentity:
    claims = _verify(token, secret=secret, audience=AUDIENCE, issuer=ISSUER)
    try:
        return InternalIdentity(
            user_id=str(claims["sub"]), tier=Tier(claims["tier"]), email=claims.get("email")
        )
    except (KeyError, ValueError) as error:
        raise InvalidInternalToken(str(error)) from error


def mint_service_token(
    service: str, secret: SecretStr, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> str:
    """A token for ``service`` to call another service's service-only endpoints."""
    claims: dict[str, object] = {"iss": service, "sub": service}
    return _mint(claims, audience=SERVICE_AUDIENCE, secret=secret, ttl_seconds=ttl_seconds)


def verify_service_token(token: str, secret: SecretStr) -> str:
    """The calling service's name; raises :class:`InvalidInternalToken`."""
    return str(_verify(token, secret=secret, audience=SERVICE_AUDIENCE)["sub"])


def _mint(claims: dict[str, object], *, audience: str, secret: SecretStr, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {
        **claims,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret.get_secret_value(), algorithm=ALGORITHM)


def _verify(
    token: str, *, secret: SecretStr, audience: str, issuer: str | None = None
) -> dict[str, Any]:
    required = ["exp", "iat", "sub", "aud", *(["iss"] if issuer else [])]
    try:
        return dict(
            jwt.decode(
                token,
                secret.get_secret_value(),
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": required},
            )
        )
    except jwt.PyJWTError as error:
        raise InvalidInternalToken(str(error)) from error

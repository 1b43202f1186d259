"""Looking a user up at the gateway, for the workers that act on a user's behalf (notifier:
the address to mail; archiver: the tier right now, not the tier the job was created with).

The gateway answers ``GET /internal/users/{user_id}`` on its internal port
(``GAS_GATEWAY_INTERNAL_PORT``) to callers with a service token
(:func:`gas_core.auth.mint_service_token`, sent as ``Authorization: Bearer``).
"""

from __future__ import annotations

from typing import Protocol

import httpx
from pydantic import BaseModel, SecretStr

from gas_core.auth import mint_service_token
from gas_core.tiers import Tier

# The detail of the internal API's 404 for a user it does not know. Any other 404 means the
# caller is not talking to the internal API (e.g. pointed at the public port, which has none).
UNKNOWN_USER = "no such user"


class Account(BaseModel):
    id: str
    email: str
    name: str
    tier: Tier


class AccountLookupFailed(Exception):
    """The gateway did not answer; the caller should retry later."""


class Accounts(Protocol):
    async def get(self, user_id: str) -> Account | None: ...


class GatewayAccounts:
    """:class:`Accounts` over the gateway's internal API; ``None`` for a user it does not know."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        gateway_url: str,
        service: str,
        secret: SecretStr,
    ) -> None:
        self._http = http
        self._gateway_url = gateway_url.rstrip("/")
        self._service = service
        self._secret = secret

    async def get(self, user_id: str) -> Account | None:
        token = mint_service_token(self._service, self._secret)
        try:
            response = await self._http.get(
                f"{self._gateway_url}/internal/users/{user_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            raise AccountLookupFailed(f"gateway unreachable: {error}") from error
        if response.status_code == httpx.codes.NOT_FOUND and _detail(response) == UNKNOWN_USER:
            return None
        if response.status_code == httpx.codes.NOT_FOUND:
            raise AccountLookupFailed(
                f"{self._gateway_url} has no internal API (404 for /internal/users/...): "
                f"point GAS_{self._service.upper()}_GATEWAY_URL at the gateway's internal port "
                "(GAS_GATEWAY_INTERNAL_PORT), not its public one"
            )
        if response.status_code != httpx.codes.OK:
            raise AccountLookupFailed(
                f"gateway answered {response.status_code}: {response.text[:200]}"
            )
        return Account.model_validate_json(response.content)


def _detail(response: httpx.Response) -> object:
    try:
        return response.json().get("detail")
    except (ValueError, AttributeError):
        return None

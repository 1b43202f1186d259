"""The relying party against a small in-memory provider (httpx MockTransport): the id_token
checks that keep a forged or replayed login out."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from gas_gateway.oidc import LoginFailed, OidcClient
from gas_gateway.settings import Settings

ISSUER = "https://idp.example.org"
CLIENT_ID = "gas-gateway"


class FakeProvider:
    """Discovery, JWKS and a token endpoint that returns whatever id_token the test sets."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
        self.id_token = ""
        self.token_requests: list[dict[str, list[str]]] = []

    def sign(self, key: Any = None, alg: str = "RS256", **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "u1", "iat": now, "exp": now + 300}
        claims.update(overrides)
        return jwt.encode({"alg": alg, "kid": "k1"}, claims, key or self.key)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "HS256"],
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        if path == "/token":
            self.token_requests.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json={"id_token": self.id_token, "token_type": "Bearer"})
        return httpx.Response(404)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


def client(provider: FakeProvider, **settings: Any) -> OidcClient:
    config = Settings(
        oidc_issuer=ISSUER,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="s3cr3t-for-tests",  # type: ignore[arg-type]
        **settings,
    )
    return OidcClient(config, httpx.AsyncClient(transport=httpx.MockTransport(provider.handle)))


async def test_the_authorization_request_carries_state_nonce_pkce_and_extras(
    provider: FakeProvider,
) -> None:
    oidc = client(provider, oidc_extra_authorize_params={"prompt": "login"})
    request = await oidc.authorization_request()
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert query["state"] == request.state and query["nonce"] == request.nonce
    assert query["code_challenge_method"] == "S256" and request.code_verifier
    assert query["prompt"] == "login" and query["response_type"] == "code"

    without_pkce = await client(provider, oidc_use_pkce=False).authorization_request()
    assert "code_challenge" not in without_pkce.url and without_pkce.code_verifier is None


async def test_a_valid_id_token_signs_the_user_in(provider: FakeProvider) -> None:
    provider.id_token = provider.sign(nonce="n1", email="a@example.org", email_verified=True)
    identity = await client(provider).complete(code="c", nonce="n1", code_verifier="v")
    assert (identity.issuer, identity.subject, identity.email) == (ISSUER, "u1", "a@example.org")
    assert provider.token_requests[0]["code_verifier"] == ["v"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"nonce": "replayed"}, "nonce"),
        ({"nonce": "n1", "aud": "another-client"}, "aud"),
        ({"nonce": "n1", "iss": "https://evil.example"}, "iss"),
        ({"nonce": "n1", "exp": int(time.time()) - 3600}, "exp"),
    ],
)
async def test_id_tokens_for_someone_else_are_refused(
    provider: FakeProvider, overrides: dict[str, Any], reason: str
) -> None:
    provider.id_token = provider.sign(**overrides)
    with pytest.raises(LoginFailed, match=reason):
        await client(provider).complete(code="c", nonce="n1", code_verifier=None)


async def test_forged_signatures_are_refused(provider: FakeProvider) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    provider.id_token = provider.sign(key=stranger, nonce="n1")
    with pytest.raises(LoginFailed, match="signature"):
        await client(provider).complete(code="c", nonce="n1", code_verifier=None)

    # HS256 with the client secret: anyone holding the secret could mint it; never accepted.
    provider.id_token = provider.sign(
        key=OctKey.import_key("s3cr3t-for-tests"), alg="HS256", nonce="n1"
    )
    with pytest.raises(LoginFailed):
        await client(provider).complete(code="c", nonce="n1", code_verifier=None)

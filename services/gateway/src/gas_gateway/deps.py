"""FastAPI dependencies: settings, database, adapters and who is calling."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import httpx
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from gas_core.auth import InvalidInternalToken, verify_service_token
from gas_gateway import accounts, sessions
from gas_gateway.accounts import User
from gas_gateway.oidc import OidcClient
from gas_gateway.outbox import OutboxRelay
from gas_gateway.payments import PaymentProvider
from gas_gateway.security import Cookies, csrf_problem
from gas_gateway.settings import Settings

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="API token",
    description="A personal API token (POST /api/tokens), as `Authorization: Bearer gas_...`.",
)
session_cookie_scheme = APIKeyCookie(
    name="gas_session",
    auto_error=False,
    scheme_name="Browser session",
    description="Set by /auth/login; unsafe methods also need the X-CSRF-Token header.",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def get_http(request: Request) -> httpx.AsyncClient:
    http: httpx.AsyncClient = request.app.state.http
    return http


def get_oidc(request: Request) -> OidcClient:
    oidc: OidcClient = request.app.state.oidc
    return oidc


def get_payments(request: Request) -> PaymentProvider:
    payments: PaymentProvider = request.app.state.payments
    return payments


def get_outbox(request: Request) -> OutboxRelay:
    outbox: OutboxRelay = request.app.state.outbox
    return outbox


def get_cookies(request: Request) -> Cookies:
    cookies: Cookies = request.app.state.cookies
    return cookies


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
OidcDep = Annotated[OidcClient, Depends(get_oidc)]
PaymentsDep = Annotated[PaymentProvider, Depends(get_payments)]
OutboxDep = Annotated[OutboxRelay, Depends(get_outbox)]
CookiesDep = Annotated[Cookies, Depends(get_cookies)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_current_user(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    cookies: CookiesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _cookie: Annotated[str | None, Depends(session_cookie_scheme)],
) -> User:
    if bearer is not None:
        user = await accounts.user_for_token(pool, bearer.credentials)
        if user is None:
            raise _unauthorized("this API token is unknown or revoked; create a new one")
        return user
    session_id = request.cookies.get(cookies.session)
    if not session_id:
        raise _unauthorized(
            "not signed in: log in at /auth/login, or send Authorization: Bearer <API token>"
        )
    session = await sessions.get_session(pool, session_id)
    if session is None:
        raise _unauthorized("your session has ended; log in again at /auth/login")
    problem = csrf_problem(
        request, expected_token=session.csrf_token, public_url=settings.public_url
    )
    if problem:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=problem)
    user = await accounts.get_user(pool, session.user_id)
    if user is None:
        raise _unauthorized("this account no longer exists")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_calling_service(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    if bearer is None:
        raise _unauthorized("service token required")
    try:
        return verify_service_token(bearer.credentials, settings.stack.internal_jwt_secret)
    except InvalidInternalToken as error:
        raise _unauthorized(f"invalid service token: {error}") from error


CallingService = Annotated[str, Depends(get_calling_service)]

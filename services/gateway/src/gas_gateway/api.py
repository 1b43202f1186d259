"""Routes of the public port: ``/auth`` (browser login) and ``/api`` (the public API). The
services' ``/internal`` API is served on its own port (:mod:`gas_gateway.internal`)."""

from __future__ import annotations

import logging
from html import escape
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_gateway import accounts, service, sessions
from gas_gateway.deps import (
    CookiesDep,
    CurrentUser,
    HttpDep,
    OidcDep,
    OutboxDep,
    PaymentsDep,
    PoolDep,
    SettingsDep,
)
from gas_gateway.forwarding import forward_to_jobs
from gas_gateway.models import (
    LoggedOut,
    Problem,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
    UpgradeRequest,
    UserPublic,
)
from gas_gateway.oidc import LoginFailed
from gas_gateway.security import csrf_problem, safe_return_path

log = logging.getLogger(__name__)

auth_router = APIRouter(prefix="/auth", tags=["login"])
api_router = APIRouter(prefix="/api")


def _login_error(message: str, status_code: int = 400) -> HTMLResponse:
    return HTMLResponse(
        f"<!DOCTYPE html><title>Sign-in failed</title><h1>Sign-in failed</h1>"
        f"<p>{escape(message)}</p><p><a href='/auth/login'>Try again</a></p>",
        status_code=status_code,
    )


HTML_PAGE: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
LOGIN_FAILED: dict[str, Any] = {
    "description": "Sign-in failed: a page that says why, with a link to try again",
    "content": HTML_PAGE,
}
NOT_JSON: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON", "model": Problem}
}


@auth_router.get(
    "/login",
    summary="Start signing in at the identity provider",
    response_class=RedirectResponse,
    status_code=status.HTTP_302_FOUND,
    responses={
        302: {"description": "To the identity provider's sign-in page"},
        503: {
            "description": "The identity provider (a page that says so) or the account "
            "database is not answering",
            "content": {
                **HTML_PAGE,
                "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}},
            },
        },
    },
)
async def login(
    pool: PoolDep, oidc: OidcDep, cookies: CookiesDep, next: str | None = None
) -> Response:
    try:
        authorization = await oidc.authorization_request()
    except LoginFailed as error:
        return _login_error(str(error), status.HTTP_503_SERVICE_UNAVAILABLE)
    await sessions.save_login_request(
        pool,
        sessions.LoginRequest(
            state=authorization.state,
            nonce=authorization.nonce,
            code_verifier=authorization.code_verifier,
            return_to=safe_return_path(next),
        ),
    )
    response = RedirectResponse(authorization.url, status_code=status.HTTP_302_FOUND)
    cookies.set_login(response, authorization.state)
    return response


@auth_router.get(
    "/callback",
    summary="Where the identity provider sends the browser back",
    response_class=RedirectResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    responses={
        303: {"description": "Signed in: to the page the sign-in started from"},
        400: LOGIN_FAILED,
    },
)
async def callback(
    request: Request,
    pool: PoolDep,
    oidc: OidcDep,
    cookies: CookiesDep,
    settings: SettingsDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    if error:
        return _login_error(f"the identity provider said: {error_description or error}")
    if not code or not state or request.cookies.get(cookies.login) != state:
        return _login_error("this sign-in link is not from this browser or has expired")
    pending = await sessions.pop_login_request(pool, state)
    if pending is None:
        return _login_error("this sign-in has expired or was already used")
    try:
        identity = await oidc.complete(
            code=code, nonce=pending.nonce, code_verifier=pending.code_verifier
        )
        user = await service.user_for_identity(pool, identity=identity)
    except (LoginFailed, service.AccountConflict) as failure:
        log.warning("sign-in failed: %s", failure)
        return _login_error(str(failure))
    previous = request.cookies.get(cookies.session)
    if previous:
        await sessions.delete_session(pool, previous)
    session_id, session = await sessions.create_session(
        pool,
        user_id=user.id,
        ttl_seconds=settings.session_ttl_seconds,
        id_token=identity.id_token,
        access_token=identity.access_token,
        refresh_token=identity.refresh_token,
    )
    response = RedirectResponse(pending.return_to, status_code=status.HTTP_303_SEE_OTHER)
    cookies.clear_login(response)
    cookies.set_session(
        response,
        session_id=session_id,
        csrf_token=session.csrf_token,
        max_age=settings.session_ttl_seconds,
    )
    log.info("signed in", extra={"user_id": user.id})
    return response


@auth_router.post(
    "/logout",
    summary="Sign out here and at the identity provider",
    description="Needs the X-CSRF-Token header. Answers 303 to the provider's logout page, "
    'or 200 {"redirect": <that page>} when the request accepts application/json.',
    responses={
        200: {"description": "Signed out; go to `redirect`", "model": LoggedOut},
        303: {"description": "Signed out: to the identity provider's logout page"},
        403: {"description": "The X-CSRF-Token header is missing or wrong", "model": Problem},
    },
)
async def logout(
    request: Request, pool: PoolDep, oidc: OidcDep, cookies: CookiesDep, settings: SettingsDep
) -> Response:
    session_id = request.cookies.get(cookies.session)
    session = await sessions.get_session(pool, session_id) if session_id else None
    home = f"{settings.public_url.rstrip('/')}/"
    if session_id and session:
        problem = csrf_problem(
            request, expected_token=session.csrf_token, public_url=settings.public_url
        )
        if problem:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=problem)
        await sessions.delete_session(pool, session_id)
        log.info("signed out", extra={"user_id": session.user_id})
    provider_logout = await oidc.end_session_url(
        id_token=session.id_token if session else None, post_logout_redirect_uri=home
    )
    target = provider_logout or home
    response: Response
    if "application/json" in request.headers.get("accept", ""):
        # The web app signs out with fetch, which cannot follow a redirect to the provider's
        # page in the window; it gets the address and goes there itself.
        response = JSONResponse({"redirect": target})
    else:
        response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    cookies.clear_session(response)
    return response


@api_router.get("/me", response_model=UserPublic, tags=["account"])
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)


@api_router.post(
    "/me/upgrade",
    response_model=UserPublic,
    tags=["account"],
    responses={
        **NOT_JSON,
        402: {"description": "The card was declined", "model": Problem},
        409: {"description": "Already premium", "model": Problem},
    },
)
async def upgrade(
    body: UpgradeRequest,
    user: CurrentUser,
    pool: PoolDep,
    payments: PaymentsDep,
    outbox: OutboxDep,
    settings: SettingsDep,
) -> UserPublic:
    try:
        upgraded = await service.upgrade(
            pool,
            payments=payments,
            user=user,
            card_number=body.card_number,
            topic=settings.stack.account_events_topic,
        )
    except service.PaymentDeclined as declined:
        raise HTTPException(status.HTTP_402_PAYMENT_REQUIRED, detail=str(declined)) from declined
    except service.AlreadyPremium as already:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(already)) from already
    await outbox.try_publish()
    return UserPublic.of(upgraded)


@api_router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["tokens"],
    responses=NOT_JSON,
)
async def create_token(body: TokenCreate, user: CurrentUser, pool: PoolDep) -> TokenCreated:
    token, secret = await service.create_token(pool, user=user, name=body.name)
    return TokenCreated(**TokenPublic.of(token).model_dump(), token=secret)


@api_router.get("/tokens", response_model=TokensPublic, tags=["tokens"])
async def list_tokens(user: CurrentUser, pool: PoolDep) -> TokensPublic:
    tokens = await accounts.list_tokens(pool, user_id=user.id)
    return TokensPublic(data=[TokenPublic.of(token) for token in tokens], count=len(tokens))


@api_router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["tokens"],
    responses={404: {"description": "No such token (or not yours)", "model": Problem}},
)
async def revoke_token(token_id: str, user: CurrentUser, pool: PoolDep) -> Response:
    if not await accounts.revoke_token(pool, user_id=user.id, token_id=token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such token")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Every method goes to the jobs service, which answers those it does not take with 405 and
# their Allow. The published document has the jobs API's own operations in place of these
# catch-alls (gas_gateway.openapi).
JOB_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@api_router.api_route("/jobs", methods=JOB_METHODS, include_in_schema=False)
@api_router.api_route("/jobs/{path:path}", methods=JOB_METHODS, include_in_schema=False)
async def jobs(
    request: Request, user: CurrentUser, http: HttpDep, settings: SettingsDep, path: str = ""
) -> Response:
    token = mint_internal_token(
        InternalIdentity(user_id=user.id, tier=user.tier, email=user.email),
        settings.stack.internal_jwt_secret,
    )
    return await forward_to_jobs(
        request, http=http, jobs_url=settings.jobs_url, path=path, internal_token=token
    )

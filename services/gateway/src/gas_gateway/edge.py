"""What every request meets at the public edge, before any route: security headers on every
answer, ``Cache-Control: no-store`` on API answers, a rate limit per client, and a readable
503 when the account database is down.

Rate limits are fixed one-minute windows counted in PostgreSQL (``rate_limits``), so every
gateway replica shares them and no other store is needed: one upsert per request counts the
caller's credential (API token or session cookie, hashed) and its IP together. A caller over
either limit gets ``429`` with ``Retry-After`` (the seconds left in the window). When the
database cannot count, requests pass (the limit fails open) and the failure is logged.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

import asyncpg
from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gas_gateway.settings import Settings

log = logging.getLogger(__name__)

LIMITED_PREFIXES = ("/api/", "/auth/")
WINDOW_SECONDS = 60
DATABASE_DOWN = (
    "The account database is not answering right now; nothing was changed. Try again in a minute."
)
# What a database outage looks like to asyncpg, as opposed to a mistake in a query: the socket
# fails (OSError: refused, reset, "Multiple exceptions: Connect call failed" when several
# addresses are tried, a timeout), the server is shutting down or starting up (57P0x, operator
# intervention), the connection broke (class 08), or the pool's connection went away under it
# (InterfaceError; InternalClientError "cannot switch to state 12; another operation is in
# progress" when a connection that broke mid-query is used again during the shutdown).
DATABASE_OUTAGES = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.TooManyConnectionsError,
)


def edge_headers(settings: Settings) -> dict[str, str]:
    """Headers every answer carries (the web app's pages add their own CSP)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if settings.secure_cookies:  # served over https
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


class EdgeHeaders:
    """Add the edge headers to every answer; API answers are never cached and, unless the
    route set its own, get a CSP that lets them run nothing and be framed by no one."""

    def __init__(self, app: ASGIApp, *, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope["path"]).startswith(LIMITED_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                json = headers.get("content-type", "").startswith("application/json")
                if api:
                    headers["Cache-Control"] = "no-store"
                headers.setdefault(
                    "Content-Security-Policy",
                    "default-src 'none'; frame-ancestors 'none'"
                    if json
                    else "frame-ancestors 'none'",
                )
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimit:
    """Count each API and sign-in request against its credential and its IP."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.per_credential = settings.rate_limit_per_credential
        self.per_ip = settings.rate_limit_per_ip
        self.trusted_proxies = settings.trusted_proxy_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        pool: asyncpg.Pool = request.app.state.pool
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        keys = {f"ip:{self.client_ip(request)}": self.per_ip}
        if credential := self.credential(request):
            keys[f"credential:{credential}"] = self.per_credential
        try:
            rows = await pool.fetch(
                """INSERT INTO rate_limits (key, window_start, hits)
                   SELECT unnest($1::text[]), $2, 1
                   ON CONFLICT (key, window_start)
                   DO UPDATE SET hits = rate_limits.hits + 1
                   RETURNING key, hits""",
                list(keys),
                window,
            )
        except Exception:  # the limit fails open: counting must never take the API down
            log.warning("rate limit not counted: the database did not answer", exc_info=True)
            await self.app(scope, receive, send)
            return
        over = [row["key"] for row in rows if row["hits"] > keys[row["key"]]]
        if not over:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        who = "this API token or session" if over[0].startswith("credential:") else "this address"
        limit = keys[over[0]]
        response = JSONResponse(
            {
                "detail": f"Too many requests from {who}: the limit is {limit} a minute. "
                f"Try again in {retry_after} s."
            },
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)

    def client_ip(self, request: Request) -> str:
        """The caller's address: behind ``trusted_proxy_hops`` proxies (the ALB), the entry they
        appended to X-Forwarded-For; otherwise the peer."""
        if self.trusted_proxies:
            hops = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
            hops = [hop for hop in hops if hop]
            if len(hops) >= self.trusted_proxies:
                return hops[-self.trusted_proxies]
        return request.client.host if request.client else "unknown"

    @staticmethod
    def credential(request: Request) -> str | None:
        """A hash of what identifies the caller: the bearer token, else the session cookie."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        secret = token if scheme.lower() == "bearer" and token else None
        if secret is None:
            secret = next(
                (value for name, value in request.cookies.items() if name.endswith("gas_session")),
                None,
            )
        return hashlib.sha256(secret.encode()).hexdigest()[:32] if secret else None


async def database_down(_: Request, error: Exception) -> JSONResponse:
    log.error("account database unreachable: %s", error)
    return JSONResponse({"detail": DATABASE_DOWN}, status_code=503, headers={"Retry-After": "30"})


def install(app: FastAPI, settings: Settings) -> None:
    """The edge's middleware (outermost last) and the database-outage answer."""
    app.add_middleware(RateLimit, settings=settings)
    app.add_middleware(EdgeHeaders, headers=edge_headers(settings))
    for outage in DATABASE_OUTAGES:
        app.add_exception_handler(outage, database_down)


async def forget_old_windows(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "DELETE FROM rate_limits WHERE window_start < $1", int(time.time() // WINDOW_SECONDS) - 1
    )

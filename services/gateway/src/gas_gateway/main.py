"""Entry point: the public gateway, and its internal API on a port of its own."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import asyncpg
import httpx
from fastapi import FastAPI

from gas_core.aws import AwsClients
from gas_core.runtime import Listener, every
from gas_core.service import Parts, run_service
from gas_gateway import edge, sessions, web
from gas_gateway.api import api_router, auth_router
from gas_gateway.db import create_pool, migrate
from gas_gateway.internal import create_internal_app
from gas_gateway.oidc import OidcClient
from gas_gateway.openapi import REFRESH_SECONDS, JobsOpenApi, public_openapi
from gas_gateway.outbox import OutboxRelay
from gas_gateway.payments import payment_provider
from gas_gateway.security import cookies_for
from gas_gateway.settings import Settings

log = logging.getLogger(__name__)
CLEANUP_INTERVAL_SECONDS = 600.0


def main() -> None:
    run_service("gateway", Settings(), build)


def create_app(
    settings: Settings, *, pool: asyncpg.Pool, http: httpx.AsyncClient, outbox: OutboxRelay
) -> FastAPI:
    app = FastAPI(
        title="GAS",
        description="Genomics Annotation Service: the public API.",
        docs_url=None,  # web.install serves /api/docs with Swagger UI's files from the build
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.http = http
    app.state.oidc = OidcClient(settings, http)
    app.state.payments = payment_provider(settings.payment_provider)
    app.state.outbox = outbox
    app.state.cookies = cookies_for(settings)
    app.include_router(auth_router)
    app.include_router(api_router)
    web.install(app, settings)
    edge.install(app, settings)
    return app


async def build(settings: Settings, clients: AwsClients, resources: AsyncExitStack) -> Parts:
    applied = await migrate(settings.database_url)
    if applied:
        log.info("database migrated", extra={"applied": applied})
    pool = await create_pool(settings.database_url)
    resources.push_async_callback(pool.close)
    http = await resources.enter_async_context(httpx.AsyncClient(timeout=30.0))
    outbox = OutboxRelay(pool, await clients.client("sns"))

    async def relay(stop: asyncio.Event) -> None:
        await every(stop, settings.outbox_interval_seconds, outbox.try_publish, what="outbox relay")

    async def forget_expired() -> None:
        await sessions.delete_expired(pool)
        await edge.forget_old_windows(pool)

    async def cleanup(stop: asyncio.Event) -> None:
        await every(stop, CLEANUP_INTERVAL_SECONDS, forget_expired, what="expired-session clean-up")

    async def database() -> object:
        return await pool.fetchval("SELECT 1")

    app = create_app(settings, pool=pool, http=http, outbox=outbox)
    jobs_openapi = JobsOpenApi(http, settings.jobs_url)
    await jobs_openapi.refresh()
    app.openapi = public_openapi(app, jobs_openapi)  # type: ignore[method-assign]

    async def refresh_jobs_openapi(stop: asyncio.Event) -> None:
        await every(stop, REFRESH_SECONDS, jobs_openapi.refresh, what="jobs OpenAPI refresh")

    return Parts(
        app=app,
        workers=(relay, cleanup, refresh_jobs_openapi),
        checks={"database": database},
        listeners=[Listener(create_internal_app(settings, pool=pool), settings.internal_port)],
    )

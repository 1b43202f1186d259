"""The internal API, served on its own port (``GAS_GATEWAY_INTERNAL_PORT``) for the other
services only: the public port has no ``/internal`` routes (it answers 404), the ingress routes
only the public port and the chart's NetworkPolicy lets only the notifier and archiver pods
reach this one. Callers authenticate with a service token (:func:`gas_core.auth.mint_service_token`).
"""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, FastAPI, HTTPException, status

from gas_core.accounts import UNKNOWN_USER
from gas_gateway import accounts, edge
from gas_gateway.deps import CallingService, PoolDep
from gas_gateway.models import UserInternal
from gas_gateway.settings import Settings

internal_router = APIRouter(prefix="/internal")


@internal_router.get("/users/{user_id}", response_model=UserInternal)
async def internal_user(user_id: str, _service: CallingService, pool: PoolDep) -> UserInternal:
    user = await accounts.get_user(pool, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_USER)
    return UserInternal.of(user)


def create_internal_app(settings: Settings, *, pool: asyncpg.Pool) -> FastAPI:
    app = FastAPI(
        title="GAS gateway internal API",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.include_router(internal_router)
    for outage in edge.DATABASE_OUTAGES:
        app.add_exception_handler(outage, edge.database_down)
    return app

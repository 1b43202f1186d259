"""Entry point: the public gateway."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from gas_core.health import health_router
from gas_core.logging import configure_logging
from gas_core.runtime import serve
from gas_gateway.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="GAS", docs_url="/api/docs", openapi_url="/api/openapi.json")

    async def jobs_ready() -> object:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(f"{settings.jobs_url}/readyz")
            response.raise_for_status()
            return response

    app.include_router(health_router({"jobs": jobs_ready}))
    return app


def main() -> None:
    settings = Settings()
    configure_logging("gateway", settings.log_level)
    asyncio.run(serve(create_app(settings), host=settings.host, port=settings.port))

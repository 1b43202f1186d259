"""Entry point: the internal job API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gas_core.aws import aws_clients
from gas_core.health import health_router, table_check
from gas_core.logging import configure_logging
from gas_core.runtime import serve
from gas_jobs.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with aws_clients(settings.aws) as clients:
            dynamodb = await clients.client("dynamodb")
            app.include_router(
                health_router({"jobs_table": table_check(dynamodb, settings.stack.jobs_table)})
            )
            yield

    return FastAPI(title="gas-jobs", lifespan=lifespan)


def main() -> None:
    settings = Settings()
    configure_logging("jobs", settings.log_level)
    asyncio.run(serve(create_app(settings), host=settings.host, port=settings.port))

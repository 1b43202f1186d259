"""Entry point: the internal job API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from gas_core.aws import aws_clients
from gas_core.health import bucket_check, health_router, table_check
from gas_core.logging import configure_logging
from gas_core.messaging import SnsPublisher, topic_arn
from gas_core.runtime import every, serve
from gas_jobs.api import router
from gas_jobs.repository import JobRepository
from gas_jobs.service import Jobs, republish_stranded_requests
from gas_jobs.settings import Settings
from gas_jobs.storage import ObjectStore


def create_app(settings: Settings) -> FastAPI:
    stack = settings.stack

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with aws_clients(settings.aws) as clients:
            dynamodb = await clients.client("dynamodb")
            s3 = await clients.client("s3")
            sns = await clients.client("sns")
            app.state.jobs = Jobs(
                repo=JobRepository(dynamodb, stack.jobs_table),
                objects=ObjectStore(s3),
                requests=SnsPublisher(sns, await topic_arn(sns, stack.job_requests_topic)),
                stack=stack,
                max_upload_bytes=settings.max_upload_bytes,
                upload_url_seconds=settings.upload_url_seconds,
                download_url_seconds=settings.download_url_seconds,
            )
            app.include_router(
                health_router(
                    {
                        "jobs_table": table_check(dynamodb, stack.jobs_table),
                        "inputs_bucket": bucket_check(s3, stack.inputs_bucket),
                    }
                )
            )
            stop = asyncio.Event()
            sweeper = asyncio.create_task(
                every(
                    stop,
                    settings.stranded_request_check_seconds,
                    partial(
                        republish_stranded_requests,
                        app.state.jobs,
                        older_than_seconds=settings.stranded_request_min_age_seconds,
                    ),
                    what="publishing stranded job requests",
                )
            )
            yield
            stop.set()
            await sweeper

    app = FastAPI(title="gas-jobs", lifespan=lifespan)
    app.include_router(router)
    return app


def main() -> None:
    settings = Settings()
    configure_logging("jobs", settings.log_level)
    asyncio.run(serve(create_app(settings), host=settings.host, port=settings.port))

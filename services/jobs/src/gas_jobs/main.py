"""Entry point: the internal job API."""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from gas_core.aws import AwsClients
from gas_core.health import bucket_check, table_check
from gas_core.messaging import SnsPublisher, topic_arn
from gas_core.runtime import every
from gas_core.service import Parts, run_service
from gas_jobs.api import router
from gas_jobs.multipart import abort_abandoned_uploads
from gas_jobs.parts import MultipartStore, UploadPolicy
from gas_jobs.repository import JobRepository
from gas_jobs.results import ResultTables
from gas_jobs.service import Jobs, republish_stranded_requests
from gas_jobs.settings import Settings
from gas_jobs.storage import ObjectStore
from gas_jobs.upload_api import router as upload_router


def main() -> None:
    run_service("jobs", Settings(), build)


def create_app() -> FastAPI:
    """The job API's routes; ``build`` gives them their state (the OpenAPI needs none)."""
    app = FastAPI(title="gas-jobs")
    app.include_router(router)
    app.include_router(upload_router)
    return app


async def build(settings: Settings, clients: AwsClients, resources: AsyncExitStack) -> Parts:
    stack = settings.stack
    cache_dir = settings.results_cache_dir or Path(
        resources.enter_context(tempfile.TemporaryDirectory(prefix="gas-jobs-results-"))
    )
    dynamodb = await clients.client("dynamodb")
    s3 = await clients.client("s3")
    sns = await clients.client("sns")
    jobs = Jobs(
        repo=JobRepository(dynamodb, stack.jobs_table),
        objects=ObjectStore(s3),
        multipart=MultipartStore(s3),
        uploads=UploadPolicy(
            threshold_bytes=settings.multipart_threshold_bytes,
            part_bytes=settings.multipart_part_bytes,
        ),
        requests=SnsPublisher(sns, await topic_arn(sns, stack.job_requests_topic)),
        stack=stack,
        max_upload_bytes=settings.max_upload_bytes,
        upload_url_seconds=settings.upload_url_seconds,
        download_url_seconds=settings.download_url_seconds,
        results=ResultTables(
            s3,
            cache_dir=cache_dir,
            cache_bytes=settings.results_cache_bytes,
            tables_in_memory=settings.results_tables_in_memory,
        ),
        events_check_seconds=settings.events_check_seconds,
        events_ping_seconds=settings.events_ping_seconds,
    )
    app = create_app()
    app.state.jobs = jobs

    async def publish_stranded_requests(stop: asyncio.Event) -> None:
        await every(
            stop,
            settings.stranded_request_check_seconds,
            partial(
                republish_stranded_requests,
                jobs,
                older_than_seconds=settings.stranded_request_min_age_seconds,
            ),
            what="publishing stranded job requests",
        )

    async def abort_abandoned(stop: asyncio.Event) -> None:
        await every(
            stop,
            settings.multipart_abandoned_check_seconds,
            partial(
                abort_abandoned_uploads,
                jobs,
                older_than_seconds=settings.multipart_abandoned_seconds,
            ),
            what="aborting abandoned multipart uploads",
        )

    return Parts(
        app=app,
        workers=(publish_stranded_requests, abort_abandoned),
        checks={
            "jobs_table": table_check(dynamodb, stack.jobs_table),
            "inputs_bucket": bucket_check(s3, stack.inputs_bucket),
            "results_bucket": bucket_check(s3, stack.results_bucket),
        },
    )

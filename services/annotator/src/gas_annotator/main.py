"""Entry point: consume job requests (and their dead letters), prepare reference bundles,
answer health probes."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from gas_annotator.bundles import Bundles
from gas_annotator.runner import EnginePool
from gas_annotator.service import Annotator, RunSettings
from gas_annotator.settings import Settings
from gas_core.aws import aws_clients
from gas_core.health import health_router, queue_check, table_check
from gas_core.jobs import JobRepository
from gas_core.logging import configure_logging
from gas_core.messaging import ConsumerOptions, SnsPublisher, SqsConsumer, queue_url, topic_arn
from gas_core.runtime import serve


async def run(settings: Settings) -> None:
    stack = settings.stack
    async with aws_clients(settings.aws) as clients:
        s3 = await clients.client("s3")
        sqs = await clients.client("sqs")
        sns = await clients.client("sns")
        dynamodb = await clients.client("dynamodb")
        bundles = Bundles(
            s3=s3,
            cache_dir=settings.bundle_cache_dir,
            reference_uri=settings.reference_uri,
            builds=settings.bundle_builds,
            builder=settings.bundle_builder,
        )
        engines = EnginePool(
            size=settings.jobs_per_process,
            cache_dir=bundles.cache_dir,
            max_jobs_per_engine=settings.engine_max_jobs,
        )
        annotator = Annotator(
            repo=JobRepository(dynamodb, stack.jobs_table),
            s3=s3,
            events=SnsPublisher(sns, await topic_arn(sns, stack.job_events_topic)),
            bundles=bundles,
            engines=engines,
            settings=RunSettings(
                results_bucket=stack.results_bucket,
                lease_seconds=settings.lease_seconds,
                progress_interval_seconds=settings.progress_interval_seconds,
                work_dir=settings.work_dir,
            ),
        )
        requests = SqsConsumer(
            sqs,
            await queue_url(sqs, stack.annotator_queue),
            annotator.handle,
            ConsumerOptions(
                concurrency=settings.jobs_per_process,
                batch_size=1,
                wait_seconds=settings.receive_wait_seconds,
                visibility_seconds=settings.visibility_seconds,
                stop_grace_seconds=settings.stop_grace_seconds,
            ),
        )
        dead_letters = SqsConsumer(
            sqs,
            await queue_url(sqs, f"{stack.annotator_queue}-dlq"),
            annotator.handle_dead_letter,
            ConsumerOptions(
                concurrency=1,
                batch_size=1,
                wait_seconds=settings.receive_wait_seconds,
                visibility_seconds=60,
            ),
        )
        app = FastAPI(title="gas-annotator", docs_url=None, redoc_url=None)
        app.include_router(
            health_router(
                {
                    "queue": queue_check(sqs, stack.annotator_queue),
                    "jobs_table": table_check(dynamodb, stack.jobs_table),
                    "bundles": bundles.check,
                }
            )
        )
        try:
            await serve(
                app,
                host=settings.host,
                port=settings.port,
                workers=(requests.run_until, dead_letters.run_until, bundles.prepare),
            )
        finally:
            await engines.close()


def main() -> None:
    settings = Settings()
    configure_logging("annotator", settings.log_level)
    asyncio.run(run(settings))

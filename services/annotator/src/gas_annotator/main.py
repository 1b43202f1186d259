"""Entry point: consume job requests (and their dead letters), prepare reference bundles,
answer health probes."""

from __future__ import annotations

from contextlib import AsyncExitStack

from gas_annotator.bundles import Bundles
from gas_annotator.repository import RunRepository
from gas_annotator.runner import EnginePool
from gas_annotator.service import Annotator, RunSettings
from gas_annotator.settings import Settings
from gas_annotator.share import SqsRequestQueue
from gas_core.aws import AwsClients
from gas_core.health import table_check
from gas_core.messaging import ConsumerOptions, SnsPublisher, queue_url, topic_arn
from gas_core.service import Consume, Parts, run_service
from gas_core.tiers import Tier


def main() -> None:
    run_service("annotator", Settings(), build)


async def build(settings: Settings, clients: AwsClients, resources: AsyncExitStack) -> Parts:
    stack = settings.stack
    sns = await clients.client("sns")
    dynamodb = await clients.client("dynamodb")
    sqs = await clients.client("sqs")
    bundles = Bundles(
        s3=await clients.client("s3"),
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
    resources.push_async_callback(engines.close)
    await engines.start()
    annotator = Annotator(
        repo=RunRepository(dynamodb, stack.jobs_table),
        s3=await clients.client("s3"),
        events=SnsPublisher(sns, await topic_arn(sns, stack.job_events_topic)),
        bundles=bundles,
        engines=engines,
        requests=SqsRequestQueue(sqs, await queue_url(sqs, stack.annotator_queue)),
        settings=RunSettings(
            results_bucket=stack.results_bucket,
            lease_seconds=settings.lease_seconds,
            progress_interval_seconds=settings.progress_interval_seconds,
            work_dir=settings.work_dir,
            scratch_reserve_bytes=settings.scratch_reserve_bytes,
            job_slots=settings.jobs_per_process,
            waiting_places=settings.waiting_requests,
            size_limits={tier: stack.size_limit_bytes(tier) for tier in Tier},
            time_limits={
                Tier.FREE: settings.free_job_seconds,
                Tier.PREMIUM: settings.premium_job_seconds,
            },
            user_share_wait_seconds=settings.user_share_wait_seconds,
        ),
    )
    requests = ConsumerOptions(
        # Beyond the slots, requests wait in the worker for a slot (gas_annotator.share).
        concurrency=settings.jobs_per_process + settings.waiting_requests,
        batch_size=1,
        wait_seconds=settings.receive_wait_seconds,
        visibility_seconds=settings.visibility_seconds,
        stop_grace_seconds=settings.stop_grace_seconds,
    )
    dead_letters = ConsumerOptions(
        concurrency=1, batch_size=1, wait_seconds=settings.receive_wait_seconds
    )
    return Parts(
        consume=[
            Consume(stack.annotator_queue, annotator.handle, requests),
            Consume(
                stack.dead_letter_queue(stack.annotator_queue),
                annotator.handle_dead_letter,
                dead_letters,
            ),
        ],
        workers=(bundles.prepare,),
        checks={"jobs_table": table_check(dynamodb, stack.jobs_table), "bundles": bundles.check},
    )

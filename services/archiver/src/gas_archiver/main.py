"""Entry point: the archiver queue (job completions, tier changes), the restore-notification
queue and the periodic restore check, plus health probes."""

from __future__ import annotations

import asyncio

import httpx

from gas_archiver.notifications import restored_objects
from gas_archiver.repository import StorageRepository
from gas_archiver.service import Archiver
from gas_archiver.settings import Settings
from gas_archiver.storage import S3ObjectStore
from gas_archiver.workers import reconcile_periodically, restore_notification_handler
from gas_core.accounts import Accounts, GatewayAccounts
from gas_core.aws import AwsClients
from gas_core.events import AccountTierChanged, Event, JobCompleted
from gas_core.health import ReadinessCheck, queue_check
from gas_core.messaging import (
    ConsumerOptions,
    Delivery,
    Handler,
    SnsPublisher,
    SqsConsumer,
    queue_url,
    topic_arn,
)
from gas_core.runtime import Worker
from gas_core.worker import run_queue_worker


def main() -> None:
    asyncio.run(run(Settings()))


async def build_archiver(clients: AwsClients, settings: Settings, accounts: Accounts) -> Archiver:
    stack = settings.stack
    sns = await clients.client("sns")
    return Archiver(
        jobs=StorageRepository(await clients.client("dynamodb"), stack.jobs_table),
        store=S3ObjectStore(await clients.client("s3")),
        accounts=accounts,
        events=SnsPublisher(sns, await topic_arn(sns, stack.job_events_topic)),
        archive_bucket=stack.archive_bucket,
        free_window_seconds=stack.free_window_seconds,
        storage_class=settings.storage_class,
        restore_days=settings.restore_days,
    )


async def run(settings: Settings) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        accounts = GatewayAccounts(
            http,
            gateway_url=settings.gateway_url,
            service="archiver",
            secret=settings.stack.internal_jwt_secret,
        )

        consumer_options = ConsumerOptions(
            visibility_seconds=settings.visibility_seconds,
            wait_seconds=settings.receive_wait_seconds,
        )

        async def make_handler(clients: AwsClients) -> Handler:
            archiver = await build_archiver(clients, settings, accounts)

            async def handle(event: Event, delivery: Delivery) -> None:
                if isinstance(event, JobCompleted) and event.job_id:
                    await archiver.on_job_completed(event.job_id)
                elif isinstance(event, AccountTierChanged):
                    await archiver.on_tier_changed(
                        user_id=event.user_id, new_tier=event.payload.new_tier
                    )

            return handle

        def restore_notifications(clients: AwsClients) -> Worker:
            async def work(stop: asyncio.Event) -> None:
                sqs = await clients.client("sqs")
                consumer = SqsConsumer(
                    sqs,
                    await queue_url(sqs, settings.stack.restore_queue),
                    restore_notification_handler(await build_archiver(clients, settings, accounts)),
                    consumer_options,
                    parse=restored_objects,
                )
                await consumer.run_until(stop)

            return work

        async def restore_queue_check(clients: AwsClients) -> dict[str, ReadinessCheck]:
            sqs = await clients.client("sqs")
            return {"restore_queue": queue_check(sqs, settings.stack.restore_queue)}

        def reconciler(clients: AwsClients) -> Worker:
            async def work(stop: asyncio.Event) -> None:
                await reconcile_periodically(
                    stop,
                    archiver=await build_archiver(clients, settings, accounts),
                    interval=settings.reconcile_interval_seconds,
                    stalled_archive_seconds=settings.stalled_archive_seconds,
                )

            return work

        await run_queue_worker(
            service="archiver",
            settings=settings,
            queue_name=settings.stack.archiver_queue,
            make_handler=make_handler,
            options=consumer_options,
            extra_checks=restore_queue_check,
            extra_workers=(restore_notifications, reconciler),
        )

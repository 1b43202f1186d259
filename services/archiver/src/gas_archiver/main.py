"""Entry point: the archiver queue (job completions, tier changes), the restore-notification
queue and the periodic restore check, plus health probes."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx

from gas_archiver.notifications import restored_objects
from gas_archiver.repository import StorageRepository
from gas_archiver.service import Archiver
from gas_archiver.settings import Settings
from gas_archiver.storage import S3ObjectStore
from gas_archiver.workers import reconcile_periodically, restore_notification_handler
from gas_core.accounts import GatewayAccounts
from gas_core.aws import AwsClients
from gas_core.events import AccountTierChanged, Event, JobCompleted
from gas_core.messaging import ConsumerOptions, Delivery, SnsPublisher, topic_arn
from gas_core.service import Consume, Parts, run_service


def main() -> None:
    run_service("archiver", Settings(), build)


async def build(settings: Settings, clients: AwsClients, resources: AsyncExitStack) -> Parts:
    stack = settings.stack
    http = await resources.enter_async_context(httpx.AsyncClient(timeout=10.0))
    sns = await clients.client("sns")
    archiver = Archiver(
        jobs=StorageRepository(await clients.client("dynamodb"), stack.jobs_table),
        store=S3ObjectStore(
            await clients.client("s3"), single_copy_limit=settings.single_copy_limit_bytes
        ),
        accounts=GatewayAccounts(
            http,
            gateway_url=settings.gateway_url,
            service="archiver",
            secret=stack.internal_jwt_secret,
        ),
        events=SnsPublisher(sns, await topic_arn(sns, stack.job_events_topic)),
        archive_bucket=stack.archive_bucket,
        free_window_seconds=stack.free_window_seconds,
        storage_class=settings.storage_class,
        restore_days=settings.restore_days,
    )

    async def handle(event: Event, _: Delivery) -> None:
        if isinstance(event, JobCompleted) and event.job_id:
            await archiver.on_job_completed(event.job_id)
        elif isinstance(event, AccountTierChanged):
            await archiver.on_tier_changed(user_id=event.user_id, new_tier=event.payload.new_tier)

    async def reconcile(stop: asyncio.Event) -> None:
        await reconcile_periodically(
            stop,
            archiver=archiver,
            interval=settings.reconcile_interval_seconds,
            stalled_archive_seconds=settings.stalled_archive_seconds,
        )

    options = ConsumerOptions(
        visibility_seconds=settings.visibility_seconds,
        wait_seconds=settings.receive_wait_seconds,
    )
    return Parts(
        consume=[
            Consume(stack.archiver_queue, handle, options),
            Consume(
                stack.restore_queue,
                restore_notification_handler(archiver),
                options,
                parse=restored_objects,
            ),
        ],
        workers=(reconcile,),
    )

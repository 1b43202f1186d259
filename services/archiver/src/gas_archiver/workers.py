"""The archiver's two loops besides its main queue: S3 restore notifications, and the
periodic check of RESTORING jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from gas_archiver.notifications import UnreadableNotification, restored_objects
from gas_archiver.service import ARCHIVING_SINCE, Archiver
from gas_core.jobs import utc_timestamp

log = logging.getLogger(__name__)


async def consume_restore_notifications(
    stop: asyncio.Event,
    *,
    sqs: Any,
    queue_url: str,
    archiver: Archiver,
    visibility_seconds: int,
    wait_seconds: int = 10,
) -> None:
    """S3's own messages, not our event envelope, so not the shared consumer: a message is
    deleted once every restore it names is handled; a failure leaves it to come back, and
    after the queue's maxReceiveCount to go to the dead-letter queue."""
    log.info("consuming restore notifications from %s", queue_url)
    while not stop.is_set():
        receive = asyncio.ensure_future(
            sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_seconds,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not receive.done():
            receive.cancel()  # whatever it would have returned comes back after its timeout
            break
        try:
            messages = receive.result().get("Messages", [])
        except Exception:
            log.exception("could not receive restore notifications; retrying shortly")
            await _sleep_unless(stop, 2.0)
            continue
        for message in messages:
            if await _handle(message, archiver):
                await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


async def _handle(message: dict[str, Any], archiver: Archiver) -> bool:
    try:
        for restored in restored_objects(message["Body"]):
            await archiver.on_restore_completed(bucket=restored.bucket, key=restored.key)
    except UnreadableNotification as error:
        log.error("unreadable restore notification left for the dead-letter queue: %s", error)
        return False
    except Exception:
        log.exception("restore notification not handled; it comes back later")
        return False
    return True


async def reconcile_periodically(
    stop: asyncio.Event,
    *,
    archiver: Archiver,
    dynamodb: Any,
    jobs_table: str,
    interval: float,
    stalled_archive_seconds: float,
) -> None:
    while not stop.is_set():
        try:
            await archiver.reconcile(restoring_job_ids(dynamodb, jobs_table))
            cutoff = utc_timestamp(datetime.now(UTC) - timedelta(seconds=stalled_archive_seconds))
            await archiver.resume_stalled_archives(
                stalled_archive_job_ids(dynamodb, jobs_table, started_before=cutoff)
            )
        except Exception:
            log.exception("reconciliation pass failed; trying again next time")
        await _sleep_unless(stop, interval)


def restoring_job_ids(dynamodb: Any, table: str) -> AsyncIterator[str]:
    """Ids of jobs whose storage is RESTORING."""
    return _job_ids(
        dynamodb,
        table,
        "#storage = :restoring",
        {"#storage": "storage"},
        {":restoring": {"S": "RESTORING"}},
    )


def stalled_archive_job_ids(
    dynamodb: Any, table: str, *, started_before: str
) -> AsyncIterator[str]:
    """Ids of jobs ARCHIVING since before ``started_before``."""
    return _job_ids(
        dynamodb,
        table,
        "#storage = :archiving AND #since < :cutoff",
        {"#storage": "storage", "#since": ARCHIVING_SINCE},
        {":archiving": {"S": "ARCHIVING"}, ":cutoff": {"S": started_before}},
    )


async def _job_ids(
    dynamodb: Any,
    table: str,
    condition: str,
    names: dict[str, str],
    values: dict[str, dict[str, str]],
) -> AsyncIterator[str]:
    """A filtered scan: fine while restores and stalled archives are rare and the table is
    small; a sparse GSI on ``storage`` would make it a query."""
    start = None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": "job_id",
            "FilterExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = await dynamodb.scan(**kwargs)
        for item in response.get("Items", []):
            yield str(item["job_id"]["S"])
        start = response.get("LastEvaluatedKey")
        if not start:
            return


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)

"""The archiver's work besides its main queue: handling S3 restore notifications, and the
periodic check of RESTORING jobs and stalled archives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gas_archiver.notifications import RestoredObject
from gas_archiver.service import ARCHIVING_SINCE, Archiver
from gas_core.jobs import utc_timestamp
from gas_core.messaging import Delivery

log = logging.getLogger(__name__)


def restore_notification_handler(
    archiver: Archiver,
) -> Callable[[list[RestoredObject], Delivery], Awaitable[None]]:
    """S3's own messages (parsed by ``restored_objects``), not our event envelope: a message
    is deleted once every restore it names is handled; a failure leaves it to come back."""

    async def handle(restored: list[RestoredObject], delivery: Delivery) -> None:
        for obj in restored:
            await archiver.on_restore_completed(bucket=obj.bucket, key=obj.key)

    return handle


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

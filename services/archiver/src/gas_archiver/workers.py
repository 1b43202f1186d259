"""The archiver's work besides its main queue: handling S3 restore notifications, and the
periodic check of RESTORING jobs and stalled archives."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gas_archiver.notifications import RestoredObject
from gas_archiver.service import Archiver
from gas_core.messaging import Delivery
from gas_core.runtime import every


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
    stop: asyncio.Event, *, archiver: Archiver, interval: float, stalled_archive_seconds: float
) -> None:
    await every(
        stop,
        interval,
        lambda: archiver.reconcile(stalled_archive_seconds=stalled_archive_seconds),
        what="reconciliation pass",
    )

"""The per-user share of a worker's job slots, and handing a request back to the queue.

A user may run at most ``slots - 1`` jobs at once in one worker (one, when the worker has a
single slot), so a burst of one user's jobs always leaves a slot for someone else's. The
worker receives one message more than it has slots: that one may wait in the worker for a
slot its user may take (so a lone user's next job starts the moment the last one ends).
Any other request that cannot start is not held (it would burn its visibility timeout)
and not released with a visibility change (every receive counts towards the dead-letter
queue's ``maxReceiveCount``, so a long burst would dead-letter its own jobs): a fresh copy
is sent to the queue with a short delay and the received one is deleted. The job stays
QUEUED with its original ``queued_at`` throughout.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Protocol

from gas_core.events import JobRequested
from gas_core.tracing import inject

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueTypeDef


def jobs_per_user(slots: int) -> int:
    return max(1, slots - 1)


class UserShare:
    """Which users run how many jobs in this worker, and the one request waiting for a slot."""

    def __init__(self, *, slots: int) -> None:
        self.slots = slots
        self.limit = jobs_per_user(slots)
        self._running: collections.Counter[str] = collections.Counter()
        self._changed = asyncio.Event()
        self._waiting = False

    def _may_run(self, user_id: str) -> bool:
        return self._running.total() < self.slots and self._running[user_id] < self.limit

    def take(self, user_id: str) -> bool:
        """Count a job of ``user_id`` as running, if a slot is free and within their share."""
        if not self._may_run(user_id):
            return False
        self._running[user_id] += 1
        return True

    @property
    def someone_waits(self) -> bool:
        return self._waiting

    async def wait_and_take(self, user_id: str) -> None:
        """Be the request that waits here until ``user_id`` may run a job, then take it."""
        self._waiting = True
        try:
            while not self._may_run(user_id):
                self._changed.clear()
                await self._changed.wait()
            self._running[user_id] += 1
        finally:
            self._waiting = False

    def give_back(self, user_id: str) -> None:
        self._running[user_id] -= 1
        if self._running[user_id] <= 0:
            del self._running[user_id]
        self._changed.set()


class RequestQueue(Protocol):
    async def send_later(self, request: JobRequested, *, delay_seconds: int) -> None: ...


class SqsRequestQueue:
    """Puts a job request back on the annotator queue (with the current trace context)."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    async def send_later(self, request: JobRequested, *, delay_seconds: int) -> None:
        values: dict[str, str] = {}
        inject(values)
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            key: {"DataType": "String", "StringValue": value} for key, value in values.items()
        }
        await self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=request.model_dump_json(),
            DelaySeconds=min(900, delay_seconds),
            MessageAttributes=attributes,
        )

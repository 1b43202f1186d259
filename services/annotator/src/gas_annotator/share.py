"""The per-user share of a worker's job slots, and handing a request back to the queue.

A user may run at most ``slots - 1`` jobs at once in one worker (one, when the worker has a
single slot), so a burst of one user's jobs always leaves a slot for someone else's. The
worker receives more requests than it has slots: the extra ones wait in the worker (their
visibility kept extended) for a slot their user may take, and when a slot frees it goes to
the waiting request whose user runs the fewest jobs, so users take turns. One user may fill
all but one of the waiting places, so another user's request always finds one.

A request that finds no place is not held (it would burn its visibility timeout) and not
released with a visibility change (every receive counts towards the dead-letter queue's
``maxReceiveCount``, so a long burst would dead-letter its own jobs): a fresh copy is sent
to the queue with a short delay and the received one is deleted. The job stays QUEUED with
its original ``queued_at`` throughout.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gas_core.events import JobRequested
from gas_core.tracing import inject

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueTypeDef


def jobs_per_user(slots: int) -> int:
    return max(1, slots - 1)


@dataclass(eq=False)
class _Waiter:
    user_id: str
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class UserShare:
    """Which users run how many jobs in this worker, and the requests waiting for a slot."""

    def __init__(self, *, slots: int, waiting_places: int) -> None:
        self.slots = slots
        self.limit = jobs_per_user(slots)
        self.waiting_places = waiting_places
        self._running: collections.Counter[str] = collections.Counter()
        self._waiters: list[_Waiter] = []  # in arrival order

    def _may_run(self, user_id: str) -> bool:
        return self._running.total() < self.slots and self._running[user_id] < self.limit

    def take(self, user_id: str) -> bool:
        """Count a job of ``user_id`` as running, if a slot is free and within their share.
        (A waiting request that could take a free slot has already been given it.)"""
        if not self._may_run(user_id):
            return False
        self._running[user_id] += 1
        return True

    def may_wait(self, user_id: str) -> bool:
        mine = sum(waiter.user_id == user_id for waiter in self._waiters)
        return len(self._waiters) < self.waiting_places and mine < max(1, self.waiting_places - 1)

    async def wait_and_take(self, user_id: str) -> None:
        """Wait here until a slot is given to this request (then it counts as running)."""
        waiter = _Waiter(user_id)
        self._waiters.append(waiter)
        try:
            await waiter.granted
        except BaseException:
            granted = waiter.granted.done() and not waiter.granted.cancelled()
            if granted:  # given a slot just as it was cancelled: hand it on
                self.give_back(user_id)
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def give_back(self, user_id: str) -> None:
        self._running[user_id] -= 1
        if self._running[user_id] <= 0:
            del self._running[user_id]
        self._hand_out()

    def _hand_out(self) -> None:
        """Give free slots to waiting requests, the user running the fewest jobs first."""
        # A cancelled request's future is done before its task gets to leave the list.
        self._waiters = [waiter for waiter in self._waiters if not waiter.granted.done()]
        while self._running.total() < self.slots:
            eligible = [w for w in self._waiters if self._running[w.user_id] < self.limit]
            if not eligible:
                return
            chosen = min(eligible, key=lambda waiter: self._running[waiter.user_id])
            self._waiters.remove(chosen)
            self._running[chosen.user_id] += 1
            chosen.granted.set_result(None)


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

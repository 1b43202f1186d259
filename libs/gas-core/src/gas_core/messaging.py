"""Publishing events to SNS and consuming them from SQS.

The consumer's contract with a handler:

* return normally → the message is deleted;
* raise :class:`RetryLater` or any other exception → the message is left for redelivery
  (with a short back-off); after the queue's ``maxReceiveCount`` the redrive policy moves it
  to the dead-letter queue;
* a body that is not a valid event is logged and left alone, so it reaches the DLQ the same way.

While a handler runs, its message's visibility is extended periodically, so long work is
never handed to a second worker. ``stop()`` stops receiving, lets running handlers finish
within a grace period, and releases what is left (visibility 0) for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from gas_core.events import Envelope, Event, parse_event
from gas_core.logging import job_context
from gas_core.metrics import MESSAGE_SECONDS, MESSAGES
from gas_core.tracing import JOB_ID, extract, inject, tracer

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sns.type_defs import MessageAttributeValueTypeDef
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, event: Envelope) -> None: ...


class SnsPublisher:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    async def publish(self, event: Envelope) -> None:
        kind = event.attributes()["type"]
        with tracer.start_as_current_span(
            f"publish {kind}",
            kind=SpanKind.PRODUCER,
            attributes={JOB_ID: event.job_id or "", "messaging.destination.name": self._topic_arn},
        ):
            values = dict(event.attributes())
            inject(values)
            attributes: dict[str, MessageAttributeValueTypeDef] = {
                key: {"DataType": "String", "StringValue": value} for key, value in values.items()
            }
            await self._sns.publish(
                TopicArn=self._topic_arn,
                Message=event.model_dump_json(),
                MessageAttributes=attributes,
            )
        log.info(
            "published %s", event.attributes()["type"], extra={"event_id": str(event.event_id)}
        )


class RetryLater(Exception):
    """Raised by a handler to have the message redelivered after ``delay_seconds``: for a
    transient failure, or (``scheduled=True``) because the work is not due yet, which is
    normal and logged quietly."""

    def __init__(self, reason: str, *, delay_seconds: int = 5, scheduled: bool = False) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds
        self.scheduled = scheduled


@dataclass(frozen=True)
class Delivery:
    """What a handler knows about the message besides the event."""

    message_id: str
    receive_count: int
    receipt_handle: str


T = TypeVar("T")
Handler = Callable[[Event, Delivery], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerOptions:
    concurrency: int = 4
    batch_size: int = 10
    wait_seconds: int = 10
    visibility_seconds: int = 60
    stop_grace_seconds: float = 25.0


async def queue_url(sqs: SQSClient, name: str) -> str:
    return str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])


async def topic_arn(sns: SNSClient, name: str) -> str:
    """The ARN of an existing topic, found by name (services never create topics)."""
    paginator = sns.get_paginator("list_topics")
    async for page in paginator.paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return str(topic["TopicArn"])
    raise LookupError(f"SNS topic {name} does not exist; run `gas-admin infra up` first")


class SqsConsumer(Generic[T]):
    """Consumes one queue. Messages are our event envelopes unless ``parse`` says otherwise
    (e.g. S3's own notifications); ``parse`` raises ``ValueError`` for an unreadable body."""

    @overload
    def __init__(
        self: SqsConsumer[Event],
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        options: ConsumerOptions | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Callable[[T, Delivery], Awaitable[None]],
        options: ConsumerOptions | None = None,
        *,
        parse: Callable[[str], T],
    ) -> None: ...

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Callable[[Any, Delivery], Awaitable[None]],
        options: ConsumerOptions | None = None,
        *,
        parse: Callable[[str], Any] = parse_event,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_name = queue_url.rsplit("/", 1)[-1]
        self._handler = handler
        self._parse = parse
        self._options = options or ConsumerOptions()
        self._slots = asyncio.Semaphore(self._options.concurrency)
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        self._stopping.set()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain; the shape ``runtime.serve`` expects."""
        consuming = asyncio.create_task(self.run())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({consuming, stopped}, return_when=asyncio.FIRST_COMPLETED)
        self.stop()
        stopped.cancel()
        await consuming

    async def run(self) -> None:
        log.info("consuming %s", self._queue_url)
        while not self._stopping.is_set():
            free = await self._wait_for_free_slots()
            if self._stopping.is_set():
                break
            try:
                messages = await self._receive(min(free, self._options.batch_size))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("receive failed; retrying shortly")
                await self._sleep_unless_stopping(2.0)
                continue
            for message in messages:
                await self._slots.acquire()
                task = asyncio.create_task(self._handle(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        await self._drain()

    async def _wait_for_free_slots(self) -> int:
        # Never receive more messages than we can start at once: a received message
        # waiting for a slot would burn its visibility timeout. Stopping must not wait
        # for a slot, or a busy consumer would only stop once its handlers finish.
        slot = asyncio.ensure_future(self._slots.acquire())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({slot, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if slot.done():
            self._slots.release()
        else:
            slot.cancel()
        return max(1, self._free_slots())

    def _free_slots(self) -> int:
        return self._options.concurrency - len(self._tasks)

    async def _receive(self, count: int) -> list[MessageTypeDef]:
        receive = asyncio.ensure_future(
            self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self._options.wait_seconds,
                VisibilityTimeout=self._options.visibility_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["traceparent", "tracestate"],
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:
            # Stopping during a long poll: let it finish, then hand back what it returned.
            with contextlib.suppress(Exception):
                late = await asyncio.wait_for(receive, self._options.wait_seconds + 5)
                for message in late.get("Messages", []):
                    await self._release(message["ReceiptHandle"])
            return []
        stopping.cancel()
        return list(receive.result().get("Messages", []))

    async def _handle(self, message: MessageTypeDef) -> None:
        receipt = message["ReceiptHandle"]
        delivery = Delivery(
            message_id=message["MessageId"],
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            receipt_handle=receipt,
        )
        try:
            try:
                payload = self._parse(message["Body"])
            except ValueError as error:
                MESSAGES.labels(self._queue_name, "unreadable").inc()
                log.error(
                    "unreadable message %s left for the dead-letter queue: %s",
                    delivery.message_id,
                    _describe_error(error),
                )
                return
            job_id = getattr(payload, "job_id", None)
            carrier = {
                name: str(value.get("StringValue", ""))
                for name, value in message.get("MessageAttributes", {}).items()
            }
            with (
                job_context(job_id),
                tracer.start_as_current_span(
                    f"handle {getattr(payload, 'type', type(payload).__name__)}",
                    context=extract(carrier),
                    kind=SpanKind.CONSUMER,
                    attributes={JOB_ID: job_id or "", "messaging.source.name": self._queue_name},
                ),
            ):
                await self._handle_payload(payload, delivery)
        finally:
            self._slots.release()

    async def _handle_payload(self, payload: T, delivery: Delivery) -> None:
        kind = getattr(payload, "type", type(payload).__name__)
        heartbeat = asyncio.create_task(self._extend_visibility(delivery.receipt_handle))
        outcome = "failed"
        started = time.perf_counter()
        try:
            await self._handler(payload, delivery)
        except asyncio.CancelledError:
            outcome = "released"
            await self._release(delivery.receipt_handle)
            raise
        except RetryLater as retry:
            outcome = "retried"
            level = logging.INFO if retry.scheduled else logging.WARNING
            log.log(level, "will look at %s again in %d s: %s", kind, retry.delay_seconds, retry)
            await self._release(delivery.receipt_handle, delay=retry.delay_seconds)
        except Exception:
            log.exception("handler failed for %s (delivery %d)", kind, delivery.receive_count)
            await self._release(delivery.receipt_handle, delay=_backoff(delivery.receive_count))
        else:
            outcome = "done"
            await self._sqs.delete_message(
                QueueUrl=self._queue_url, ReceiptHandle=delivery.receipt_handle
            )
        finally:
            heartbeat.cancel()
            MESSAGES.labels(self._queue_name, outcome).inc()
            MESSAGE_SECONDS.labels(self._queue_name).observe(time.perf_counter() - started)

    async def _extend_visibility(self, receipt: str) -> None:
        interval = max(1.0, self._options.visibility_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=self._options.visibility_seconds,
                )
            except Exception:
                log.warning("could not extend visibility", exc_info=True)

    async def _release(self, receipt: str, *, delay: int = 0) -> None:
        try:
            await self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=delay
            )
        except Exception:
            log.warning("could not release message; it reappears after its timeout", exc_info=True)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        log.info("stopping: waiting for %d message(s) in progress", len(self._tasks))
        _, pending = await asyncio.wait(self._tasks, timeout=self._options.stop_grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _describe_error(error: ValueError) -> object:
    if isinstance(error, ValidationError):
        return error.errors(include_url=False)[:3]
    return str(error)


def _backoff(receive_count: int) -> int:
    return min(300, int(2 ** min(receive_count, 8) + random.uniform(0, 2)))

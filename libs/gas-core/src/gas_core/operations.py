"""What an operator reads from and does to a running deployment (``gas-admin status`` and
``gas-admin dlq``): the depth of every queue and of its dead-letter queue, jobs by state and
the jobs that failed lately across all users, and the dead letters themselves — looked at
without consuming them, or moved back to the queue they came from.

Jobs are counted with one paginated Scan of the jobs table that reads only the few attributes
it shows: fine for an operator's occasional look, not for a dashboard polling it (the jobs
service's ``/metrics`` is for that).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gas_core.events import parse_event
from gas_core.jobs import JobStatus, utc_timestamp
from gas_core.messaging import queue_url
from gas_core.settings import StackSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueTypeDef, MessageTypeDef

# How long a looked-at dead letter stays hidden if this process dies before handing it back.
PEEK_SECONDS = 30
# How long a dead letter being moved stays hidden, should the move stop half-way.
MOVE_SECONDS = 60
SUMMARY_LENGTH = 100


class UnknownQueue(ValueError):
    """A queue name that is not one of the stack's consumed queues (or their DLQs)."""


def consumed_queues(stack: StackSettings) -> tuple[str, ...]:
    """The queues GAS workers consume; each has a dead-letter queue beside it."""
    return (stack.annotator_queue, stack.notifier_queue, stack.archiver_queue, stack.restore_queue)


def resolve_queue(stack: StackSettings, name: str) -> str:
    """The full name of the source queue an operator means: ``annotator``,
    ``<prefix>-annotator`` and ``<prefix>-annotator-dlq`` all mean ``<prefix>-annotator``."""
    queues = consumed_queues(stack)
    wanted = name.strip()
    for queue in queues:
        short = queue.removeprefix(f"{stack.prefix}-")
        if wanted in {queue, short, StackSettings.dead_letter_queue(queue)} or wanted == (
            StackSettings.dead_letter_queue(short)
        ):
            return queue
    shorts = ", ".join(queue.removeprefix(f"{stack.prefix}-") for queue in queues)
    raise UnknownQueue(f"no queue {name!r} in stack {stack.prefix!r}; choose one of: {shorts}")


@dataclass(frozen=True)
class QueueDepth:
    name: str
    visible: int
    in_flight: int
    delayed: int
    dead_letter_queue: str
    dead_letters: int


async def _depth(sqs: SQSClient, name: str) -> tuple[int, int, int]:
    attributes = (
        await sqs.get_queue_attributes(
            QueueUrl=await queue_url(sqs, name),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


async def queue_depths(sqs: SQSClient, stack: StackSettings) -> list[QueueDepth]:
    depths = []
    for name in consumed_queues(stack):
        visible, in_flight, delayed = await _depth(sqs, name)
        dlq = StackSettings.dead_letter_queue(name)
        dead = await _depth(sqs, dlq)
        depths.append(QueueDepth(name, visible, in_flight, delayed, dlq, sum(dead)))
    return depths


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    user_id: str
    failed_at: str
    filename: str
    error: str


@dataclass
class JobsOverview:
    by_status: dict[str, int] = field(default_factory=dict)
    failed_since: list[FailedJob] = field(default_factory=list)


async def jobs_overview(dynamodb: DynamoDBClient, table: str, *, since: datetime) -> JobsOverview:
    """Jobs by status, and the FAILED ones whose failure is at or after ``since``, newest
    first."""
    cutoff = utc_timestamp(since)
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": (
            "job_id, user_id, #status, completed_at, submitted_at, #error, input_filename"
        ),
        "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
    }
    counts: Counter[str] = Counter()
    failed: list[FailedJob] = []
    while True:
        page = await dynamodb.scan(**request)
        for item in page.get("Items", []):
            status = _text(item, "status")
            counts[status] += 1
            if status != JobStatus.FAILED:
                continue
            failed_at = _text(item, "completed_at") or _text(item, "submitted_at")
            if failed_at >= cutoff:
                failed.append(
                    FailedJob(
                        job_id=_text(item, "job_id"),
                        user_id=_text(item, "user_id"),
                        failed_at=failed_at,
                        filename=_text(item, "input_filename"),
                        error=_text(item, "error"),
                    )
                )
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        request["ExclusiveStartKey"] = start
    by_status = {status.value: counts.pop(status.value, 0) for status in JobStatus}
    by_status.update(counts)  # a status this version does not know, should one appear
    failed.sort(key=lambda job: job.failed_at, reverse=True)
    return JobsOverview(by_status=by_status, failed_since=failed)


def _text(item: dict[str, Any], attribute: str) -> str:
    return str(item.get(attribute, {}).get("S", ""))


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    # Deliveries before the receive that read it here (SQS keeps counting in the DLQ).
    receive_count: int
    sent_at: str
    job_id: str | None
    summary: str


def describe(message: MessageTypeDef) -> DeadLetter:
    body = message.get("Body", "")
    job_id, summary = summarise(body)
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        receive_count=max(0, int(attributes.get("ApproximateReceiveCount", 1)) - 1),
        sent_at=utc_timestamp(datetime.fromtimestamp(int(sent) / 1000, UTC)) if sent else "",
        job_id=job_id,
        summary=summary,
    )


def summarise(body: str) -> tuple[str | None, str]:
    """(job id, one line) of a message body: a GAS event, an S3 notification or anything."""
    try:
        event = parse_event(body)
    except ValueError:
        pass
    else:
        reason = getattr(event.payload, "reason", None)
        text = f"{event.type} user {event.user_id}" + (f": {reason}" if reason else "")
        return event.job_id, _shorten(text)
    try:
        records = json.loads(body)["Records"]
        record = records[0]
        key = str(record["s3"]["object"]["key"])
        name = str(record.get("eventName", "s3 event"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None, _shorten(f"not a GAS event: {body}")
    parts = key.split("/")  # <user>/<job>/<file>, gas_core.jobs.job_file_key
    return (parts[1] if len(parts) == 3 else None), _shorten(f"{name} {key}")


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_LENGTH else line[: SUMMARY_LENGTH - 1] + "…"


async def _receive(
    sqs: SQSClient, url: str, *, count: int, hide_seconds: int
) -> list[MessageTypeDef]:
    response = await sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(10, count)),
        VisibilityTimeout=hide_seconds,
        WaitTimeSeconds=1,
        MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


async def _hand_back(sqs: SQSClient, url: str, messages: list[MessageTypeDef]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(messages), 10):
        batch = messages[start : start + 10]
        await sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(batch)
            ],
        )


async def peek_dead_letters(sqs: SQSClient, queue: str, *, limit: int) -> list[DeadLetter]:
    """Up to ``limit`` messages of ``queue``'s DLQ, left there: each is received (hidden for a
    moment, which SQS counts as a receive) and made visible again before this returns."""
    url = await queue_url(sqs, StackSettings.dead_letter_queue(queue))
    seen: list[MessageTypeDef] = []
    try:
        while len(seen) < limit:
            batch = await _receive(sqs, url, count=limit - len(seen), hide_seconds=PEEK_SECONDS)
            if not batch:
                break
            seen.extend(batch)
    finally:
        await _hand_back(sqs, url, seen)
    return [describe(message) for message in seen]


def _resendable(
    attributes: dict[str, Any],
) -> dict[str, MessageAttributeValueTypeDef]:
    """A received message's attributes as SendMessage takes them (trace context included)."""
    kept: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            entry["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["BinaryValue"] = value["BinaryValue"]
        kept[name] = entry  # type: ignore[assignment]
    return kept


async def redrive(sqs: SQSClient, queue: str, *, limit: int | None) -> list[DeadLetter]:
    """Move up to ``limit`` (else all) messages of ``queue``'s DLQ back to ``queue``: each is
    sent to the queue, then deleted from the DLQ, so a move cut short leaves a message in both
    places (the workers handle redeliveries) rather than in neither."""
    dlq_url = await queue_url(sqs, StackSettings.dead_letter_queue(queue))
    source_url = await queue_url(sqs, queue)
    moved: list[DeadLetter] = []
    while limit is None or len(moved) < limit:
        wanted = 10 if limit is None else limit - len(moved)
        batch = await _receive(sqs, dlq_url, count=wanted, hide_seconds=MOVE_SECONDS)
        if not batch:
            break
        for index, message in enumerate(batch):
            try:
                await sqs.send_message(
                    QueueUrl=source_url,
                    MessageBody=message["Body"],
                    MessageAttributes=_resendable(message.get("MessageAttributes", {})),
                )
            except BaseException:
                await _hand_back(sqs, dlq_url, batch[index:])
                raise
            await sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved.append(describe(message))
    return moved

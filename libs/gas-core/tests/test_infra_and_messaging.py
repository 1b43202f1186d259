"""gas-core against a real moto server: infrastructure, SNS→SQS fan-out, retries, DLQ."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from gas_core.aws import aws_clients
from gas_core.events import Event, JobCompleted, JobRequested
from gas_core.infra import MAX_RECEIVE_COUNT
from gas_core.messaging import (
    ConsumerOptions,
    Delivery,
    RetryLater,
    SnsPublisher,
    SqsConsumer,
    queue_url,
    topic_arn,
)
from gas_testing.plugin import Stack

pytestmark = pytest.mark.integration


def job_requested(job_id: str, tier: str = "free") -> JobRequested:
    return JobRequested.model_validate(
        {
            "job_id": job_id,
            "user_id": "u-1",
            "payload": {
                "tier": tier,
                "input_bucket": "in",
                "input_key": f"u-1/{job_id}/a.vcf",
                "filename": "a.vcf",
                "size_bytes": 10,
            },
        }
    )


def job_completed(job_id: str, tier: str) -> JobCompleted:
    return JobCompleted.model_validate(
        {
            "job_id": job_id,
            "user_id": "u-1",
            "payload": {"tier": tier, "result_key": "r", "log_key": "l"},
        }
    )


def test_infra_up_twice_creates_nothing_the_second_time(stack: Stack) -> None:
    command = [sys.executable, "-m", "gas_core.admin", "infra", "up", "--json"]
    second = subprocess.run(
        command, env=stack.process_env(), capture_output=True, text=True, check=True
    )
    report = json.loads(second.stdout)
    assert report["created"] == []
    assert report["updated"] == []
    assert any("dynamodb table" in line for line in report["unchanged"])


async def test_completed_events_reach_the_archiver_only_for_free_users(stack: Stack) -> None:
    async with aws_clients(stack.aws) as clients:
        sns, sqs = await clients.client("sns"), await clients.client("sqs")
        publisher = SnsPublisher(sns, await topic_arn(sns, stack.settings.job_events_topic))
        await publisher.publish(job_completed("j-free", "free"))
        await publisher.publish(job_completed("j-premium", "premium"))

        async def drain(queue: str) -> set[str]:
            url = await queue_url(sqs, queue)
            got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            return {json.loads(m["Body"])["job_id"] for m in got.get("Messages", [])}

        assert await drain(stack.settings.notifier_queue) == {"j-free", "j-premium"}
        assert await drain(stack.settings.archiver_queue) == {"j-free"}


async def run_consumer(
    consumer: SqsConsumer, until: asyncio.Event, within: float, linger: float = 0.0
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run_until(stop))
    try:
        await asyncio.wait_for(until.wait(), within)
        await asyncio.sleep(linger)
    finally:
        stop.set()
        await task


async def test_long_work_keeps_its_message_and_success_deletes_it(stack: Stack) -> None:
    async with aws_clients(stack.aws) as clients:
        sns, sqs = await clients.client("sns"), await clients.client("sqs")
        url = await queue_url(sqs, stack.settings.annotator_queue)
        publisher = SnsPublisher(sns, await topic_arn(sns, stack.settings.job_requests_topic))
        await publisher.publish(job_requested("j-long"))
        deliveries: list[int] = []
        done = asyncio.Event()

        async def slow_handler(event: Event, delivery: Delivery) -> None:
            deliveries.append(delivery.receive_count)
            await asyncio.sleep(3.5)  # longer than the 2 s visibility: must be extended
            done.set()

        options = ConsumerOptions(concurrency=2, wait_seconds=1, visibility_seconds=2)
        consumer = SqsConsumer(sqs, url, slow_handler, options)
        await run_consumer(consumer, done, within=20)
        assert deliveries == [1]
        attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
        assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"


async def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue(stack: Stack) -> None:
    async with aws_clients(stack.aws) as clients:
        sns, sqs = await clients.client("sns"), await clients.client("sqs")
        url = await queue_url(sqs, stack.settings.annotator_queue)
        dlq = await queue_url(sqs, stack.settings.dead_letter_queue(stack.settings.annotator_queue))
        publisher = SnsPublisher(sns, await topic_arn(sns, stack.settings.job_requests_topic))
        await publisher.publish(job_requested("j-poison"))
        attempts: list[int] = []
        exhausted = asyncio.Event()

        async def failing_handler(event: Event, delivery: Delivery) -> None:
            attempts.append(delivery.receive_count)
            if len(attempts) >= MAX_RECEIVE_COUNT:
                exhausted.set()
            raise RetryLater("dependency down", delay_seconds=0)

        options = ConsumerOptions(concurrency=1, wait_seconds=1, visibility_seconds=5)
        consumer = SqsConsumer(sqs, url, failing_handler, options)
        # The receive after the last allowed attempt is the one that redrives the message.
        await run_consumer(consumer, exhausted, within=30, linger=3)
        moved = await sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)
        assert [json.loads(m["Body"])["job_id"] for m in moved["Messages"]] == ["j-poison"]
        assert attempts == list(range(1, MAX_RECEIVE_COUNT + 1))


async def test_infra_up_adds_the_queued_index_to_an_older_jobs_table(stack: Stack) -> None:
    """A table made before the sparse ``queued`` index gets it, with the jobs QUEUED then."""
    from gas_core.infra import JOBS_QUEUED_INDEX, infra_up
    from gas_core.jobs import JobTable

    older = stack.settings.model_copy(update={"prefix": f"{stack.settings.prefix}o"})
    table = older.jobs_table
    async with aws_clients(stack.aws) as clients:
        dynamodb = await clients.client("dynamodb")
        await dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        )
        for job_id, status in (("a", "QUEUED"), ("b", "RUNNING")):
            item = {"job_id": job_id, "status": status, "user_id": "u", "queued_at": job_id}
            await dynamodb.put_item(TableName=table, Item={k: {"S": v} for k, v in item.items()})

        report = await infra_up(clients, older)
        assert f"dynamodb index {table}.{JOBS_QUEUED_INDEX}" in report.created
        queued = await dynamodb.query(**JobTable(dynamodb, table)._waiting_query())
        assert [item["job_id"]["S"] for item in queued["Items"]] == ["a"]
        again = await infra_up(clients, older)
        assert f"dynamodb index {table}.{JOBS_QUEUED_INDEX}" in again.unchanged

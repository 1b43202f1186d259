"""The local moto server keeps jobs, files, queues and mails across a stop and a crash."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gas_core.aws import aws_clients
from gas_core.settings import AwsSettings
from gas_testing.localstack import MotoServer

pytestmark = pytest.mark.integration


def settings(server: MotoServer) -> AwsSettings:
    return AwsSettings(
        endpoint_url=server.url,
        access_key_id="testing",
        secret_access_key="testing",  # type: ignore[arg-type]
    )


async def write_everything(aws: AwsSettings) -> str:
    """A bucket with an object, a table with an item, a queue with one message in flight and
    one waiting, an SNS topic feeding it, and a sent mail. Returns the in-flight receipt."""
    async with aws_clients(aws) as clients:
        s3, sqs, sns = (
            await clients.client("s3"),
            await clients.client("sqs"),
            await clients.client("sns"),
        )
        dynamodb, ses = await clients.client("dynamodb"), await clients.client("ses")
        await s3.create_bucket(Bucket="results")
        await s3.put_object(Bucket="results", Key="u/j/out.vcf.gz", Body=b"annotated")
        await dynamodb.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        await dynamodb.put_item(
            TableName="jobs", Item={"job_id": {"S": "j"}, "status": {"S": "COMPLETED"}}
        )
        url = (await sqs.create_queue(QueueName="work"))["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        topic = (await sns.create_topic(Name="events"))["TopicArn"]
        await sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        await sns.publish(TopicArn=topic, Message="first")
        received = await sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)
        await sns.publish(TopicArn=topic, Message="second")
        await ses.verify_email_identity(EmailAddress="gas@example.org")
        await ses.send_email(
            Source="gas@example.org",
            Destination={"ToAddresses": ["user@example.org"]},
            Message={"Subject": {"Data": "ready"}, "Body": {"Text": {"Data": "done"}}},
        )
        return str(received["Messages"][0]["ReceiptHandle"])


async def read_everything(aws: AwsSettings, receipt: str) -> dict[str, object]:
    async with aws_clients(aws) as clients:
        s3, sqs, sns = (
            await clients.client("s3"),
            await clients.client("sqs"),
            await clients.client("sns"),
        )
        dynamodb, ses = await clients.client("dynamodb"), await clients.client("ses")
        body = await (await s3.get_object(Bucket="results", Key="u/j/out.vcf.gz"))["Body"].read()
        item = (await dynamodb.get_item(TableName="jobs", Key={"job_id": {"S": "j"}}))["Item"]
        url = (await sqs.get_queue_url(QueueName="work"))["QueueUrl"]
        waiting = await sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        await sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)  # still a valid handle
        topics = [t["TopicArn"].rsplit(":", 1)[-1] for t in (await sns.list_topics())["Topics"]]
        sent = (await ses.get_send_quota())["SentLast24Hours"]
        return {
            "object": body,
            "status": item["status"]["S"],
            "waiting": [message["Body"] for message in waiting.get("Messages", [])],
            "topics": topics,
            "sent": sent,
        }


EXPECTED = {
    "object": b"annotated",
    "status": "COMPLETED",
    "waiting": ["second"],
    "topics": ["events"],
    "sent": 1.0,
}


def test_state_survives_a_stop_and_a_start(tmp_path: Path) -> None:
    state = tmp_path / "moto-state.pickle"
    server = MotoServer(state_file=state).start()
    try:
        receipt = asyncio.run(write_everything(settings(server)))
    finally:
        server.stop()
    assert state.exists()

    again = MotoServer(server.port, state_file=state).start()
    try:
        assert asyncio.run(read_everything(settings(again), receipt)) == EXPECTED
    finally:
        again.stop()


def test_a_crash_loses_at_most_the_last_seconds(tmp_path: Path) -> None:
    state = tmp_path / "moto-state.pickle"
    server = MotoServer(state_file=state).start()
    receipt = asyncio.run(write_everything(settings(server)))
    time.sleep(3)  # one save interval (2 s) and then some
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=10)

    again = MotoServer(server.port, state_file=state).start()
    try:
        assert asyncio.run(read_everything(settings(again), receipt)) == EXPECTED
    finally:
        again.stop()


def test_without_a_state_file_a_restart_starts_empty(tmp_path: Path) -> None:
    server = MotoServer().start()
    try:
        asyncio.run(write_everything(settings(server)))
    finally:
        server.stop()
    again = MotoServer(server.port).start()
    try:

        async def buckets() -> list[str]:
            async with aws_clients(settings(again)) as clients:
                listed = await (await clients.client("s3")).list_buckets()
                return [bucket["Name"] for bucket in listed.get("Buckets", [])]

        assert asyncio.run(buckets()) == []
    finally:
        again.stop()

"""Idempotent infrastructure bootstrap: the same code against the moto server or real AWS.

Every step first looks at what exists and only creates or corrects what differs, and says
what it did, so a second run reports nothing created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gas_core.aws import AwsClients
from gas_core.settings import StackSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import (
        CORSRuleTypeDef,
        LifecycleRuleTypeDef,
        NotificationConfigurationTypeDef,
    )
    from types_aiobotocore_ses import SESClient
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

MAX_RECEIVE_COUNT = 5
JOBS_BY_USER_INDEX = "by-user"
# Items of the sent-mail ledger carry their expiry here (epoch seconds), for DynamoDB TTL.
SENT_MAIL_TTL_ATTRIBUTE = "expires_at"
DEFAULT_CORS_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


@dataclass
class InfraReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass(frozen=True)
class Subscription:
    topic: str
    queue: str
    filter_policy: dict[str, list[str]] | None = None


def subscriptions(stack: StackSettings) -> tuple[Subscription, ...]:
    return (
        Subscription(stack.job_requests_topic, stack.annotator_queue),
        Subscription(stack.job_events_topic, stack.notifier_queue),
        Subscription(
            stack.job_events_topic,
            stack.archiver_queue,
            {"type": ["job.completed"], "tier": ["free"]},
        ),
        Subscription(stack.account_events_topic, stack.archiver_queue),
    )


async def infra_up(
    clients: AwsClients,
    stack: StackSettings,
    *,
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS,
) -> InfraReport:
    report = InfraReport()
    s3 = await clients.client("s3")
    sqs = await clients.client("sqs")
    sns = await clients.client("sns")
    dynamodb = await clients.client("dynamodb")
    ses = await clients.client("ses")

    for bucket in (stack.inputs_bucket, stack.results_bucket, stack.archive_bucket):
        await _ensure_bucket(s3, bucket, report)
    await _ensure_cors(s3, stack.inputs_bucket, cors_origins, report)
    await _ensure_abort_incomplete_uploads(s3, stack.inputs_bucket, report)

    queues: dict[str, _Queue] = {}
    for name in (
        stack.annotator_queue,
        stack.notifier_queue,
        stack.archiver_queue,
        stack.restore_queue,
    ):
        queues[name] = await _ensure_queue_with_dlq(sqs, name, report)

    topic_arns: dict[str, str] = {}
    existing_topics = await _list_topics(sns)
    for topic in (stack.job_requests_topic, stack.job_events_topic, stack.account_events_topic):
        topic_arns[topic] = await _ensure_topic(sns, topic, existing_topics, report)

    for sub in subscriptions(stack):
        await _ensure_subscription(
            sns, topic_arns[sub.topic], queues[sub.queue].arn, sub.filter_policy, report
        )
    for name, senders in _queue_senders(stack, topic_arns).items():
        await _ensure_queue_policy(sqs, queues[name], senders, report)

    await _ensure_restore_notifications(
        s3, stack.archive_bucket, queues[stack.restore_queue].arn, report
    )
    await _ensure_jobs_table(dynamodb, stack.jobs_table, report)
    await _ensure_sent_mail_table(dynamodb, stack.sent_mail_table, report)
    await _ensure_sender_identity(ses, stack.ses_sender, report)
    return report


def _queue_senders(stack: StackSettings, topic_arns: dict[str, str]) -> dict[str, list[str]]:
    senders: dict[str, list[str]] = {}
    for sub in subscriptions(stack):
        senders.setdefault(sub.queue, []).append(topic_arns[sub.topic])
    senders[stack.restore_queue] = [f"arn:aws:s3:::{stack.archive_bucket}"]
    return senders


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


async def _ensure_bucket(s3: S3Client, bucket: str, report: InfraReport) -> None:
    try:
        await s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        region = s3.meta.region_name
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        await s3.create_bucket(**kwargs)
        report.created.append(f"s3 bucket {bucket}")
    else:
        report.unchanged.append(f"s3 bucket {bucket}")


async def _ensure_cors(
    s3: S3Client, bucket: str, origins: tuple[str, ...], report: InfraReport
) -> None:
    wanted: list[CORSRuleTypeDef] = [
        {
            "AllowedOrigins": sorted(origins),
            "AllowedMethods": ["GET", "POST", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ]
    try:
        current = (await s3.get_bucket_cors(Bucket=bucket)).get("CORSRules", [])
    except ClientError as error:
        if _error_code(error) != "NoSuchCORSConfiguration":
            raise
        current = []
    comparable: list[dict[str, Any]] = [
        {k: v for k, v in rule.items() if k != "ID"} for rule in current
    ]
    for rule in comparable:
        rule["AllowedOrigins"] = sorted(rule.get("AllowedOrigins", []))
    if comparable == wanted:
        report.unchanged.append(f"s3 cors {bucket}")
        return
    await s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": wanted})
    (report.updated if current else report.created).append(f"s3 cors {bucket}")


# Real S3 deletes the parts of a multipart upload not completed this many days after it
# started; the jobs service aborts them sooner (GAS_JOBS_MULTIPART_ABANDONED_SECONDS). This
# rule is the backstop for when it is not running. (moto stores the rule but never applies it.)
ABORT_INCOMPLETE_UPLOADS_DAYS = 2


async def _ensure_abort_incomplete_uploads(s3: S3Client, bucket: str, report: InfraReport) -> None:
    wanted: LifecycleRuleTypeDef = {
        "ID": "abort-incomplete-multipart-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_UPLOADS_DAYS},
    }
    try:
        current = (await s3.get_bucket_lifecycle_configuration(Bucket=bucket)).get("Rules", [])
    except ClientError as error:
        if _error_code(error) != "NoSuchLifecycleConfiguration":
            raise
        current = []
    if any(
        rule.get("ID") == wanted["ID"]
        and rule.get("AbortIncompleteMultipartUpload")
        == wanted.get("AbortIncompleteMultipartUpload")
        for rule in current
    ):
        report.unchanged.append(f"s3 lifecycle {bucket}")
        return
    others: list[Any] = [rule for rule in current if rule.get("ID") != wanted["ID"]]
    await s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]}
    )
    (report.updated if current else report.created).append(f"s3 lifecycle {bucket}")


@dataclass(frozen=True)
class _Queue:
    name: str
    url: str
    arn: str
    policy: str | None


async def _ensure_plain_queue(
    sqs: SQSClient, name: str, attributes: dict[QueueAttributeNameType, str], report: InfraReport
) -> _Queue:
    try:
        url = str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])
    except ClientError as error:
        if "NonExistentQueue" not in _error_code(error):
            raise
        url = str((await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"])
        report.created.append(f"sqs queue {name}")
        created = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return _Queue(name, url, str(created["Attributes"]["QueueArn"]), policy=None)
    current = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
    differing = {k: v for k, v in attributes.items() if not _same_attribute(current.get(k), v)}
    if differing:
        await sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
        report.updated.append(f"sqs queue {name} ({', '.join(sorted(differing))})")
    else:
        report.unchanged.append(f"sqs queue {name}")
    return _Queue(name, url, str(current["QueueArn"]), policy=current.get("Policy"))


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if wanted.startswith("{"):
        return bool(json.loads(current) == json.loads(wanted))
    return current == wanted


async def _ensure_queue_with_dlq(sqs: SQSClient, name: str, report: InfraReport) -> _Queue:
    dlq = await _ensure_plain_queue(
        sqs, StackSettings.dead_letter_queue(name), {"MessageRetentionPeriod": "1209600"}, report
    )
    redrive = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
    return await _ensure_plain_queue(
        sqs,
        name,
        {
            "VisibilityTimeout": "60",
            "ReceiveMessageWaitTimeSeconds": "10",
            "RedrivePolicy": redrive,
        },
        report,
    )


async def _ensure_queue_policy(
    sqs: SQSClient, queue: _Queue, source_arns: list[str], report: InfraReport
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "gas-fan-in",
                "Effect": "Allow",
                "Principal": {"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(source_arns)}},
            }
        ],
    }
    if queue.policy and json.loads(queue.policy) == policy:
        report.unchanged.append(f"sqs policy {queue.name}")
        return
    await sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"Policy": json.dumps(policy)})
    (report.updated if queue.policy else report.created).append(f"sqs policy {queue.name}")


async def _list_topics(sns: SNSClient) -> set[str]:
    arns: set[str] = set()
    paginator = sns.get_paginator("list_topics")
    async for page in paginator.paginate():
        arns.update(topic["TopicArn"] for topic in page.get("Topics", []))
    return arns


async def _ensure_topic(sns: SNSClient, name: str, existing: set[str], report: InfraReport) -> str:
    found = next((arn for arn in existing if arn.rsplit(":", 1)[-1] == name), None)
    if found:
        report.unchanged.append(f"sns topic {name}")
        return found
    arn = str((await sns.create_topic(Name=name))["TopicArn"])
    report.created.append(f"sns topic {name}")
    return arn


async def _ensure_subscription(
    sns: SNSClient,
    topic_arn: str,
    queue_arn: str,
    filter_policy: dict[str, list[str]] | None,
    report: InfraReport,
) -> None:
    label = f"sns subscription {topic_arn.rsplit(':', 1)[-1]} -> {queue_arn.rsplit(':', 1)[-1]}"
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    async for page in paginator.paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            if sub["Protocol"] == "sqs" and sub["Endpoint"] == queue_arn:
                await _reconcile_subscription(
                    sns, sub["SubscriptionArn"], filter_policy, label, report
                )
                return
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    await sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes
    )
    report.created.append(label)


async def _reconcile_subscription(
    sns: SNSClient,
    subscription_arn: str,
    filter_policy: dict[str, list[str]] | None,
    label: str,
    report: InfraReport,
) -> None:
    current = (await sns.get_subscription_attributes(SubscriptionArn=subscription_arn))[
        "Attributes"
    ]
    changed = False
    if current.get("RawMessageDelivery") != "true":
        await sns.set_subscription_attributes(
            SubscriptionArn=subscription_arn,
            AttributeName="RawMessageDelivery",
            AttributeValue="true",
        )
        changed = True
    current_filter = json.loads(current["FilterPolicy"]) if current.get("FilterPolicy") else None
    if current_filter != filter_policy:
        await sns.set_subscription_attributes(
            SubscriptionArn=subscription_arn,
            AttributeName="FilterPolicy",
            AttributeValue=json.dumps(filter_policy or {}),
        )
        changed = True
    (report.updated if changed else report.unchanged).append(label)


async def _ensure_restore_notifications(
    s3: S3Client, bucket: str, queue_arn: str, report: InfraReport
) -> None:
    wanted: NotificationConfigurationTypeDef = {
        "QueueConfigurations": [
            {
                "Id": "gas-restore-completed",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectRestore:Completed"],
            }
        ]
    }
    current = await s3.get_bucket_notification_configuration(Bucket=bucket)
    queues = [
        {"Id": q.get("Id"), "QueueArn": q["QueueArn"], "Events": q["Events"]}
        for q in current.get("QueueConfigurations", [])
    ]
    if queues == wanted["QueueConfigurations"]:
        report.unchanged.append(f"s3 restore notifications {bucket}")
        return
    await s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
    (report.updated if queues else report.created).append(f"s3 restore notifications {bucket}")


async def _ensure_jobs_table(dynamodb: DynamoDBClient, table: str, report: InfraReport) -> None:
    await _ensure_table(
        dynamodb,
        table,
        {
            "AttributeDefinitions": [
                {"AttributeName": "job_id", "AttributeType": "S"},
                {"AttributeName": "user_id", "AttributeType": "S"},
                {"AttributeName": "submitted_at", "AttributeType": "S"},
            ],
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": JOBS_BY_USER_INDEX,
                    "KeySchema": [
                        {"AttributeName": "user_id", "KeyType": "HASH"},
                        {"AttributeName": "submitted_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
        report,
    )


async def _ensure_sent_mail_table(
    dynamodb: DynamoDBClient, table: str, report: InfraReport
) -> None:
    await _ensure_table(
        dynamodb,
        table,
        {
            "AttributeDefinitions": [{"AttributeName": "mail_key", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "mail_key", "KeyType": "HASH"}],
        },
        report,
    )
    await _ensure_ttl(dynamodb, table, SENT_MAIL_TTL_ATTRIBUTE, report)


async def _ensure_ttl(
    dynamodb: DynamoDBClient, table: str, attribute: str, report: InfraReport
) -> None:
    current = (await dynamodb.describe_time_to_live(TableName=table))["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"} and (
        current.get("AttributeName") == attribute
    ):
        report.unchanged.append(f"dynamodb ttl {table}.{attribute}")
        return
    await dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
    )
    report.created.append(f"dynamodb ttl {table}.{attribute}")


async def _ensure_table(
    dynamodb: DynamoDBClient, table: str, definition: dict[str, Any], report: InfraReport
) -> None:
    try:
        await dynamodb.describe_table(TableName=table)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
    else:
        report.unchanged.append(f"dynamodb table {table}")
        return
    await dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **definition)
    waiter = dynamodb.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    report.created.append(f"dynamodb table {table}")


async def _ensure_sender_identity(ses: SESClient, sender: str, report: InfraReport) -> None:
    identities = (await ses.list_identities(IdentityType="EmailAddress"))["Identities"]
    if sender in identities:
        report.unchanged.append(f"ses identity {sender}")
        return
    await ses.verify_email_identity(EmailAddress=sender)
    report.created.append(f"ses identity {sender}")

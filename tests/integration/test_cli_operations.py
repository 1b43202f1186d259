"""``gas-admin status`` and ``gas-admin dlq show|redrive`` as an operator runs them, against the
moto server process: a job request that failed too often lands in the annotator's DLQ for real
(SQS moves it after its fifth receive), is shown without being consumed, and redriven."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from gas_core.aws import aws_clients
from gas_core.events import JobRequested, JobRequestedPayload, parse_event
from gas_core.infra import MAX_RECEIVE_COUNT
from gas_core.jobs import JobStatus, utc_timestamp
from gas_core.messaging import queue_url
from gas_core.settings import StackSettings
from gas_core.tiers import Tier
from gas_testing.localstack import free_port
from gas_testing.plugin import Stack, job_record, publish, put_jobs

pytestmark = pytest.mark.integration


def admin(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gas_core.admin", *args],
        env=stack.process_env(NO_COLOR="1", **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fail_until_dead_lettered(stack: Stack, queue: str) -> None:
    """Receive every message of ``queue`` and give it back, as a worker whose handler keeps
    failing would, until SQS has moved it to the DLQ."""

    async def run() -> None:
        async with aws_clients(stack.aws) as clients:
            sqs = await clients.client("sqs")
            url = await queue_url(sqs, queue)
            for _ in range(MAX_RECEIVE_COUNT + 1):
                await sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
                )

    asyncio.run(run())


def messages_in(stack: Stack, queue: str) -> list[str]:
    """Bodies of what ``queue`` holds now (received and made visible again)."""

    async def run() -> list[str]:
        async with aws_clients(stack.aws) as clients:
            sqs = await clients.client("sqs")
            url = await queue_url(sqs, queue)
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
            )
            return [message["Body"] for message in response.get("Messages", [])]

    return asyncio.run(run())


def test_operators_see_queues_jobs_and_dead_letters_and_redrive_them(stack: Stack) -> None:
    settings = stack.settings
    annotator_dlq = StackSettings.dead_letter_queue(settings.annotator_queue)
    now = datetime.now(UTC)
    failed = job_record(
        user_id="user-a",
        status=JobStatus.FAILED,
        completed_at=utc_timestamp(now - timedelta(minutes=5)),
        error="Line 3: expected 8+ tab-separated columns, found 5",
    )
    old_failure = job_record(
        user_id="user-b",
        status=JobStatus.FAILED,
        submitted_at=now - timedelta(days=2),
        completed_at=utc_timestamp(now - timedelta(days=2)),
        error="an old failure",
    )
    queued = job_record(user_id="user-b", status=JobStatus.QUEUED)
    done = job_record(user_id="user-c", status=JobStatus.COMPLETED)
    asyncio.run(put_jobs(stack, failed, old_failure, queued, done))
    request = JobRequested(
        job_id=queued.job_id,
        user_id=queued.user_id,
        payload=JobRequestedPayload(
            tier=Tier.FREE,
            input_bucket=settings.inputs_bucket,
            input_key=queued.input_key,
            filename=queued.input_filename,
            size_bytes=1234,
        ),
    )
    publish(stack, settings.job_requests_topic, request)
    fail_until_dead_lettered(stack, settings.annotator_queue)

    status = admin(stack, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    annotator_row = next(line for line in lines if line.startswith(f"{settings.annotator_queue} "))
    assert annotator_row.split()[1:5] == ["0", "0", "0", "1"], annotator_row
    assert f"gas-admin dlq show {settings.annotator_queue}" in annotator_row
    notifier_row = next(line for line in lines if line.startswith(f"{settings.notifier_queue} "))
    assert notifier_row.split()[1:] == ["0", "0", "0", "0"]
    assert "QUEUED 1" in status.stdout and "COMPLETED 1" in status.stdout
    assert "FAILED 2" in status.stdout
    assert "FAILED IN THE LAST 24 H: 1" in status.stdout
    assert failed.job_id in status.stdout and "user-a" in status.stdout
    assert "Line 3: expected 8+ tab-separated columns, found 5" in status.stdout
    assert old_failure.job_id not in status.stdout

    as_json = json.loads(admin(stack, "status", "--json", "--hours", "72").stdout)
    assert {job["job_id"] for job in as_json["failed"]} == {failed.job_id, old_failure.job_id}
    assert as_json["jobs_by_status"]["FAILED"] == 2

    shown = admin(stack, "dlq", "show", "annotator")
    assert shown.returncode == 0, shown.stderr
    (row,) = [line for line in shown.stdout.splitlines() if queued.job_id in line]
    assert "job.requested user user-b" in row
    assert int(row.split()[1]) >= MAX_RECEIVE_COUNT  # the deliveries that failed
    assert "1 message(s)" in shown.stdout and "left in place" in shown.stdout
    # Shown, not consumed: it is still there, and visible.
    assert [parse_event(body).job_id for body in messages_in(stack, annotator_dlq)] == [
        queued.job_id
    ]

    redriven = admin(stack, "dlq", "redrive", annotator_dlq)
    assert redriven.returncode == 0, redriven.stderr
    assert queued.job_id in redriven.stdout
    assert f"moved 1 message(s) from {annotator_dlq} to {settings.annotator_queue}" in (
        redriven.stdout
    )
    assert messages_in(stack, annotator_dlq) == []
    (back,) = messages_in(stack, settings.annotator_queue)
    assert parse_event(back) == request

    empty = admin(stack, "dlq", "show", "annotator")
    assert empty.returncode == 0 and f"{annotator_dlq} is empty" in empty.stdout
    nothing = admin(stack, "dlq", "redrive", "annotator", "--max", "5")
    assert "moved 0 message(s)" in nothing.stdout


def test_operator_commands_fail_clearly(stack: Stack) -> None:
    unknown = admin(stack, "dlq", "show", "annotatr")
    assert unknown.returncode == 2
    assert "no queue 'annotatr'" in unknown.stderr and "archiver-restores" in unknown.stderr

    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = admin(stack, "status", GAS_AWS_ENDPOINT_URL=nowhere)
    assert unreachable.returncode == 1
    assert f"cannot reach {nowhere}" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr

    missing = admin(stack, "dlq", "redrive", "notifier", GAS_PREFIX="tnothere")
    assert missing.returncode == 1
    assert "GAS_PREFIX=tnothere" in missing.stderr and "infra up" in missing.stderr

"""A result larger than the archiver's single-copy limit (lowered here so the test stays
small; 5 GB in production, S3's CopyObject limit) is archived and restored by multipart copy,
byte for byte."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid

import httpx
import pytest

from gas_core.aws import aws_clients
from gas_core.events import JobCompleted, JobCompletedPayload
from gas_core.jobs import JobRecord, JobStatus, StorageState, job_file_key, utc_timestamp
from gas_core.tiers import Tier
from gas_gateway.payments import TEST_CARD_ACCEPTED
from gas_testing.gateway import GatewayProcess, provision_user
from gas_testing.localstack import wait_until
from gas_testing.plugin import Stack, StartService, get_job, publish, put_jobs

pytestmark = pytest.mark.integration

MiB = 1024**2
LIMIT = 5 * MiB


def test_a_result_over_the_single_copy_limit_is_archived_and_restored_in_parts(
    stack: Stack, start_service: StartService, gateway: GatewayProcess, gateway_database: str
) -> None:
    user_id, token = provision_user(gateway_database, email="huge@example.org", tier=Tier.FREE)
    start_service(
        "archiver",
        stack,
        GAS_FREE_WINDOW_SECONDS="1",
        GAS_ARCHIVER_GATEWAY_URL=gateway.internal_url,
        GAS_ARCHIVER_RECONCILE_INTERVAL_SECONDS="0.5",
        GAS_ARCHIVER_RECEIVE_WAIT_SECONDS="1",
        GAS_ARCHIVER_SINGLE_COPY_LIMIT_BYTES=str(LIMIT),
    )
    result = os.urandom(2 * LIMIT + 123_457)  # three parts
    job_id = uuid.uuid4().hex
    now = utc_timestamp()
    settings = stack.settings
    result_key = job_file_key(user_id=user_id, job_id=job_id, filename="big.annot.vcf.gz")
    job = JobRecord(
        job_id=job_id,
        user_id=user_id,
        tier=Tier.FREE,
        status=JobStatus.COMPLETED,
        storage=StorageState.AVAILABLE,
        submitted_at=now,
        created_at=now,
        completed_at=now,
        input_filename="big.vcf",
        input_size_bytes=len(result),
        input_bucket=settings.inputs_bucket,
        input_key=job_file_key(user_id=user_id, job_id=job_id, filename="big.vcf"),
        results_bucket=settings.results_bucket,
        result_key=result_key,
        progress=100,
        outcome_published=True,
    )

    async def head(bucket: str) -> dict[str, object] | None:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            if bucket == "put":
                await s3.put_object(Bucket=settings.results_bucket, Key=result_key, Body=result)
                return None
            try:
                return dict(await s3.head_object(Bucket=bucket, Key=result_key))
            except Exception:
                return None

    asyncio.run(head("put"))
    asyncio.run(put_jobs(stack, job))
    publish(
        stack,
        settings.job_events_topic,
        JobCompleted(
            job_id=job_id,
            user_id=user_id,
            payload=JobCompletedPayload(
                tier=Tier.FREE, result_key=result_key, log_key="", summary={}
            ),
        ),
    )

    def storage_is(state: StorageState) -> bool:
        return get_job(stack, job_id).storage is state

    wait_until(lambda: storage_is(StorageState.ARCHIVED), timeout=60, what="archived")
    cold = asyncio.run(head(settings.archive_bucket))
    assert cold is not None
    assert cold["StorageClass"] == "GLACIER" and cold["ContentLength"] == len(result)
    assert str(cold["ETag"]).endswith('-3"')  # copied in three parts
    digest = base64.b64encode(hashlib.sha256(result).digest()).decode()
    assert cold["Metadata"] == {"job-id": job_id, "sha256": digest}
    assert asyncio.run(head(settings.results_bucket)) is None

    api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    upgraded = api.post("/api/me/upgrade", json={"card_number": TEST_CARD_ACCEPTED})
    assert upgraded.status_code == 200, upgraded.text
    wait_until(lambda: storage_is(StorageState.AVAILABLE), timeout=60, what="restored")
    link = api.get(f"/api/jobs/{job_id}/result")
    assert link.status_code == 200, link.text
    assert httpx.get(link.json()["url"], timeout=30).content == result

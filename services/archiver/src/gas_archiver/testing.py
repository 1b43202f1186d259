"""Helpers for tests that run the archiver (and notifier) for real against a test stack:
completed jobs written straight into the repository and the results bucket, events
published through SNS, object and storage states read back.

Import into a test module: ``from gas_archiver.testing import ...``.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import httpx
from botocore.exceptions import ClientError

from gas_core.aws import aws_clients
from gas_core.events import JobCompleted, JobCompletedPayload, Tier
from gas_core.jobs import JobRecord, JobStatus, JobTable, StorageState, job_file_key, utc_timestamp
from gas_core.testing import Stack, put_jobs, with_jobs

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

T = TypeVar("T")


@dataclass(frozen=True)
class StoredObject:
    storage_class: str
    body: bytes | None
    sha256: str | None  # base64, as S3 reports it, when S3 has a checksum


def create_completed_job(
    stack: Stack, *, user_id: str, tier: Tier, result: bytes, filename: str = "sample.vcf"
) -> JobRecord:
    """A COMPLETED job whose result is AVAILABLE in the results bucket, as the annotator
    leaves it."""
    return create_completed_jobs(
        stack, user_id=user_id, tier=tier, results=[result], filename=filename
    )[0]


def create_completed_jobs(
    stack: Stack, *, user_id: str, tier: Tier, results: list[bytes], filename: str = "sample.vcf"
) -> list[JobRecord]:
    settings = stack.settings
    stem = filename.removesuffix(".vcf")
    jobs = []
    objects: dict[str, bytes] = {}
    for result in results:
        job_id = uuid.uuid4().hex
        now = utc_timestamp()
        result_key = job_file_key(user_id=user_id, job_id=job_id, filename=f"{stem}.annot.vcf.gz")
        log_key = job_file_key(user_id=user_id, job_id=job_id, filename=f"{stem}.annot.log")
        objects |= {result_key: result, log_key: b"log\n"}
        jobs.append(
            JobRecord(
                job_id=job_id,
                user_id=user_id,
                tier=tier,
                status=JobStatus.COMPLETED,
                storage=StorageState.AVAILABLE,
                submitted_at=now,
                created_at=now,
                queued_at=now,
                completed_at=now,
                input_filename=filename,
                input_size_bytes=len(result),
                input_bucket=settings.inputs_bucket,
                input_key=job_file_key(user_id=user_id, job_id=job_id, filename=filename),
                results_bucket=settings.results_bucket,
                result_key=result_key,
                log_key=log_key,
                summary={"variants": 3, "in_dbsnp": 2, "pct_in_dbsnp": 66.667, "build": "GRCh37"},
                progress=100,
                outcome_published=True,
            )
        )

    async def write() -> None:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            for key, body in objects.items():
                await s3.put_object(Bucket=settings.results_bucket, Key=key, Body=body)

    asyncio.run(write())
    asyncio.run(put_jobs(stack, *jobs))
    return jobs


def completed_event(job: JobRecord) -> JobCompleted:
    return JobCompleted(
        job_id=job.job_id,
        user_id=job.user_id,
        payload=JobCompletedPayload(
            tier=job.tier,
            result_key=job.result_key or "",
            log_key=job.log_key or "",
            summary=job.summary or {},
        ),
    )


def storage_states(stack: Stack, job_ids: list[str]) -> dict[str, StorageState | None]:
    async def read(table: JobTable) -> dict[str, StorageState | None]:
        states = {}
        for job_id in job_ids:
            job = await table.get(job_id)
            states[job_id] = job.storage if job else None
        return states

    return with_jobs(stack, JobTable, read)


def read_object(stack: Stack, bucket: str, key: str) -> StoredObject | None:
    """The object's storage class and bytes (none for archived objects), or None if absent."""
    return read_objects(stack, bucket, [key])[key]


def read_objects(stack: Stack, bucket: str, keys: list[str]) -> dict[str, StoredObject | None]:
    async def read_one(s3: S3Client, key: str) -> StoredObject | None:
        try:
            head = await s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError:
            return None
        storage_class = str(head.get("StorageClass", "STANDARD"))
        checksum = head.get("ChecksumSHA256")
        if storage_class != "STANDARD":
            return StoredObject(storage_class=storage_class, body=None, sha256=checksum)
        response = await s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as stream:
            body = await stream.read()
        return StoredObject(storage_class=storage_class, body=body, sha256=checksum)

    async def read() -> dict[str, StoredObject | None]:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            return {key: await read_one(s3, key) for key in keys}

    return asyncio.run(read())


def set_restore_speed(moto_url: str, seconds: float | None) -> None:
    """Make moto's restores take ``seconds`` per step (requested → ongoing → done), or
    ``None`` for its default (done at the first read)."""
    if seconds is None:
        response = httpx.post(
            f"{moto_url}/moto-api/state-manager/unset-transition",
            json={"model_name": "s3::keyrestore"},
        )
    else:
        response = httpx.post(
            f"{moto_url}/moto-api/state-manager/set-transition",
            json={
                "model_name": "s3::keyrestore",
                "transition": {"progression": "time", "seconds": seconds},
            },
        )
    response.raise_for_status()

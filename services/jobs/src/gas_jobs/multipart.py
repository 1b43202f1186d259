"""Uploads in parts: a large input goes to S3 as a multipart upload that the client fills
through presigned part URLs, can resume after a dropped connection (S3 keeps the parts it
has), and the service completes — checking the real size against the tier, as submit does —
or aborts. Abandoned uploads are aborted by a periodic pass (and, on real S3, by the inputs
bucket's lifecycle rule)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from gas_core.auth import InternalIdentity
from gas_core.jobs import JobRecord, JobStatus
from gas_core.tiers import Tier
from gas_jobs.parts import Part, PartUrl, part_count
from gas_jobs.service import InputTooLarge, Jobs, get_job, too_large_message, upload_limit

log = logging.getLogger(__name__)


class UploadNotMultipart(Exception):
    """The job has no multipart upload in progress (a small file, or already completed)."""


class PartsMissing(Exception):
    """Completion asked for before every part is in S3."""

    def __init__(self, missing: list[int]) -> None:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        super().__init__(
            f"{len(missing)} part(s) are not uploaded yet (part numbers {shown}); upload them "
            "and complete again."
        )
        self.missing = missing


class BadPartRequest(Exception):
    """A part number outside the upload's plan, or a malformed checksum."""


def _uploading(job: JobRecord) -> str:
    if job.status is not JobStatus.CREATED or not job.upload_id:
        raise UploadNotMultipart(
            "This job has no upload in parts in progress"
            + (
                " (it is already complete); submit it."
                if job.status is JobStatus.CREATED
                else f" (it is {job.status.value.lower()})."
            )
        )
    return job.upload_id


async def part_urls(
    jobs: Jobs, *, user: InternalIdentity, job_id: str, parts: list[tuple[int, str]]
) -> list[PartUrl]:
    """Presigned PUT URLs for ``parts`` ((number, base64 SHA-256) pairs)."""
    job = await get_job(jobs, user=user, job_id=job_id)
    upload_id = _uploading(job)
    count = part_count(job)
    for number, sha256 in parts:
        if not 1 <= number <= count:
            raise BadPartRequest(f"Part {number} is not in this upload: parts are 1 to {count}.")
        if len(sha256) != 44 or not sha256.endswith("="):
            raise BadPartRequest(
                f"Part {number}: the checksum must be the part's SHA-256, base64-encoded "
                "(44 characters)."
            )
    return [
        await jobs.multipart.presign_part(
            bucket=job.input_bucket,
            key=job.input_key,
            upload_id=upload_id,
            number=number,
            sha256=sha256,
            expires_in=jobs.upload_url_seconds,
        )
        for number, sha256 in parts
    ]


async def uploaded_parts(
    jobs: Jobs, *, user: InternalIdentity, job_id: str
) -> tuple[JobRecord, list[Part]]:
    """The job and the parts S3 already holds for it."""
    job = await get_job(jobs, user=user, job_id=job_id)
    upload_id = _uploading(job)
    parts = await jobs.multipart.parts(
        bucket=job.input_bucket, key=job.input_key, upload_id=upload_id
    )
    if parts is None:
        raise UploadNotMultipart(UPLOAD_GONE)
    return job, parts


UPLOAD_GONE = (
    "The upload was abandoned and has been cleared away; create a new job to upload the file."
)


async def complete_upload(jobs: Jobs, *, user: InternalIdentity, job_id: str) -> JobRecord:
    """Join the parts into the input object; refuse (and delete it) when it is over the
    tier's limit. The parts S3 holds decide, never what the client declared."""
    job, parts = await uploaded_parts(jobs, user=user, job_id=job_id)
    assert job.upload_id
    present = {part.number for part in parts}
    missing = [n for n in range(1, part_count(job) + 1) if n not in present]
    if missing:
        raise PartsMissing(missing)
    await jobs.multipart.complete(
        bucket=job.input_bucket, key=job.input_key, upload_id=job.upload_id, parts=parts
    )
    size, checksum = await jobs.multipart.checksum(bucket=job.input_bucket, key=job.input_key)
    limit = upload_limit(jobs, job.tier)
    if size > limit:
        message = (
            too_large_message(size, limit)
            if job.tier is Tier.FREE
            else f"This file is {size:,} bytes; files up to {limit:,} bytes can be annotated."
        )
        await jobs.objects.delete(bucket=job.input_bucket, key=job.input_key)
        await _finish(jobs, job, checksum=None, failed=message)
        raise InputTooLarge(message)
    await _finish(jobs, job, checksum=checksum, failed=None)
    return await get_job(jobs, user=user, job_id=job_id)


async def abort_upload(jobs: Jobs, *, user: InternalIdentity, job_id: str) -> JobRecord:
    """Cancel the upload: S3 drops its parts and the job fails with a note saying so."""
    job = await get_job(jobs, user=user, job_id=job_id)
    upload_id = _uploading(job)
    await jobs.multipart.abort(bucket=job.input_bucket, key=job.input_key, upload_id=upload_id)
    await _finish(jobs, job, checksum=None, failed="The upload was cancelled.")
    return await get_job(jobs, user=user, job_id=job_id)


async def _finish(jobs: Jobs, job: JobRecord, *, checksum: str | None, failed: str | None) -> None:
    assert job.upload_id
    await jobs.repo.finish_upload(
        job_id=job.job_id, upload_id=job.upload_id, input_checksum=checksum, error=failed
    )


async def abort_abandoned_uploads(jobs: Jobs, *, older_than_seconds: float) -> None:
    """Abort every multipart upload in the inputs bucket started more than
    ``older_than_seconds`` ago, and fail its job if it still waits for the upload.

    An upload's age is its job's: S3's ``Initiated`` only counts for an upload no job
    records (its job was never written), because moto reports one fixed date for all."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
    bucket = jobs.stack.inputs_bucket
    aborted = 0
    for key, upload_id, initiated in await jobs.multipart.uploads(bucket=bucket):
        parts = key.split("/")
        job = await jobs.repo.get(parts[1]) if len(parts) >= 3 else None
        owned = job is not None and job.upload_id == upload_id
        started = datetime.fromisoformat(job.created_at) if job and owned else initiated
        if started.astimezone(UTC) > cutoff:
            continue
        await jobs.multipart.abort(bucket=bucket, key=key, upload_id=upload_id)
        aborted += 1
        if job is not None and owned:
            await _finish(
                jobs,
                job,
                checksum=None,
                failed=(
                    "The upload was abandoned (no completion within "
                    f"{older_than_seconds / 3600:g} h) and its parts were deleted; submit the "
                    "file again."
                ),
            )
    if aborted:
        log.warning("aborted %d abandoned multipart upload(s)", aborted)

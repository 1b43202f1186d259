"""What the job API does, independent of HTTP: each function takes the caller's identity."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gas_core.auth import InternalIdentity
from gas_core.events import JobRequested, JobRequestedPayload
from gas_core.jobs import JobRecord, JobStatus, StorageState, job_file_key, utc_timestamp
from gas_core.messaging import Publisher
from gas_core.settings import StackSettings
from gas_core.tiers import Tier
from gas_jobs.models import Build
from gas_jobs.parts import MultipartStore, UploadPolicy, plan_parts
from gas_jobs.repository import JobPage, JobRepository
from gas_jobs.results import ResultGone, ResultTables
from gas_jobs.sniff import SNIFF_BYTES, text_size_over, vcf_problem
from gas_jobs.storage import ObjectStore, PresignedPost
from gas_jobs.variants import ExportFormat, Page, SortKey, VariantFilter, VariantTable

log = logging.getLogger(__name__)


class JobNotFound(Exception):
    def __init__(self) -> None:
        super().__init__("No such job.")


class InputTooLarge(Exception):
    """A free user's file is over the tier's limit; the message offers the upgrade."""


class InputMissing(Exception):
    """Submit came before the upload finished."""


class InputNotVcf(Exception):
    """The upload is not a VCF; the job is FAILED with this message."""


class ResultUnavailable(Exception):
    """There is no downloadable result right now; the message says why and what to do."""


class LogUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Jobs:
    """Everything the job functions need from the outside world."""

    repo: JobRepository
    objects: ObjectStore
    multipart: MultipartStore
    uploads: UploadPolicy
    requests: Publisher
    stack: StackSettings
    max_upload_bytes: int
    upload_url_seconds: int
    download_url_seconds: int
    results: ResultTables
    events_check_seconds: float
    events_ping_seconds: float


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitise_filename(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._")[:120]
    return cleaned or "input.vcf"


def too_large_message(size_bytes: int, limit_bytes: int) -> str:
    return (
        f"This file is {_kib(size_bytes)}; the free tier annotates files up to "
        f"{_kib(limit_bytes)} of VCF text (measured decompressed). Upgrade to premium to "
        "annotate larger files."
    )


def too_much_text_message(limit_bytes: int) -> str:
    return (
        f"This file holds more than {_kib(limit_bytes)} of VCF text once decompressed; the "
        f"free tier annotates up to {_kib(limit_bytes)} of VCF text (measured decompressed, "
        "so compressing a file does not raise the limit). Upgrade to premium to annotate "
        "larger files."
    )


def _kib(size: int) -> str:
    return f"{size / 1024:,.1f} KiB" if size < 1024**2 else f"{size / 1024**2:,.1f} MiB"


def upload_limit(jobs: Jobs, tier: Tier) -> int:
    """The most bytes one upload may have. For the free tier it is the text limit itself:
    compressed data is never larger than its text, so nothing over it can fit."""
    return jobs.stack.free_size_limit_bytes if tier is Tier.FREE else jobs.max_upload_bytes


async def create_job(
    jobs: Jobs,
    *,
    user: InternalIdentity,
    filename: str,
    size_bytes: int,
    build: Build | None,
    fingerprint: str | None = None,
) -> tuple[JobRecord, PresignedPost | None]:
    """A new job and how to upload its input: a presigned POST, or None when the file is
    large enough to go in parts (the job then carries the multipart upload's id)."""
    limit = upload_limit(jobs, user.tier)
    if size_bytes > limit:
        if user.tier is Tier.FREE:
            raise InputTooLarge(too_large_message(size_bytes, limit))
        raise InputTooLarge(f"Files over {_kib(limit)} cannot be annotated.")
    job_id = uuid.uuid4().hex
    safe_name = sanitise_filename(filename)
    now = utc_timestamp()
    job = JobRecord(
        job_id=job_id,
        user_id=user.user_id,
        tier=user.tier,
        status=JobStatus.CREATED,
        submitted_at=now,
        created_at=now,
        input_filename=safe_name,
        input_size_bytes=size_bytes,
        input_bucket=jobs.stack.inputs_bucket,
        input_key=job_file_key(user_id=user.user_id, job_id=job_id, filename=safe_name),
        build=build,
        upload_fingerprint=fingerprint,
    )
    if size_bytes > jobs.uploads.threshold_bytes:
        # Started before the record exists: a crash in between leaves only an upload that
        # the abandoned-upload pass aborts, never a job that cannot be uploaded.
        part_bytes, _ = plan_parts(size_bytes, part_bytes=jobs.uploads.part_bytes)
        upload_id = await jobs.multipart.start(bucket=job.input_bucket, key=job.input_key)
        job = job.model_copy(update={"upload_id": upload_id, "upload_part_bytes": part_bytes})
        await jobs.repo.create(job)
        return job, None
    await jobs.repo.create(job)
    upload = await jobs.objects.presign_upload(
        bucket=job.input_bucket,
        key=job.input_key,
        max_bytes=limit,
        expires_in=jobs.upload_url_seconds,
    )
    return job, upload


async def get_job(jobs: Jobs, *, user: InternalIdentity, job_id: str) -> JobRecord:
    job = await jobs.repo.get(job_id)
    if job is None or job.user_id != user.user_id:
        raise JobNotFound
    return job


async def queue_position(jobs: Jobs, *, job: JobRecord) -> int | None:
    if job.status is not JobStatus.QUEUED or not job.queued_at:
        return None
    return fair_queue_position(
        await jobs.repo.waiting(), user_id=job.user_id, queued_at=job.queued_at
    )


def fair_queue_position(waiting: Iterable[tuple[str, str]], *, user_id: str, queued_at: str) -> int:
    """Where a job stands (1 = next) when users take turns, as the annotator's per-user
    share of slots makes them: every earlier job of the same user is ahead of it, and of
    each other user's waiting jobs as many as this user has ahead, plus their next one if
    it was queued first. A burst of one user therefore does not push back another's job."""
    queued: dict[str, list[str]] = defaultdict(list)
    for owner, at in waiting:
        queued[owner].append(at)
    mine = sum(at < queued_at for at in queued.pop(user_id, []))
    ahead = mine
    for times in queued.values():
        times.sort()
        ahead += min(len(times), mine)
        if len(times) > mine and times[mine] < queued_at:
            ahead += 1
    return ahead + 1


async def submit_job(jobs: Jobs, *, user: InternalIdentity, job_id: str) -> JobRecord:
    """Verify the upload and queue the job once; calling it again changes nothing."""
    job = await get_job(jobs, user=user, job_id=job_id)
    if job.status is JobStatus.QUEUED and not job.request_published:
        await _publish_request(jobs, job)  # an earlier submit stopped before publishing
        return await get_job(jobs, user=user, job_id=job_id)
    if job.status is not JobStatus.CREATED:
        return job

    size = await jobs.objects.size(bucket=job.input_bucket, key=job.input_key)
    if size is None:
        raise InputMissing(MISSING_MESSAGE)
    limit = upload_limit(jobs, job.tier)
    if size > limit:
        await _refuse_too_large(jobs, job, too_large_message(size, limit))
    # A free file is at most the limit, so it is read whole: its text size is checked here.
    # A premium file's is checked by the annotator while it reads.
    start = await jobs.objects.read_start(
        bucket=job.input_bucket,
        key=job.input_key,
        length=limit if job.tier is Tier.FREE else SNIFF_BYTES,
    )
    if start is None:
        raise InputMissing(MISSING_MESSAGE)
    problem = vcf_problem(start)
    if problem:
        await jobs.repo.fail_before_run(job_id=job.job_id, error=problem, failed_at=utc_timestamp())
        raise InputNotVcf(problem)
    if job.tier is Tier.FREE and text_size_over(start, limit):
        await _refuse_too_large(jobs, job, too_much_text_message(limit))

    if await jobs.repo.queue(job_id=job.job_id, input_size_bytes=size, queued_at=utc_timestamp()):
        # The size is all that queueing changed of what the request carries: no read-back.
        await _publish_request(jobs, job.model_copy(update={"input_size_bytes": size}))
    return await get_job(jobs, user=user, job_id=job_id)


MISSING_MESSAGE = (
    "The file has not been uploaded yet: POST it to the upload URL from job creation, then "
    "submit again."
)


async def _refuse_too_large(jobs: Jobs, job: JobRecord, message: str) -> None:
    await jobs.objects.delete(bucket=job.input_bucket, key=job.input_key)
    await jobs.repo.fail_before_run(job_id=job.job_id, error=message, failed_at=utc_timestamp())
    raise InputTooLarge(message)


async def _publish_request(jobs: Jobs, job: JobRecord) -> None:
    # A duplicate request (two racing submits) is harmless: a worker must claim the job
    # with a conditional write before it runs, so only one run happens.
    await jobs.requests.publish(
        JobRequested(
            job_id=job.job_id,
            user_id=job.user_id,
            payload=JobRequestedPayload(
                tier=job.tier,
                input_bucket=job.input_bucket,
                input_key=job.input_key,
                filename=job.input_filename,
                size_bytes=job.input_size_bytes,
                build=job.build,
            ),
        )
    )
    await jobs.repo.mark_request_published(job_id=job.job_id)


async def republish_stranded_requests(jobs: Jobs, *, older_than_seconds: float) -> None:
    """Publish the request of every job left QUEUED without one (its submit stopped between
    the queue commit and the publish, e.g. a crash), once it is older than a submit takes."""
    cutoff = utc_timestamp(datetime.now(UTC) - timedelta(seconds=older_than_seconds))
    stranded = await jobs.repo.queued_unpublished(queued_before=cutoff)
    for job in stranded:
        await _publish_request(jobs, job)
    if stranded:
        log.warning("published the request of %d queued job(s) that had none", len(stranded))


async def list_jobs(
    jobs: Jobs,
    *,
    user: InternalIdentity,
    status: JobStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[JobPage, int]:
    page = await jobs.repo.list_for_user(
        user_id=user.user_id, status=status, limit=limit, cursor=cursor
    )
    return page, await jobs.repo.count_for_user(user_id=user.user_id, status=status)


async def job_log(jobs: Jobs, *, user: InternalIdentity, job_id: str) -> str:
    job = await get_job(jobs, user=user, job_id=job_id)
    if job.log_key and job.results_bucket:
        text = await jobs.objects.read_text(bucket=job.results_bucket, key=job.log_key)
        if text is not None:
            return text
    if job.status is JobStatus.FAILED and job.error:
        return f"The job failed before it ran: {job.error}\n"
    raise LogUnavailable(
        f"The job is {job.status.value.lower()}; its log appears here once the run has "
        "written some of it."
    )


async def result_link(jobs: Jobs, *, user: InternalIdentity, job_id: str) -> tuple[str, str]:
    """A short-lived download URL and the file name, while the result is downloadable."""
    job = await get_job(jobs, user=user, job_id=job_id)
    bucket, result_key = _available_result(job, "downloaded")
    filename = result_key.rsplit("/", 1)[-1]
    url = await jobs.objects.presign_download(
        bucket=bucket,
        key=result_key,
        filename=filename,
        expires_in=jobs.download_url_seconds,
    )
    return url, filename


def _available_result(job: JobRecord, use: str) -> tuple[str, str]:
    """The bucket and key of ``job``'s result while it is in the results bucket; otherwise
    :class:`ResultUnavailable` saying why and what to do (``use``: what the caller wanted,
    e.g. "downloaded")."""
    if job.status is JobStatus.FAILED:
        raise ResultUnavailable(f"The job failed, so there is no result: {job.error}")
    if job.status is not JobStatus.COMPLETED or not job.result_key or not job.results_bucket:
        raise ResultUnavailable(
            f"The job is {job.status.value.lower()}; the result can be {use} once it has completed."
        )
    if job.storage is StorageState.ARCHIVED:
        raise ResultUnavailable(
            f"The result is archived — upgrade to premium to restore it; then it can be {use} "
            "again."
        )
    if job.storage is StorageState.RESTORING:
        raise ResultUnavailable(
            f"The result is being restored; you will get an email when it can be {use}."
        )
    return job.results_bucket, job.result_key


async def variant_table(
    jobs: Jobs, *, user: InternalIdentity, job_id: str
) -> tuple[JobRecord, VariantTable]:
    """The user's job and the queryable variants of its result (the columnar copy, rebuilt
    from the VCF when it is missing)."""
    job = await get_job(jobs, user=user, job_id=job_id)
    _available_result(job, "viewed")

    async def still_hot() -> bool:
        current = await jobs.repo.get(job_id)
        return current is not None and current.storage in (
            StorageState.AVAILABLE,
            StorageState.ARCHIVING,
        )

    try:
        return job, await jobs.results.table(job, still_hot=still_hot)
    except ResultGone as gone:
        current = await get_job(jobs, user=user, job_id=job_id)
        _available_result(current, "viewed")
        raise ResultUnavailable("The result is being moved; try again in a minute.") from gone


async def variants_page(
    jobs: Jobs,
    *,
    user: InternalIdentity,
    job_id: str,
    where: VariantFilter,
    sort: SortKey,
    limit: int,
    offset: int,
) -> Page:
    _, table = await variant_table(jobs, user=user, job_id=job_id)
    return await asyncio.to_thread(table.page, where, sort=sort, limit=limit, offset=offset)


async def variants_export(
    jobs: Jobs,
    *,
    user: InternalIdentity,
    job_id: str,
    where: VariantFilter,
    sort: SortKey,
    fmt: ExportFormat,
) -> tuple[str, Iterator[bytes]]:
    """The file name and the pieces of an export of the matching variants (produced as they
    are read, so the caller streams them)."""
    job, table = await variant_table(jobs, user=user, job_id=job_id)
    stem = (job.result_key or job.input_filename).rsplit("/", 1)[-1].removesuffix(".vcf.gz")
    suffix = "" if where == VariantFilter() else ".filtered"
    return f"{stem}{suffix}.{fmt.value}", table.export(where, sort=sort, fmt=fmt)

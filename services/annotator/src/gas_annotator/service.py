"""Running one job request, and giving up on requests that landed in the dead-letter queue.

Safety comes from the job record, not from SQS: a worker runs a job only after claiming it
with a conditional write (QUEUED, or RUNNING whose lease expired because its worker died),
renews the lease about once a second together with the progress, and every later write of
the run is conditional on still holding it. A duplicate or redelivered request therefore
never starts a second run while the first is alive, and a run that lost its lease stops
without publishing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gas_annotator import runner
from gas_annotator.bundles import Bundles
from gas_annotator.repository import RunRepository
from gas_annotator.scratch import check_scratch, scratch_needed, scratch_of
from gas_annotator.share import RequestQueue, UserShare
from gas_core.events import (
    Event,
    JobCompleted,
    JobCompletedPayload,
    JobFailed,
    JobFailedPayload,
    JobRequested,
)
from gas_core.jobs import JobRecord, JobStatus, columnar_key_for, job_file_key, utc_timestamp
from gas_core.messaging import Delivery, Publisher, RetryLater
from gas_core.tiers import Tier

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)

GAVE_UP_MESSAGE = (
    "The job could not be run after several attempts because of a problem on our side, "
    "not with your file. Please submit it again; if it keeps failing, contact support."
)


NO_VARIANTS_MESSAGE = (
    "The file has a VCF header but no variant records, so there is nothing to annotate. "
    "Check that you uploaded the file you meant to."
)

# anntools reports the paths it read and wrote: temp files of this worker, meaningless to users.
WORKER_LOCAL_SUMMARY_KEYS = frozenset({"input", "output"})


class LeaseLost(Exception):
    """Another worker took the job over (this one stalled past its lease)."""


@dataclass(frozen=True)
class RunSettings:
    results_bucket: str
    lease_seconds: float
    progress_interval_seconds: float
    work_dir: Path | None
    job_slots: int
    waiting_places: int  # requests that may wait in the worker for a slot
    size_limits: Mapping[Tier, int]  # decompressed VCF text per job
    time_limits: Mapping[Tier, float]  # wall-clock seconds of one job's annotation
    user_share_wait_seconds: int
    # How often a running job's log so far is uploaded, for the job page to show.
    live_log_seconds: float = 5.0
    scratch_reserve_bytes: int = 256 * 1024**2


def size_limit_message(tier: Tier, limit_bytes: int) -> str:
    if tier is Tier.FREE:
        return (
            f"This file holds more than {human_bytes(limit_bytes)} of VCF text once "
            f"decompressed; the free tier annotates up to {human_bytes(limit_bytes)} "
            "(decompressed). Upgrade to premium to annotate larger files."
        )
    return (
        f"This file holds more than {human_bytes(limit_bytes)} of VCF text once "
        "decompressed, the most one job may annotate. Split it into smaller files and "
        "submit each as a job."
    )


def time_limit_message(tier: Tier, limit_seconds: float) -> str:
    advice = (
        "Upgrade to premium for longer jobs, or split the file into smaller ones."
        if tier is Tier.FREE
        else "Split the file into smaller ones and submit each as a job."
    )
    return (
        f"The annotation was stopped after {human_seconds(limit_seconds)}, the longest a "
        f"{tier.value} job may run. {advice}"
    )


def human_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size / 1024:,.1f} KiB"


def human_seconds(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class RunLogFile(NamedTuple):
    """The engine's log on this worker, and where the job's log goes in the results bucket."""

    path: Path
    bucket: str
    key: str


class ResultKeys(NamedTuple):
    result: str
    log: str
    columnar: str


def result_keys(job: JobRecord) -> ResultKeys:
    stem = job.input_filename
    for suffix in (".gz", ".bgz", ".vcf"):
        stem = stem.removesuffix(suffix)
    result = job_file_key(user_id=job.user_id, job_id=job.job_id, filename=f"{stem}.annot.vcf.gz")
    return ResultKeys(
        result=result,
        log=job_file_key(user_id=job.user_id, job_id=job.job_id, filename=f"{stem}.annot.log"),
        columnar=columnar_key_for(result),
    )


class Annotator:
    def __init__(
        self,
        *,
        repo: RunRepository,
        s3: S3Client,
        events: Publisher,
        bundles: Bundles,
        engines: runner.EnginePool,
        requests: RequestQueue,
        settings: RunSettings,
    ) -> None:
        self._engines = engines
        self._requests = requests
        self._share = UserShare(slots=settings.job_slots, waiting_places=settings.waiting_places)
        self._repo = repo
        self._s3 = s3
        self._events = events
        self._bundles = bundles
        self._settings = settings
        self._worker_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"

    async def handle(self, event: Event, delivery: Delivery) -> None:
        if not isinstance(event, JobRequested) or not event.job_id:
            log.warning("ignoring %s on the job-requests queue", event.type)
            return
        job = await self._repo.get(event.job_id)
        if job is None:
            log.warning("job request for a job that does not exist; dropped")
            return
        if job.finished:
            await self._republish_if_abandoned(job)
            return
        if job.status is JobStatus.CREATED:
            raise RetryLater("the job's submit has not committed yet", delay_seconds=5)
        if not self._share.take(job.user_id):
            if not self._share.may_wait(job.user_id):
                # Deleted and sent again rather than RetryLater: see gas_annotator.share.
                await self._requests.send_later(
                    event, delay_seconds=self._settings.user_share_wait_seconds
                )
                log.info(
                    "no slot for the user's job here now; request handed back for %d s",
                    self._settings.user_share_wait_seconds,
                )
                return
            await self._share.wait_and_take(job.user_id)
        try:
            await self._claim_and_run(job, delivery)
        finally:
            self._share.give_back(job.user_id)

    async def _claim_and_run(self, job: JobRecord, delivery: Delivery) -> None:
        runner_id = f"{self._worker_id}:{delivery.message_id[:8]}:{delivery.receive_count}"
        if not await self._repo.claim(
            job_id=job.job_id, runner=runner_id, lease_seconds=self._settings.lease_seconds
        ):
            await self._not_claimed(job.job_id)
            return
        log.info("claimed job (delivery %d)", delivery.receive_count)
        try:
            await self._run(job, runner_id)
        except LeaseLost as lost:
            log.warning("lost the job to another worker; this run's output is discarded")
            # Not acknowledged: if this very message was redelivered to the new holder, a
            # delete with our stale receipt must not race it; the next look settles it.
            raise RetryLater(
                "lost the job's lease", delay_seconds=math.ceil(self._settings.lease_seconds)
            ) from lost
        except BaseException:
            # Crash or SIGTERM: hand the job back now instead of waiting for the lease.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._repo.release(job_id=job.job_id, runner=runner_id))
            raise

    async def _not_claimed(self, job_id: str) -> None:
        current = await self._repo.get(job_id)
        if current is None or current.finished:
            if current:
                await self._republish_if_abandoned(current)
            return
        remaining = (current.lease_expires_at or time.time()) - time.time()
        # Running elsewhere: look again once its lease would have run out, in case that
        # worker dies; when it finishes, the next look acknowledges this request.
        raise RetryLater(
            "the job is running in another worker",
            delay_seconds=min(900, max(1, math.ceil(remaining) + 1)),
        )

    async def _run(self, job: JobRecord, runner_id: str) -> None:
        result_key, log_key, columnar_key = result_keys(job)
        bucket = self._settings.results_bucket
        with tempfile.TemporaryDirectory(prefix="gas-job-", dir=self._settings.work_dir) as tmp:
            folder = Path(tmp)
            input_path = folder / job.input_filename
            output_path = folder / "annotated.vcf.gz"
            columnar_path = folder / "annotated.parquet"
            log_path = folder / "anntools.log"
            started = time.monotonic()
            too_big = check_scratch(
                scratch_of(folder),
                needed=scratch_needed(
                    input_bytes=job.input_size_bytes,
                    filename=job.input_filename,
                    reserve_bytes=self._settings.scratch_reserve_bytes,
                ),
            )
            outcome: runner.EngineOutcome
            if too_big:
                outcome = runner.InputRefused(too_big)
                downloaded = time.monotonic()
            else:
                await self._download(job.input_bucket, job.input_key, input_path)
                downloaded = time.monotonic()
                bundle_dir = await self._bundles.get(job.build) if job.build else None
                outcome = await self._annotate_holding_lease(
                    job,
                    runner_id,
                    input_path,
                    output_path,
                    columnar_path,
                    bundle_dir,
                    RunLogFile(path=log_path, bucket=bucket, key=log_key),
                )
            if isinstance(outcome, runner.TooLarge):
                outcome = runner.InputRefused(
                    size_limit_message(job.tier, self._settings.size_limits[job.tier])
                )
            elif isinstance(outcome, runner.Annotated) and not outcome.summary.get("variants"):
                outcome = runner.InputRefused(NO_VARIANTS_MESSAGE)
            annotated = time.monotonic()
            run_log = _job_log(job, log_path, outcome)
            if isinstance(outcome, runner.InputRefused):
                await self._put(bucket, log_key, run_log.encode(), "text/plain; charset=utf-8")
                if not await self._repo.fail_run(
                    job_id=job.job_id,
                    runner=runner_id,
                    error=outcome.reason,
                    failed_at=utc_timestamp(),
                    results_bucket=bucket,
                    log_key=log_key,
                ):
                    raise LeaseLost
                log.info("input refused: %s", outcome.reason)
                await self._publish_final(job.job_id)
                return
            await self._upload(bucket, result_key, output_path)
            await self._put(bucket, log_key, run_log.encode(), "text/plain; charset=utf-8")
            columnar_uploaded = await self._upload_columnar(
                bucket, columnar_key, columnar_path, outcome.columnar_error
            )
            uploaded = time.monotonic()
            summary = {
                key: value
                for key, value in outcome.summary.items()
                if key not in WORKER_LOCAL_SUMMARY_KEYS
            }
            provenance = summary.pop("provenance", None)
            summary["timings_seconds"] = {
                "download": round(downloaded - started, 3),
                "annotate": round(annotated - downloaded, 3),
                "upload": round(uploaded - annotated, 3),
            }
            if not await self._repo.complete(
                job_id=job.job_id,
                runner=runner_id,
                results_bucket=bucket,
                result_key=result_key,
                log_key=log_key,
                columnar_key=columnar_key if columnar_uploaded else None,
                summary=summary,
                provenance=provenance,
                completed_at=utc_timestamp(),
            ):
                raise LeaseLost
            log.info("completed", extra={"timings": summary["timings_seconds"]})
            await self._publish_final(job.job_id)

    async def _annotate_holding_lease(
        self,
        job: JobRecord,
        runner_id: str,
        input_path: Path,
        output_path: Path,
        columnar_path: Path,
        bundle_dir: Path | None,
        run_log: RunLogFile,
    ) -> runner.EngineOutcome:
        latest = 0.0
        time_limit = self._settings.time_limits[job.tier]
        deadline = time.monotonic() + time_limit
        next_log_upload = time.monotonic() + self._settings.live_log_seconds
        log_shared = False

        def on_progress(fraction: float) -> None:
            nonlocal latest
            latest = fraction

        engine = asyncio.ensure_future(
            self._engines.annotate(
                input_path=input_path,
                output_path=output_path,
                columnar_path=columnar_path,
                log_path=run_log.path,
                build=job.build,
                bundle_dir=bundle_dir,
                max_text_bytes=self._settings.size_limits[job.tier],
                on_progress=on_progress,
            )
        )
        try:
            while True:
                done, _ = await asyncio.wait(
                    {engine},
                    timeout=max(
                        0,
                        min(self._settings.progress_interval_seconds, deadline - time.monotonic()),
                    ),
                )
                if done:
                    return engine.result()
                if time.monotonic() >= deadline:
                    # The engine is killed below (a cancelled run replaces its process).
                    log.warning("annotation stopped at the %s tier's time limit", job.tier.value)
                    return runner.InputRefused(time_limit_message(job.tier, time_limit))
                if time.monotonic() >= next_log_upload:
                    next_log_upload = time.monotonic() + self._settings.live_log_seconds
                    log_shared = await self._share_running_log(job, run_log) or log_shared
                # The output is not uploaded yet, so a run ends at 99% until COMPLETED.
                if not await self._repo.renew(
                    job_id=job.job_id,
                    runner=runner_id,
                    lease_seconds=self._settings.lease_seconds,
                    progress=min(99, int(latest * 100)),
                    log=(run_log.bucket, run_log.key) if log_shared else None,
                ):
                    raise LeaseLost
        finally:
            if not engine.done():
                engine.cancel()
                with contextlib.suppress(BaseException):
                    await engine

    async def _share_running_log(self, job: JobRecord, run_log: RunLogFile) -> bool:
        """Upload the log as it is so far, so the job page can show it while the job runs;
        True once it is there. A failed upload only delays that: the job goes on."""
        if not run_log.path.exists():
            return False
        try:
            text = _job_log(job, run_log.path, None)
            await self._put(run_log.bucket, run_log.key, text.encode(), "text/plain; charset=utf-8")
        except Exception as failure:  # logged; the job must not fail
            log.warning("could not upload the running job's log: %s", failure)
            return False
        return True

    async def _download(self, bucket: str, key: str, destination: Path) -> None:
        await self._s3.download_file(bucket, key, str(destination))

    async def _upload(self, bucket: str, key: str, source: Path) -> None:
        # S3 shows an object (multipart or not) only once it is complete, so a crash
        # mid-upload never leaves a partial result behind; a re-run overwrites the same key.
        await self._s3.upload_file(
            str(source), bucket, key, ExtraArgs={"ContentType": "application/gzip"}
        )

    async def _upload_columnar(
        self, bucket: str, key: str, source: Path, error: str | None
    ) -> bool:
        """Upload the columnar copy beside the result. Without it the job still completes:
        the jobs service rebuilds the copy from the VCF on the viewer's first query."""
        if error is None:
            try:
                await self._s3.upload_file(
                    str(source),
                    bucket,
                    key,
                    ExtraArgs={"ContentType": "application/vnd.apache.parquet"},
                )
                return True
            except Exception as failure:  # logged; the job must not fail
                error = f"{type(failure).__name__}: {failure}"
        log.warning("no columnar copy for the results viewer (it is rebuilt on demand): %s", error)
        return False

    async def _put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        await self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    async def _publish_final(self, job_id: str) -> None:
        job = await self._repo.get(job_id)
        if job:
            await self.publish_outcome(job)

    async def _republish_if_abandoned(self, job: JobRecord) -> None:
        """Seen finished by a worker that did not finish it: the finisher publishes the outcome
        right after its commit, so only republish once it has had a lease's time to do so and
        the flag is still unset (it crashed in between). Sooner would race it and publish twice."""
        if job.outcome_published or not job.finished:
            return
        age = time.time() - _epoch(job.completed_at)
        if age < self._settings.lease_seconds:
            raise RetryLater(
                "the job just finished; its worker is publishing the outcome",
                delay_seconds=max(1, math.ceil(self._settings.lease_seconds - age)),
            )
        log.warning("republishing an outcome its worker did not record as published")
        await self.publish_outcome(job)

    async def publish_outcome(self, job: JobRecord) -> None:
        """Publish JobCompleted/JobFailed once; a crash before the flag is set republishes."""
        if job.outcome_published or not job.finished:
            return
        if job.status is JobStatus.COMPLETED:
            await self._events.publish(
                JobCompleted(
                    job_id=job.job_id,
                    user_id=job.user_id,
                    payload=JobCompletedPayload(
                        tier=job.tier,
                        result_key=job.result_key or "",
                        log_key=job.log_key or "",
                        summary=job.summary or {},
                    ),
                )
            )
        else:
            await self._events.publish(
                JobFailed(
                    job_id=job.job_id,
                    user_id=job.user_id,
                    payload=JobFailedPayload(tier=job.tier, reason=job.error or "unknown"),
                )
            )
        await self._repo.mark_outcome_published(job_id=job.job_id)

    async def handle_dead_letter(self, event: Event, delivery: Delivery) -> None:
        """A request that kept failing: fail its job, unless a worker is running it right now."""
        if not isinstance(event, JobRequested) or not event.job_id:
            return
        job = await self._repo.get(event.job_id)
        if job is None:
            return
        if job.finished:
            await self._republish_if_abandoned(job)
            return
        if job.lease_live():
            raise RetryLater("a worker is running the job", delay_seconds=60)
        if await self._repo.fail_abandoned(job_id=job.job_id, error=GAVE_UP_MESSAGE):
            log.error(
                "request dead-lettered after %d deliveries; job failed", delivery.receive_count
            )
            await self._publish_final(job.job_id)
            return
        current = await self._repo.get(job.job_id)
        if current and current.finished:
            await self._republish_if_abandoned(current)


def _epoch(timestamp: str | None) -> float:
    return datetime.fromisoformat(timestamp).timestamp() if timestamp else 0.0


def _job_log(job: JobRecord, anntools_log: Path, outcome: runner.EngineOutcome | None) -> str:
    """The job's log: what it ran on, the engine's lines, and how it ended (``None``: it is
    still running)."""
    lines = [
        f"job {job.job_id}",
        f"input {job.input_filename} ({job.input_size_bytes} bytes), "
        f"build {job.build or 'detect from file'}",
    ]
    if anntools_log.exists():
        lines.append(anntools_log.read_text(errors="replace").rstrip("\n"))
    if outcome is None:
        lines.append("RUNNING (this log grows while the job runs)")
    elif isinstance(outcome, runner.InputRefused):
        lines.append(f"FAILED: {outcome.reason}")
        lines.append("Fix the file and submit it as a new job.")
    else:
        lines.append("COMPLETED")
    return "\n".join(lines) + "\n"

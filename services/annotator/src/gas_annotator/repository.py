"""The annotator's transitions of job records: a run claims a job, holds it with a lease it
renews, and ends it (COMPLETED, FAILED or handed back); a request that kept failing fails
its job. The record itself is the contract in :mod:`gas_core.jobs`.

Two live workers can never both hold a job: a claim is conditional on the job waiting
(QUEUED, or RUNNING whose lease has passed because its worker died), and every later write
of the run is conditional on ``runner`` still holding it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gas_core.jobs import ConditionalUpdate, JobStatus, JobTable, StorageState, utc_timestamp


class RunRepository(JobTable):
    async def claim(
        self, *, job_id: str, runner: str, lease_seconds: float, now: float | None = None
    ) -> bool:
        """QUEUED (or RUNNING whose lease has expired: its worker died) → RUNNING by ``runner``,
        who then renews the lease with :meth:`renew`."""
        now = time.time() if now is None else now
        update = (
            ConditionalUpdate()
            .set(
                {
                    "status": JobStatus.RUNNING,
                    "runner": runner,
                    "lease_expires_at": now + lease_seconds,
                    "started_at": utc_timestamp(datetime.fromtimestamp(now, UTC)),
                    "progress": 0,
                }
            )
            .add("attempts", 1)
        )
        return await self._apply(job_id, update, _claimable(update, now))

    async def renew(
        self,
        *,
        job_id: str,
        runner: str,
        lease_seconds: float,
        progress: int | None = None,
        log: tuple[str, str] | None = None,
        now: float | None = None,
    ) -> bool:
        """Extend ``runner``'s lease (and record progress, and the (bucket, key) of the log
        uploaded so far); False means the job is no longer ours."""
        now = time.time() if now is None else now
        attributes: dict[str, Any] = {"lease_expires_at": now + lease_seconds}
        if progress is not None:
            attributes["progress"] = max(0, min(100, progress))
        if log is not None:
            attributes["results_bucket"], attributes["log_key"] = log
        return await self._held_by(job_id, runner, ConditionalUpdate().set(attributes))

    async def release(self, *, job_id: str, runner: str) -> bool:
        """RUNNING by ``runner`` → QUEUED, so another worker can take it at once."""
        update = ConditionalUpdate().set({"status": JobStatus.QUEUED, "progress": 0})
        update.remove("runner", "lease_expires_at")
        return await self._held_by(job_id, runner, update)

    async def complete(
        self,
        *,
        job_id: str,
        runner: str,
        results_bucket: str,
        result_key: str,
        log_key: str,
        summary: Mapping[str, Any],
        provenance: Mapping[str, Any] | None,
        completed_at: str,
        columnar_key: str | None = None,
    ) -> bool:
        """RUNNING by ``runner`` → COMPLETED with its result AVAILABLE (and its columnar copy,
        when it was written)."""
        update = ConditionalUpdate().set(
            {
                "status": JobStatus.COMPLETED,
                "storage": StorageState.AVAILABLE,
                "progress": 100,
                "results_bucket": results_bucket,
                "result_key": result_key,
                "log_key": log_key,
                "columnar_key": columnar_key,
                "summary": dict(summary),
                "provenance": dict(provenance) if provenance else None,
                "completed_at": completed_at,
                "error": None,
            }
        )
        update.remove("lease_expires_at")
        return await self._held_by(job_id, runner, update)

    async def fail_run(
        self,
        *,
        job_id: str,
        runner: str,
        error: str,
        failed_at: str,
        results_bucket: str | None = None,
        log_key: str | None = None,
    ) -> bool:
        """RUNNING by ``runner`` → FAILED (the input was refused; retrying cannot help)."""
        update = ConditionalUpdate().set(
            {
                "status": JobStatus.FAILED,
                "error": error,
                "completed_at": failed_at,
                "results_bucket": results_bucket,
                "log_key": log_key,
            }
        )
        update.remove("lease_expires_at")
        return await self._held_by(job_id, runner, update)

    async def fail_abandoned(self, *, job_id: str, error: str, now: float | None = None) -> bool:
        """QUEUED, or RUNNING with an expired lease → FAILED (its request kept failing)."""
        now = time.time() if now is None else now
        update = ConditionalUpdate().set(
            {
                "status": JobStatus.FAILED,
                "error": error,
                "completed_at": utc_timestamp(datetime.fromtimestamp(now, UTC)),
            }
        )
        update.remove("lease_expires_at")
        return await self._apply(job_id, update, _claimable(update, now))

    async def mark_outcome_published(self, *, job_id: str) -> None:
        update = ConditionalUpdate().set({"outcome_published": True})
        await self._apply(job_id, update, "attribute_exists(job_id)")

    async def _held_by(self, job_id: str, runner: str, update: ConditionalUpdate) -> bool:
        condition = (
            f"{update.name('status')} = {update.value(JobStatus.RUNNING)} AND "
            f"{update.name('runner')} = {update.value(runner)}"
        )
        return await self._apply(job_id, update, condition)


def _claimable(update: ConditionalUpdate, now: float) -> str:
    """The job waits for a worker: QUEUED, or RUNNING whose lease has passed (its worker died)."""
    return (
        f"{update.name('status')} = {update.value(JobStatus.QUEUED)} OR "
        f"({update.name('status')} = {update.value(JobStatus.RUNNING)} AND "
        f"{update.name('lease_expires_at')} < {update.value(now)})"
    )

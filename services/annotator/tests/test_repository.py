"""The annotator's transitions against a real DynamoDB API (the moto server): every one is
conditional, so redeliveries, races and crashed workers cannot corrupt a job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gas_annotator.repository import RunRepository
from gas_core.jobs import JobRecord, JobStatus, StorageState, utc_timestamp
from gas_testing.plugin import Stack, job_record, put_jobs, repository_on

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(stack: Stack) -> AsyncIterator[RunRepository]:
    async with repository_on(stack, RunRepository) as repo:
        yield repo


async def queued_jobs(stack: Stack, count: int = 1) -> list[JobRecord]:
    """Jobs the jobs service has queued: waiting for a worker."""
    jobs = [job_record(status=JobStatus.QUEUED, queued_at=utc_timestamp()) for _ in range(count)]
    await put_jobs(stack, *jobs)
    return jobs


async def test_only_one_of_two_racing_workers_claims_a_job(
    stack: Stack, repo: RunRepository
) -> None:
    (job,) = await queued_jobs(stack)
    claims = await asyncio.gather(
        repo.claim(job_id=job.job_id, runner="worker-a", lease_seconds=30),
        repo.claim(job_id=job.job_id, runner="worker-b", lease_seconds=30),
    )
    assert sorted(claims) == [False, True]
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.RUNNING
    assert stored.attempts == 1
    assert stored.lease_live()


async def test_many_racing_claims_never_give_a_job_two_runners(
    stack: Stack, repo: RunRepository
) -> None:
    # A race window is narrow: many rounds of four racers are what catches a store whose
    # conditional writes are not atomic (moto's threaded server, without our launcher).
    for job in await queued_jobs(stack, 60):
        claims = await asyncio.gather(
            *(repo.claim(job_id=job.job_id, runner=f"w{n}", lease_seconds=30) for n in range(4))
        )
        assert sum(claims) == 1


async def test_a_dead_workers_job_is_reclaimed_after_its_lease_and_the_old_run_is_shut_out(
    stack: Stack, repo: RunRepository
) -> None:
    (job,) = await queued_jobs(stack)
    assert await repo.claim(job_id=job.job_id, runner="dead", lease_seconds=30, now=1000.0)
    assert not await repo.claim(job_id=job.job_id, runner="next", lease_seconds=30, now=1010.0)
    assert await repo.claim(job_id=job.job_id, runner="next", lease_seconds=30, now=1031.0)

    assert not await repo.renew(job_id=job.job_id, runner="dead", lease_seconds=30, progress=50)
    assert not await repo.complete(
        job_id=job.job_id,
        runner="dead",
        results_bucket="results",
        result_key="r",
        log_key="l",
        summary={},
        provenance=None,
        completed_at=utc_timestamp(),
    )
    assert await repo.renew(job_id=job.job_id, runner="next", lease_seconds=30, progress=40)
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert (stored.runner, stored.progress, stored.attempts) == ("next", 40, 2)


async def test_completion_keeps_summary_numbers_as_plain_numbers(
    stack: Stack, repo: RunRepository
) -> None:
    (job,) = await queued_jobs(stack)
    assert await repo.claim(job_id=job.job_id, runner="w", lease_seconds=30)
    summary = {"variants": 1000, "pct_in_dbsnp": 12.5, "regions": {"intron": 400}}
    assert await repo.complete(
        job_id=job.job_id,
        runner="w",
        results_bucket="results",
        result_key="alice/x/sample.annot.vcf.gz",
        log_key="alice/x/sample.log",
        summary=summary,
        provenance={"build": "GRCh37"},
        completed_at=utc_timestamp(),
    )
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.COMPLETED
    assert stored.storage is StorageState.AVAILABLE
    assert stored.progress == 100
    assert stored.summary == summary
    assert isinstance(stored.summary["variants"], int)
    assert stored.lease_expires_at is None


async def test_a_released_job_can_be_claimed_at_once(stack: Stack, repo: RunRepository) -> None:
    (job,) = await queued_jobs(stack)
    assert await repo.claim(job_id=job.job_id, runner="stopping", lease_seconds=300)
    assert await repo.release(job_id=job.job_id, runner="stopping")
    assert await repo.claim(job_id=job.job_id, runner="other", lease_seconds=300)


async def test_abandoned_jobs_fail_but_a_live_run_is_left_alone(
    stack: Stack, repo: RunRepository
) -> None:
    (live,) = await queued_jobs(stack)
    assert await repo.claim(job_id=live.job_id, runner="w", lease_seconds=300)
    assert not await repo.fail_abandoned(job_id=live.job_id, error="gave up")

    (waiting,) = await queued_jobs(stack)
    assert await repo.fail_abandoned(job_id=waiting.job_id, error="gave up")
    stored = await repo.get(waiting.job_id)
    assert stored is not None
    assert (stored.status, stored.error) == (JobStatus.FAILED, "gave up")

"""The jobs service's reads and transitions against a real DynamoDB API (the moto server):
a job is queued or failed only from the states before a worker takes it, and a user's list
pages newest first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gas_annotator.repository import RunRepository
from gas_core.jobs import JobRecord, JobStatus, utc_timestamp
from gas_jobs.repository import InvalidCursor, JobRepository
from gas_jobs.service import fair_queue_position
from gas_testing.plugin import Stack, job_record, put_jobs, repository_on

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(stack: Stack) -> AsyncIterator[JobRepository]:
    async with repository_on(stack, JobRepository) as repo:
        yield repo


async def queued_job(repo: JobRepository) -> JobRecord:
    job = job_record()
    await repo.create(job)
    assert await repo.queue(job_id=job.job_id, input_size_bytes=1000, queued_at=utc_timestamp())
    return job


async def test_a_job_reads_back_as_written_and_is_queued_once(repo: JobRepository) -> None:
    job = job_record()
    await repo.create(job)
    assert await repo.get(job.job_id) == job

    assert await repo.queue(job_id=job.job_id, input_size_bytes=999, queued_at=utc_timestamp())
    assert not await repo.queue(job_id=job.job_id, input_size_bytes=999, queued_at=utc_timestamp())
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.QUEUED
    assert stored.input_size_bytes == 999


async def test_a_job_fails_before_its_run_but_never_once_a_worker_has_it(
    stack: Stack, repo: JobRepository
) -> None:
    refused = job_record()
    await repo.create(refused)
    assert await repo.fail_before_run(job_id=refused.job_id, error="not a VCF", failed_at="t")
    stored = await repo.get(refused.job_id)
    assert stored is not None
    assert (stored.status, stored.error) == (JobStatus.FAILED, "not a VCF")

    running = job_record(status=JobStatus.RUNNING, queued_at=utc_timestamp(), runner="w")
    await put_jobs(stack, running)
    assert not await repo.fail_before_run(job_id=running.job_id, error="late", failed_at="t")
    assert not await repo.queue(job_id=running.job_id, input_size_bytes=1, queued_at="t")
    stored = await repo.get(running.job_id)
    assert stored is not None and stored.status is JobStatus.RUNNING


async def test_queued_jobs_without_a_published_request_are_found_until_it_is(
    repo: JobRepository,
) -> None:
    stranded = await queued_job(repo)
    published = await queued_job(repo)
    await repo.mark_request_published(job_id=published.job_id)

    found = await repo.queued_unpublished(queued_before=utc_timestamp())
    assert [job.job_id for job in found] == [stranded.job_id]
    assert await repo.queued_unpublished(queued_before="2000-01-01T00:00:00.000000Z") == []

    await repo.mark_request_published(job_id=stranded.job_id)
    assert await repo.queued_unpublished(queued_before=utc_timestamp()) == []


async def test_a_users_jobs_list_newest_first_in_pages(repo: JobRepository) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [job_record(user_id="bob", submitted_at=start + timedelta(minutes=i)) for i in range(5)]
    for job in jobs:
        await repo.create(job)
    await repo.create(job_record(user_id="carol"))
    await repo.queue(job_id=jobs[1].job_id, input_size_bytes=1, queued_at=utc_timestamp())

    first = await repo.list_for_user(user_id="bob", limit=3)
    assert [j.job_id for j in first.items] == [j.job_id for j in reversed(jobs[2:])]
    assert first.next_cursor
    second = await repo.list_for_user(user_id="bob", limit=3, cursor=first.next_cursor)
    assert [j.job_id for j in second.items] == [jobs[1].job_id, jobs[0].job_id]
    assert await repo.count_for_user(user_id="bob") == 5

    queued = await repo.list_for_user(user_id="bob", status=JobStatus.QUEUED, limit=3)
    assert [j.job_id for j in queued.items] == [jobs[1].job_id]

    with pytest.raises(InvalidCursor):
        await repo.list_for_user(user_id="bob", cursor="not-a-cursor")


async def test_queue_position_counts_earlier_waiting_jobs(
    stack: Stack, repo: JobRepository
) -> None:
    first, second, third = [await queued_job(repo) for _ in range(3)]
    third_record = await repo.get(third.job_id)
    assert third_record is not None and third_record.queued_at

    async def position() -> int:
        assert third_record is not None and third_record.queued_at
        return fair_queue_position(
            await repo.waiting(), user_id=third_record.user_id, queued_at=third_record.queued_at
        )

    assert await position() == 3
    # A worker took the first job (the annotator's claim): it no longer waits ahead.
    first_record = await repo.get(first.job_id)
    assert first_record is not None
    await put_jobs(stack, first_record.model_copy(update={"status": JobStatus.RUNNING}))
    assert await position() == 2
    # The annotator's own transitions keep the sparse index in step: a claim leaves it, a
    # hand-back joins it again at the job's original place, a failure leaves it for good.
    second_record = await repo.get(second.job_id)
    assert second_record is not None
    async with repository_on(stack, RunRepository) as runs:
        assert await runs.claim(job_id=third.job_id, runner="w", lease_seconds=60)
        assert [at for _, at in await repo.waiting()] == [second_record.queued_at]
        assert await runs.release(job_id=third.job_id, runner="w")
        assert await position() == 2
        assert await runs.fail_abandoned(job_id=third.job_id, error="kept failing")
    assert [at for _, at in await repo.waiting()] == [second_record.queued_at]


def test_another_users_burst_does_not_push_a_job_back() -> None:
    burst = [("ann", f"2026-01-01T00:00:{second:02d}") for second in range(20)]
    late = "2026-01-01T00:01:00"
    assert fair_queue_position(burst, user_id="bob", queued_at=late) == 2
    assert fair_queue_position(burst, user_id="ann", queued_at=burst[5][1]) == 6
    with_bob = [*burst, ("bob", late), ("bob", "2026-01-01T00:01:01")]
    # Turns go ann, bob, ann, bob, ann: ann's 3rd job waits for four.
    assert fair_queue_position(with_bob, user_id="ann", queued_at=burst[2][1]) == 5
    assert fair_queue_position(with_bob, user_id="bob", queued_at="2026-01-01T00:01:01") == 4

"""The job repository against a real DynamoDB API (the moto server): every transition is
conditional, so redeliveries, races and crashed workers cannot corrupt a job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gas_core.aws import aws_clients
from gas_core.events import Tier
from gas_core.jobs import (
    InvalidCursor,
    JobRecord,
    JobRepository,
    JobStatus,
    StorageState,
    utc_timestamp,
)
from gas_testing.plugin import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(stack: Stack) -> AsyncIterator[JobRepository]:
    async with aws_clients(stack.aws) as clients:
        yield JobRepository(await clients.client("dynamodb"), stack.settings.jobs_table)


def new_job(user_id: str = "alice", *, submitted_at: datetime | None = None) -> JobRecord:
    job_id = uuid.uuid4().hex
    moment = utc_timestamp(submitted_at)
    return JobRecord(
        job_id=job_id,
        user_id=user_id,
        tier=Tier.FREE,
        status=JobStatus.CREATED,
        submitted_at=moment,
        created_at=moment,
        input_filename="sample.vcf",
        input_size_bytes=1234,
        input_bucket="inputs",
        input_key=f"{user_id}/{job_id}/sample.vcf",
        build="GRCh37",
    )


async def queued_job(repo: JobRepository) -> JobRecord:
    job = new_job()
    await repo.create(job)
    assert await repo.queue(job_id=job.job_id, input_size_bytes=1000, queued_at=utc_timestamp())
    return job


async def test_a_job_reads_back_as_written_and_is_queued_once(repo: JobRepository) -> None:
    job = new_job()
    await repo.create(job)
    assert await repo.get(job.job_id) == job

    assert await repo.queue(job_id=job.job_id, input_size_bytes=999, queued_at=utc_timestamp())
    assert not await repo.queue(job_id=job.job_id, input_size_bytes=999, queued_at=utc_timestamp())
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.QUEUED
    assert stored.input_size_bytes == 999


async def test_only_one_of_two_racing_workers_claims_a_job(repo: JobRepository) -> None:
    job = await queued_job(repo)
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


async def test_many_racing_claims_never_give_a_job_two_runners(repo: JobRepository) -> None:
    # A race window is narrow: many rounds of four racers are what catches a store whose
    # conditional writes are not atomic (moto's threaded server, without our launcher).
    for _ in range(60):
        job = await queued_job(repo)
        claims = await asyncio.gather(
            *(repo.claim(job_id=job.job_id, runner=f"w{n}", lease_seconds=30) for n in range(4))
        )
        assert sum(claims) == 1


async def test_a_dead_workers_job_is_reclaimed_after_its_lease_and_the_old_run_is_shut_out(
    repo: JobRepository,
) -> None:
    job = await queued_job(repo)
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


async def test_completion_keeps_summary_numbers_as_plain_numbers(repo: JobRepository) -> None:
    job = await queued_job(repo)
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


async def test_a_released_job_can_be_claimed_at_once(repo: JobRepository) -> None:
    job = await queued_job(repo)
    assert await repo.claim(job_id=job.job_id, runner="stopping", lease_seconds=300)
    assert await repo.release(job_id=job.job_id, runner="stopping")
    assert await repo.claim(job_id=job.job_id, runner="other", lease_seconds=300)


async def test_abandoned_jobs_fail_but_a_live_run_is_left_alone(repo: JobRepository) -> None:
    live = await queued_job(repo)
    assert await repo.claim(job_id=live.job_id, runner="w", lease_seconds=300)
    assert not await repo.fail_abandoned(job_id=live.job_id, error="gave up")

    waiting = await queued_job(repo)
    assert await repo.fail_abandoned(job_id=waiting.job_id, error="gave up")
    stored = await repo.get(waiting.job_id)
    assert stored is not None
    assert (stored.status, stored.error) == (JobStatus.FAILED, "gave up")


async def test_storage_moves_only_along_its_lifecycle(repo: JobRepository) -> None:
    job = await queued_job(repo)
    assert not await repo.start_archiving(job_id=job.job_id)  # not completed yet
    assert await repo.claim(job_id=job.job_id, runner="w", lease_seconds=30)
    assert await repo.complete(
        job_id=job.job_id,
        runner="w",
        results_bucket="b",
        result_key="r",
        log_key="l",
        summary={},
        provenance=None,
        completed_at=utc_timestamp(),
    )
    assert await repo.start_archiving(job_id=job.job_id)
    assert await repo.cancel_archiving(job_id=job.job_id)
    assert await repo.start_archiving(job_id=job.job_id, since="2000-01-01T00:00:00.000000Z")
    assert await repo.stalled_archive_job_ids(started_before=utc_timestamp()) == [job.job_id]
    assert await repo.stalled_archive_job_ids(started_before="1999-01-01T00:00:00.000000Z") == []
    assert not await repo.start_restoring(job_id=job.job_id)
    assert await repo.mark_archived(job_id=job.job_id, extra={"archive_key": "cold/r"})
    assert not await repo.mark_archived(job_id=job.job_id)
    assert await repo.stalled_archive_job_ids(started_before=utc_timestamp()) == []
    assert await repo.start_restoring(job_id=job.job_id)
    assert await repo.restoring_job_ids() == [job.job_id]
    assert await repo.mark_restored(job_id=job.job_id)
    assert await repo.restoring_job_ids() == []
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert stored.storage is StorageState.AVAILABLE


async def test_a_users_jobs_list_newest_first_in_pages(repo: JobRepository) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [new_job("bob", submitted_at=start + timedelta(minutes=i)) for i in range(5)]
    for job in jobs:
        await repo.create(job)
    await repo.create(new_job("carol"))
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


async def test_queue_position_counts_earlier_waiting_jobs(repo: JobRepository) -> None:
    first, _, third = [await queued_job(repo) for _ in range(3)]
    third_record = await repo.get(third.job_id)
    assert third_record is not None and third_record.queued_at
    assert await repo.count_queued_before(queued_at=third_record.queued_at) == 2
    assert await repo.claim(job_id=first.job_id, runner="w", lease_seconds=30)
    assert await repo.count_queued_before(queued_at=third_record.queued_at) == 1

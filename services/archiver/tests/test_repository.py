"""The archiver's storage transitions and scans against a real DynamoDB API (the moto
server): ``storage`` moves only along its lifecycle, and only on COMPLETED jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gas_archiver.repository import USER_PAGE_SIZE, StorageRepository
from gas_core.jobs import JobStatus, StorageState, utc_timestamp
from gas_testing.plugin import Stack, job_record, put_jobs, repository_on

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(stack: Stack) -> AsyncIterator[StorageRepository]:
    async with repository_on(stack, StorageRepository) as repo:
        yield repo


async def test_storage_moves_only_along_its_lifecycle(
    stack: Stack, repo: StorageRepository
) -> None:
    job = job_record(status=JobStatus.QUEUED, queued_at=utc_timestamp())
    await put_jobs(stack, job)
    assert not await repo.start_archiving(job_id=job.job_id)  # not completed yet
    # What the annotator's completion leaves.
    completed = job.model_copy(
        update={"status": JobStatus.COMPLETED, "storage": StorageState.AVAILABLE}
    )
    await put_jobs(stack, completed)
    assert await repo.start_archiving(job_id=job.job_id)
    assert await repo.cancel_archiving(job_id=job.job_id)
    assert await repo.start_archiving(job_id=job.job_id, since="2000-01-01T00:00:00.000000Z")
    assert await repo.stalled_archive_job_ids(started_before=utc_timestamp()) == [job.job_id]
    assert await repo.stalled_archive_job_ids(started_before="1999-01-01T00:00:00.000000Z") == []
    assert not await repo.start_restoring(job_id=job.job_id)
    assert await repo.mark_archived(job_id=job.job_id)
    assert not await repo.mark_archived(job_id=job.job_id)
    assert await repo.stalled_archive_job_ids(started_before=utc_timestamp()) == []
    assert await repo.start_restoring(job_id=job.job_id, tier="Standard")
    assert await repo.restoring_job_ids() == [job.job_id]
    restoring = await repo.get(job.job_id)
    assert restoring is not None and restoring.restore_tier == "Standard"
    assert await repo.mark_restored(job_id=job.job_id)
    assert await repo.restoring_job_ids() == []
    stored = await repo.get(job.job_id)
    assert stored is not None
    assert stored.storage is StorageState.AVAILABLE


async def test_a_users_completed_jobs_are_all_found_newest_first(
    stack: Stack, repo: StorageRepository
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    completed = [
        job_record(
            user_id="bob",
            status=JobStatus.COMPLETED,
            storage=StorageState.AVAILABLE,
            submitted_at=start + timedelta(seconds=i),
        )
        for i in range(USER_PAGE_SIZE + 5)
    ]
    others = [
        job_record(user_id="bob", status=JobStatus.FAILED),
        job_record(user_id="carol", status=JobStatus.COMPLETED, storage=StorageState.AVAILABLE),
    ]
    await put_jobs(stack, *completed, *others)

    found = [job.job_id async for job in repo.completed_for_user("bob")]
    assert found == [job.job_id for job in reversed(completed)]

"""Who publishes a finished job's outcome: its finisher at once; anyone else only when the
finisher evidently crashed before recording the publish."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from gas_annotator.repository import RunRepository
from gas_annotator.service import Annotator, RunSettings
from gas_core.events import Envelope, JobCompleted, JobRequested
from gas_core.jobs import JobRecord, JobStatus
from gas_core.messaging import Delivery, RetryLater
from gas_core.tiers import Tier

LEASE_SECONDS = 30.0


class OneJob:
    def __init__(self, job: JobRecord) -> None:
        self.job = job

    async def get(self, job_id: str) -> JobRecord | None:
        return self.job if job_id == self.job.job_id else None

    async def mark_outcome_published(self, *, job_id: str) -> None:
        self.job = self.job.model_copy(update={"outcome_published": True})


class Recorder:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, event: Envelope) -> None:
        self.published.append(event)


def finished_job(completed_ago: timedelta) -> JobRecord:
    now = datetime.now(UTC)
    return JobRecord(
        job_id=uuid.uuid4().hex,
        user_id="u1",
        tier=Tier.FREE,
        status=JobStatus.COMPLETED,
        submitted_at=now.isoformat(),
        created_at=now.isoformat(),
        input_filename="a.vcf",
        input_size_bytes=10,
        input_bucket="in",
        input_key="u1/j/a.vcf",
        result_key="u1/j/a.annot.vcf.gz",
        log_key="u1/j/a.annot.log",
        completed_at=(now - completed_ago).isoformat(),
    )


def duplicate_request(job: JobRecord) -> JobRequested:
    return JobRequested.model_validate(
        {
            "job_id": job.job_id,
            "user_id": job.user_id,
            "payload": {
                "tier": "free",
                "input_bucket": job.input_bucket,
                "input_key": job.input_key,
                "filename": job.input_filename,
                "size_bytes": job.input_size_bytes,
            },
        }
    )


def annotator(repo: OneJob, events: Recorder) -> Annotator:
    return Annotator(
        repo=cast(RunRepository, repo),
        s3=None,
        events=events,
        bundles=cast(Any, None),
        engines=cast(Any, None),
        requests=cast(Any, None),
        settings=RunSettings(
            results_bucket="results",
            lease_seconds=LEASE_SECONDS,
            progress_interval_seconds=1,
            work_dir=None,
            job_slots=2,
            waiting_places=2,
            size_limits={Tier.FREE: 1024, Tier.PREMIUM: 1024**3},
            time_limits={Tier.FREE: 60, Tier.PREMIUM: 3600},
            user_share_wait_seconds=3,
        ),
    )


DELIVERY = Delivery(message_id="m-1", receive_count=2, receipt_handle="r")


async def test_a_duplicate_request_for_a_just_finished_job_does_not_publish_a_second_outcome() -> (
    None
):
    job = finished_job(completed_ago=timedelta(seconds=1))
    events = Recorder()
    with pytest.raises(RetryLater):
        await annotator(OneJob(job), events).handle(duplicate_request(job), DELIVERY)
    assert events.published == []


async def test_an_outcome_its_finisher_never_published_is_published_after_a_lease() -> None:
    job = finished_job(completed_ago=timedelta(seconds=LEASE_SECONDS + 5))
    repo, events = OneJob(job), Recorder()
    await annotator(repo, events).handle(duplicate_request(job), DELIVERY)
    assert [type(event) for event in events.published] == [JobCompleted]
    assert repo.job.outcome_published
    await annotator(repo, events).handle(duplicate_request(job), DELIVERY)
    assert len(events.published) == 1

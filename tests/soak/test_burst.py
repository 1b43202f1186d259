"""A burst: 200 small real VCFs from ten users submitted as fast as the API takes them. Each
job completes once, with one result and one mail; none is lost."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from gas_core.tiers import Tier
from gas_testing.data import KnownSnp
from gas_testing.localstack import wait_until
from tests.soak.report import record
from tests.soak.stack import (
    TERMINAL,
    StartSoak,
    objects_per_job,
    seconds_between,
    spread,
    vcf,
)

pytestmark = [pytest.mark.soak, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

JOBS = 200
USERS = 10
# Small files: the burst is about the number of jobs, not the engine's speed.
VARIANTS = 20
# Two annotator processes, as KEDA would scale them on a deep queue.
ANNOTATORS = 2
RESULT_FILES = ["sample.annot.log", "sample.annot.parquet", "sample.annot.vcf.gz"]


def test_a_burst_of_200_jobs_completes_each_once_with_one_result_and_one_mail(
    start_soak: StartSoak, snps: list[KnownSnp]
) -> None:
    soak = start_soak(annotators=ANNOTATORS)
    users = [soak.user(f"burst{n}", Tier.FREE if n % 2 else Tier.PREMIUM) for n in range(USERS)]
    work = [
        (users[n % USERS], vcf(snps, VARIANTS, start=n * VARIANTS)) for n in range(JOBS)
    ]  # every job its own variants

    began = datetime.now(UTC)
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        job_ids = list(pool.map(lambda item: item[0].run(item[1], "sample.vcf"), work))
    submit_seconds = time.monotonic() - started
    owner = {job_id: user for (user, _), job_id in zip(work, job_ids, strict=True)}

    # Each poll asks only the users with jobs still under way, and not often: on a busy
    # machine the polling would otherwise take CPU from the work it waits for.
    listed: dict[str, dict[str, Any]] = {}
    pending = list(users)

    def every_job_terminal() -> bool:
        for user in list(pending):
            jobs = user.jobs()
            listed.update(jobs)
            if all(job["status"] in TERMINAL for job in jobs.values()):
                pending.remove(user)
        return not pending

    wait_until(every_job_terminal, timeout=540, what="every job terminal", every=3)
    all_out = soak.mails_settled(users, expected=JOBS)
    mails = soak.mails_by_job(users)
    results = objects_per_job(soak.objects(soak.stack.settings.results_bucket))
    runs = Counter(record.attempts for record in soak.records(job_ids).values())

    done = [listed[job_id] for job_id in job_ids]
    last = max(job["completed_at"] or job["submitted_at"] for job in done)
    wall = seconds_between(began.isoformat(), last)
    latencies = [
        seconds_between(job["queued_at"], job["completed_at"])
        for job in done
        if job["queued_at"] and job["completed_at"]
    ]
    statuses = Counter(job["status"] for job in done)
    record(
        "burst",
        f"{JOBS} jobs of {VARIANTS} variants from {USERS} users (half free, half premium), "
        f"{ANNOTATORS} annotator processes",
        {
            "stack ready in s": soak.ready_seconds,
            "submitted (create, upload, submit) in s": submit_seconds,
            "all terminal after s": wall,
            "jobs per minute": JOBS / wall * 60,
            "queued to completed s": spread(latencies),
            "all mails out after s": all_out,
            "statuses": dict(statuses),
            "runs per job": dict(runs),
            "mails": sum(sum(c.values()) for c in mails.values()),
            "jobs with other than one mail": sum(
                1 for j in job_ids if mails.get(j) != {"ready": 1}
            ),
            "result objects": sum(len(files) for files in results.values()),
        },
    )

    assert len(set(job_ids)) == JOBS
    assert statuses == {"COMPLETED": JOBS}, statuses
    assert all(job["summary"]["variants"] == VARIANTS for job in done)
    for user in users:  # nothing lost, nothing extra in anyone's list
        assert set(user.jobs()) == {j for j in job_ids if owner[j] is user}
    not_once = {
        job_id: mails.get(job_id) for job_id in job_ids if mails.get(job_id) != {"ready": 1}
    }
    assert not not_once, f"jobs without exactly one mail: {not_once}"
    assert set(results) == set(job_ids), "a result for every job, and only for them"
    wrong = {j: files for j, files in results.items() if sorted(files) != RESULT_FILES}
    assert not wrong, f"jobs with other result objects than one of each: {wrong}"

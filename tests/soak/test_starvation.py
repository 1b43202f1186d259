"""Starvation: one user's heavy work must not hold up another user's small job. A one-long-line
gzip (140 KiB holding one 140 MB line) fails within seconds with a line-length message, and
one user's 20 large queued jobs leave room for another's 10 KB job. The small job's time is
measured from its submit to COMPLETED as its owner sees it."""

from __future__ import annotations

import gzip
import time

import pytest

from gas_core.tiers import Tier
from gas_testing.data import KnownSnp
from tests.soak.report import record
from tests.soak.stack import StartSoak, one_long_line_gzip, vcf, vcf_of_size

pytestmark = [pytest.mark.soak, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

SMALL_BYTES = 10 * 1024
LARGE_JOBS = 20
LARGE_VARIANTS = 50_000
WORKERS = ("jobs", "gateway", "annotator")


def test_a_one_long_line_gzip_fails_in_seconds_and_another_users_small_job_goes_through(
    start_soak: StartSoak, snps: list[KnownSnp]
) -> None:
    soak = start_soak(names=WORKERS)
    hostile = one_long_line_gzip(140)
    small = vcf_of_size(snps, SMALL_BYTES)
    free_mallory = soak.user("mallory-free", Tier.FREE)
    mallory = soak.user("mallory-premium", Tier.PREMIUM)
    bob = soak.user("bob", Tier.FREE)

    refused_id = free_mallory.create(hostile, "long.vcf.gz")
    asked = time.monotonic()
    refused = free_mallory.submit(refused_id)
    refused_seconds = time.monotonic() - asked

    hostile_id = mallory.run(hostile, "long.vcf.gz")
    hostile_submitted = time.monotonic()
    small_id = bob.create(small, "small.vcf")
    asked = time.monotonic()
    assert bob.submit(small_id).status_code == 200
    small_job, _ = bob.wait_for(small_id)
    small_seconds = time.monotonic() - asked
    failed, _ = mallory.wait_for(hostile_id)
    hostile_seconds = time.monotonic() - hostile_submitted
    record(
        "long-line",
        f"a {len(hostile) / 1024:.0f} KiB gzip holding one 140 MB line, and another user's "
        f"{len(small) / 1024:.1f} KB job submitted right after it",
        {
            "free: refused at submit after s": refused_seconds,
            "free: answer": f"{refused.status_code} {refused.json().get('detail', '')[:70]}",
            "premium: FAILED after s": hostile_seconds,
            "premium: error": (failed["error"] or "")[:70],
            "other user's 10 KB job COMPLETED after s": small_seconds,
            "other user's job status": small_job["status"],
        },
    )

    assert refused.status_code == 413, refused.text
    assert free_mallory.job(refused_id)["status"] == "FAILED"
    assert failed["status"] == "FAILED", failed
    assert "the line is longer than 10 MiB" in failed["error"], failed["error"]
    assert small_job["status"] == "COMPLETED", small_job


def test_one_users_20_large_jobs_leave_room_for_another_users_small_job(
    start_soak: StartSoak, snps: list[KnownSnp]
) -> None:
    soak = start_soak(names=WORKERS)
    ann = soak.user("ann", Tier.PREMIUM)
    bob = soak.user("bob", Tier.FREE)
    large = gzip.compress(vcf(snps, LARGE_VARIANTS), compresslevel=1)
    small = vcf_of_size(snps, SMALL_BYTES)

    started = time.monotonic()
    burst = [ann.run(large, f"large-{n}.vcf.gz") for n in range(LARGE_JOBS)]
    burst_submitted = time.monotonic() - started
    small_id = bob.create(small, "small.vcf")
    asked = time.monotonic()
    answer = bob.submit(small_id)
    assert answer.status_code == 200, answer.text
    small_job, _ = bob.wait_for(small_id, timeout=300)
    small_seconds = time.monotonic() - asked
    burst_then = [job["status"] for job in ann.jobs().values()]
    finished = [ann.wait_for(job_id, timeout=400, every=0.5)[0] for job_id in burst]
    burst_seconds = time.monotonic() - started
    one_job = sorted(job["summary"]["timings_seconds"]["annotate"] for job in finished)
    record(
        "starvation",
        f"one user's {LARGE_JOBS} jobs of {LARGE_VARIANTS // 1000}k variants queued, then "
        f"another user's {len(small) / 1024:.1f} KB job",
        {
            "large jobs submitted in s": burst_submitted,
            "small job's queue position at submit": answer.json()["queue_position"],
            "small job COMPLETED after s": small_seconds,
            "large jobs completed by then": f"{burst_then.count('COMPLETED')} of {LARGE_JOBS}",
            "all large jobs done after s": burst_seconds,
            "one large job annotates in s (median)": one_job[len(one_job) // 2],
        },
    )

    assert small_job["status"] == "COMPLETED", small_job
    assert burst_then.count("COMPLETED") < LARGE_JOBS, "the burst was over before bob's turn"
    assert [job["status"] for job in finished] == ["COMPLETED"] * LARGE_JOBS
    assert all(job["summary"]["variants"] == LARGE_VARIANTS for job in finished)

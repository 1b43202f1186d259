"""A free result goes to cold storage: the mail's link opens its job page, which offers the
upgrade; after upgrading with the test card the page shows the restore, then the download.
Screenshots land in test-artefacts/e2e/."""

from __future__ import annotations

import asyncio
import gzip
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from gas_core.aws import aws_clients
from gas_core.events import JobCompleted, JobCompletedPayload
from gas_core.jobs import (
    JobRecord,
    JobStatus,
    StorageState,
    columnar_key_for,
    job_file_key,
    utc_timestamp,
)
from gas_core.tiers import Tier
from gas_notifier.captured import read_captured_mails
from gas_testing.gateway import GatewayProcess, browser_login
from gas_testing.localstack import set_restore_speed, wait_until
from gas_testing.plugin import Stack, publish, put_jobs
from tests.e2e.browser import browser_on

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

# moto's restore steps (requested → in progress → done), each at least this long: longer than
# the 10 s between the job page's looks at a restoring result, so the page sees it under way.
RESTORE_STEP_SECONDS = 20


def completed_free_job(stack: Stack, *, user_id: str, result: bytes) -> JobRecord:
    """A free job as the annotator leaves it: COMPLETED, its result in the results bucket."""
    settings = stack.settings
    job_id = uuid.uuid4().hex
    now = utc_timestamp()
    result_key = job_file_key(user_id=user_id, job_id=job_id, filename="trio.annot.vcf.gz")
    log_key = job_file_key(user_id=user_id, job_id=job_id, filename="trio.annot.log")
    job = JobRecord(
        job_id=job_id,
        user_id=user_id,
        tier=Tier.FREE,
        status=JobStatus.COMPLETED,
        storage=StorageState.AVAILABLE,
        submitted_at=now,
        created_at=now,
        queued_at=now,
        started_at=now,
        completed_at=now,
        input_filename="trio.vcf",
        input_size_bytes=len(result),
        input_bucket=settings.inputs_bucket,
        input_key=job_file_key(user_id=user_id, job_id=job_id, filename="trio.vcf"),
        build="GRCh37",
        results_bucket=settings.results_bucket,
        result_key=result_key,
        log_key=log_key,
        summary={"variants": 3, "in_dbsnp": 2, "pct_in_dbsnp": 66.667, "build": "GRCh37"},
        progress=100,
        outcome_published=True,
    )

    async def write() -> None:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            for key, body in {
                result_key: result,
                log_key: b"COMPLETED\n",
                columnar_key_for(result_key): b"PAR1",
            }.items():
                await s3.put_object(Bucket=settings.results_bucket, Key=key, Body=body)
        await put_jobs(stack, job)

    asyncio.run(write())
    publish(
        stack,
        settings.job_events_topic,
        JobCompleted(
            job_id=job_id,
            user_id=user_id,
            payload=JobCompletedPayload(
                tier=Tier.FREE, result_key=result_key, log_key=log_key, summary=job.summary or {}
            ),
        ),
    )
    return job


def test_an_archived_result_is_restored_after_an_upgrade(
    archive_stack: GatewayProcess, stack: Stack
) -> None:
    url = archive_stack.url
    # The free user has signed in before and has a completed job, which the archiver takes
    # to cold storage after the window.
    with httpx.Client(timeout=15) as session:
        browser_login(session, url, login="free", password="free")
        me = session.get(f"{url}/api/me").json()
    result = gzip.compress(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    job = completed_free_job(stack, user_id=me["id"], result=result)
    moto_url = str(stack.aws.endpoint_url)
    mails = wait_until(
        lambda: [
            mail
            for mail in read_captured_mails(moto_url)
            if me["email"] in mail.to and "moved to cold storage" in mail.subject
        ],
        timeout=30,
        what="the 'archived' mail",
    )
    link = re.search(r"https?://\S+/jobs/[0-9a-f]{32}", mails[0].text)
    assert link, f"no job link in the mail:\n{mails[0].text}"
    assert link.group(0) == f"{url}/jobs/{job.job_id}"

    set_restore_speed(moto_url, RESTORE_STEP_SECONDS)
    try:
        with browser_on(url) as pages:
            page = pages.page
            # The mail's link, opened signed out: sign in, and land on that job's page.
            page.goto(link.group(0))
            expect(page.get_by_text("Sign in to open this page.")).to_be_visible()
            pages.sign_in("free", "free")
            expect(page).to_have_url(link.group(0))
            expect(page.get_by_role("heading", name="trio.vcf")).to_be_visible()
            expect(page.get_by_role("heading", name="The result is archived")).to_be_visible()
            expect(page.get_by_role("button", name="Download the annotated VCF")).to_have_count(0)
            pages.check("job-archived")

            page.get_by_role("link", name="Upgrade to premium").click()
            expect(page).to_have_url(f"{url}/account#upgrade")
            page.get_by_label("Card number").fill("4242 4242 4242 4242")
            page.get_by_role("button", name="Upgrade").click()
            expect(page.get_by_test_id("tier")).to_contain_text("Premium")

            page.go_back()
            expect(page).to_have_url(link.group(0))
            restoring = page.get_by_role("heading", name="Restoring the result from cold storage")
            expect(restoring).to_be_visible(timeout=30_000)
            pages.check("job-restoring")

            # No reload: the page looks again by itself and offers the download.
            download_button = page.get_by_role("button", name="Download the annotated VCF")
            expect(download_button).to_be_visible(timeout=60_000)
            pages.check("job-restored")
            with page.expect_download() as download_info:
                download_button.click()
            assert Path(download_info.value.path()).read_bytes() == result
    finally:
        set_restore_speed(moto_url, None)

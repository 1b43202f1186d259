"""The notifier on the local stack: job events from SNS become one mail each to the job's
owner (address from the real gateway), readable through moto's SES and `gas-admin mail`."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from gas_core.events import (
    JobArchived,
    JobCompleted,
    JobCompletedPayload,
    JobFailed,
    JobFailedPayload,
    JobRestored,
    StoragePayload,
)
from gas_core.tiers import Tier
from gas_notifier.captured import CapturedMail, read_captured_mails
from gas_testing.gateway import GatewayProcess, provision_user
from gas_testing.localstack import wait_until
from gas_testing.plugin import ServiceProcess, Stack, StartService, publish, queue_drained

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://gas.example.org"


@pytest.fixture
def notifier(
    stack: Stack, start_service: StartService, accounts_gateway: GatewayProcess
) -> ServiceProcess:
    return start_service(
        "notifier",
        stack,
        GAS_NOTIFIER_GATEWAY_URL=accounts_gateway.internal_url,
        GAS_NOTIFIER_PUBLIC_URL=PUBLIC_URL,
        GAS_NOTIFIER_RECEIVE_WAIT_SECONDS="1",
    )


def new_user(database_url: str) -> tuple[str, str]:
    email = f"researcher-{uuid.uuid4().hex[:8]}@example.org"
    user_id, _ = provision_user(database_url, email=email, tier=Tier.FREE)
    return user_id, email


def completed(user_id: str, job_id: str | None = None) -> JobCompleted:
    job_id = job_id or uuid.uuid4().hex
    return JobCompleted(
        job_id=job_id,
        user_id=user_id,
        payload=JobCompletedPayload(
            tier=Tier.FREE,
            result_key=f"{user_id}/{job_id}/trio.annot.vcf.gz",
            log_key=f"{user_id}/{job_id}/trio.annot.log",
            summary={
                "variants": 1234,
                "in_dbsnp": 617,
                "pct_in_dbsnp": 50.0,
                "build": "GRCh38",
                "region_counts": {"CDS": 12, "intron": 800, "intergenic": 0},
            },
        ),
    )


def mails_to(stack: Stack, email: str) -> list[CapturedMail]:
    return [mail for mail in read_captured_mails(str(stack.aws.endpoint_url)) if email in mail.to]


def settle(stack: Stack) -> None:
    """Wait until the notifier has handled (or deferred) everything published so far."""
    wait_until(
        lambda: queue_drained(stack, stack.settings.notifier_queue),
        timeout=20,
        what="the notifier handling every event",
    )
    time.sleep(0.5)


def test_completion_and_failure_mails_carry_the_job_link_and_what_to_do(
    stack: Stack, notifier: ServiceProcess, gateway_database: str
) -> None:
    user_id, email = new_user(gateway_database)
    done = completed(user_id)
    failed = JobFailed(
        job_id=uuid.uuid4().hex,
        user_id=user_id,
        payload=JobFailedPayload(
            tier=Tier.FREE, reason="Line 3: expected 8+ tab-separated columns, found 5"
        ),
    )
    publish(stack, stack.settings.job_events_topic, done, failed)

    mails = wait_until(
        lambda: (found := mails_to(stack, email)) and len(found) >= 2 and found,
        timeout=20,
        what="two mails to the job's owner",
    )
    by_subject = {mail.subject: mail for mail in mails}
    ready = by_subject["Your GAS annotation trio.annot.vcf.gz is ready"]
    link = f"{PUBLIC_URL}/jobs/{done.job_id}"
    assert link in ready.text
    assert f'href="{link}"' in ready.html
    assert "can be viewed and downloaded until" in ready.text
    for fact in ("Variants annotated: 1,234", "Known in dbSNP: 617 (50.0%)", "GRCh38", "CDS: 12"):
        assert fact in ready.text
    assert "intergenic" not in ready.text
    assert ready.sender == f"GAS <{stack.settings.ses_sender}>"

    failure = by_subject[f"Your GAS annotation job {failed.job_id[:8]} failed"]
    for body in (failure.text, failure.html):
        assert "Line 3: expected 8+ tab-separated columns, found 5" in body
        assert "submit it again as a new job" in body
        assert f"{PUBLIC_URL}/jobs/{failed.job_id}" in body

    listed = subprocess.run(
        [sys.executable, "-m", "gas_core.admin", "mail", "--to", email, "--full"],
        env=stack.process_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{email}  Your GAS annotation trio.annot.vcf.gz is ready" in listed
    assert "Line 3: expected 8+ tab-separated columns, found 5" in listed


def test_a_redelivered_or_republished_event_sends_no_second_mail(
    stack: Stack, notifier: ServiceProcess, gateway_database: str
) -> None:
    user_id, email = new_user(gateway_database)
    first = completed(user_id)
    # The annotator publishes an outcome again, with a new event id, when it crashed before
    # recording the first publish.
    republished = completed(user_id, job_id=first.job_id)
    another_job = completed(user_id)
    archived = JobArchived(
        job_id=first.job_id, user_id=user_id, payload=StoragePayload(tier=Tier.FREE)
    )
    restored = JobRestored(
        job_id=first.job_id, user_id=user_id, payload=StoragePayload(tier=Tier.PREMIUM)
    )
    topic = stack.settings.job_events_topic
    publish(
        stack, topic, first, first, republished, archived, restored, another_job, restored, archived
    )
    settle(stack)

    subjects = sorted(mail.subject for mail in mails_to(stack, email))
    assert subjects == [
        "Your GAS annotation trio.annot.vcf.gz is ready",
        "Your GAS annotation trio.annot.vcf.gz is ready",
        f"Your GAS results for job {first.job_id[:8]} are available again",
        f"Your GAS results for job {first.job_id[:8]} moved to cold storage",
    ]
    [cold] = [mail for mail in mails_to(stack, email) if "cold storage" in mail.subject]
    assert "Upgrade to premium" in cold.text
    assert f"{PUBLIC_URL}/jobs/{first.job_id}" in cold.text
    assert sum(another_job.job_id in m.text for m in mails_to(stack, email)) == 1

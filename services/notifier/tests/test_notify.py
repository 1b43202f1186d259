"""Which mail an event becomes, and the claim → send → mark protocol around it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from gas_core.accounts import Account
from gas_core.events import (
    AccountTierChanged,
    JobArchived,
    JobCompleted,
    JobCompletedPayload,
    JobFailed,
    JobFailedPayload,
    StoragePayload,
    TierChangedPayload,
)
from gas_core.messaging import RetryLater
from gas_core.tiers import Tier
from gas_notifier.ledger import Claim
from gas_notifier.mail import Mail
from gas_notifier.service import compose, notify


class MailRefused(Exception):
    pass


@dataclass
class FakeLedger:
    states: dict[str, str] = field(default_factory=dict)

    async def claim(self, mail_key: str) -> Claim:
        state = self.states.get(mail_key)
        if state == "sent":
            return Claim.ALREADY_SENT
        if state == "sending":
            return Claim.IN_PROGRESS
        self.states[mail_key] = "sending"
        return Claim.CLAIMED

    async def mark_sent(self, mail_key: str, *, message_id: str) -> None:
        self.states[mail_key] = "sent"

    async def release(self, mail_key: str) -> None:
        self.states.pop(mail_key, None)


@dataclass
class FakeMailer:
    refuse: bool = False
    sent: list[tuple[str, Mail]] = field(default_factory=list)

    async def send(self, *, to: str, name: str, mail: Mail) -> str:
        if self.refuse:
            raise MailRefused("SES throttled")
        self.sent.append((to, mail))
        return f"m{len(self.sent)}"


@dataclass
class OneAccount:
    async def get(self, user_id: str) -> Account | None:
        if user_id != "u1":
            return None
        return Account(id="u1", email="ada@example.org", name="Ada", tier=Tier.FREE)


def completed(job_id: str = "job1", user_id: str = "u1") -> JobCompleted:
    return JobCompleted(
        job_id=job_id,
        user_id=user_id,
        payload=JobCompletedPayload(
            tier=Tier.FREE, result_key="u1/job1/a.annot.vcf.gz", log_key="l"
        ),
    )


async def send(event: object, ledger: FakeLedger, mailer: FakeMailer, attempt: int = 1) -> None:
    await notify(
        event,  # type: ignore[arg-type]
        accounts=OneAccount(),
        mailer=mailer,
        ledger=ledger,
        public_url="https://gas.example.org/",
        free_window_seconds=600,
        lease_seconds=60,
        attempt=attempt,
    )


async def test_a_failed_send_releases_the_claim_so_the_redelivery_sends_the_mail() -> None:
    ledger, mailer = FakeLedger(), FakeMailer(refuse=True)
    with pytest.raises(MailRefused):
        await send(completed(), ledger, mailer)
    mailer.refuse = False
    await send(completed(), ledger, mailer)
    assert [to for to, _ in mailer.sent] == ["ada@example.org"]
    assert "https://gas.example.org/jobs/job1" in mailer.sent[0][1].text


async def test_a_mail_another_worker_is_sending_is_rechecked_soon_then_after_its_lease() -> None:
    ledger, mailer = FakeLedger({"job.completed:job1": "sending"}), FakeMailer()
    with pytest.raises(RetryLater) as first:
        await send(completed(), ledger, mailer, attempt=1)
    with pytest.raises(RetryLater) as later:
        await send(completed(), ledger, mailer, attempt=2)
    assert first.value.delay_seconds < later.value.delay_seconds == 60
    assert mailer.sent == []


async def test_failures_and_completions_of_one_job_are_different_mails() -> None:
    ledger, mailer = FakeLedger(), FakeMailer()
    failed = JobFailed(
        job_id="job1", user_id="u1", payload=JobFailedPayload(tier=Tier.FREE, reason="bad <VCF>")
    )
    await send(failed, ledger, mailer)
    await send(completed(), ledger, mailer)
    assert len(mailer.sent) == 2
    assert "bad &lt;VCF&gt;" in mailer.sent[0][1].html


async def test_no_mail_for_unknown_users_or_events_that_are_not_for_users() -> None:
    ledger, mailer = FakeLedger(), FakeMailer()
    await send(completed(user_id="gone"), ledger, mailer)
    upgrade = AccountTierChanged(
        user_id="u1", payload=TierChangedPayload(old_tier=Tier.FREE, new_tier=Tier.PREMIUM)
    )
    await send(upgrade, ledger, mailer)
    assert mailer.sent == [] and ledger.states == {}


@pytest.mark.parametrize(("tier", "warned"), [(Tier.FREE, True), (Tier.PREMIUM, False)])
def test_only_free_users_are_told_their_result_moves_to_cold_storage(
    tier: Tier, warned: bool
) -> None:
    event = JobCompleted(
        job_id="job1",
        user_id="u1",
        payload=JobCompletedPayload(tier=tier, result_key="u1/job1/a.annot.vcf.gz", log_key="l"),
    )
    composed = compose(
        event, name="Ada", public_url="https://gas.example.org", free_window_seconds=600
    )
    assert ("cold storage" in composed.text) is warned
    assert ("cold storage" in composed.html) is warned


def test_an_account_without_a_name_gets_a_plain_greeting() -> None:
    composed = compose(
        completed(), name="", public_url="https://gas.example.org", free_window_seconds=600
    )
    assert composed.text.startswith("Hello,\n")


def test_the_ready_mail_says_when_a_free_result_will_be_archived() -> None:
    event = completed().model_copy(
        update={"occurred_at": datetime(2026, 3, 5, 14, 2, 30, tzinfo=UTC)}
    )
    composed = compose(
        event, name="Ada", public_url="https://gas.example.org", free_window_seconds=3600
    )
    assert "until 5 Mar 2026, 15:02 UTC; then it moves to cold storage" in composed.text
    assert "5 Mar 2026, 15:02 UTC" in composed.html


def test_a_failure_mail_gives_browser_advice_not_a_command_line_flag() -> None:
    reason = (
        "the input is GRCh38 (contig lengths) but the reference bundle is GRCh37; "
        "annotate it with --build GRCh38"
    )
    event = JobFailed(
        job_id="job1", user_id="u1", payload=JobFailedPayload(tier=Tier.FREE, reason=reason)
    )
    composed = compose(
        event, name="Ada", public_url="https://gas.example.org", free_window_seconds=600
    )
    for body in (composed.text, composed.html):
        assert "--build" not in body
        assert "choose genome build GRCh38 when you submit it again" in body
        assert "Submit page" in body
        assert "https://gas.example.org/jobs/job1" in body


async def test_an_archived_free_result_gets_one_mail_with_the_upgrade_offer() -> None:
    ledger, mailer = FakeLedger(), FakeMailer()
    archived = JobArchived(job_id="job1", user_id="u1", payload=StoragePayload(tier=Tier.FREE))
    await send(archived, ledger, mailer)
    await send(archived.model_copy(update={"event_id": uuid.uuid4()}), ledger, mailer)
    [(to, mail)] = mailer.sent
    assert to == "ada@example.org"
    assert mail.subject == "Your GAS results for job job1 moved to cold storage"
    assert "Upgrade to premium" in mail.text and "Upgrade to premium" in mail.html
    assert 'href="https://gas.example.org/jobs/job1"' in mail.html

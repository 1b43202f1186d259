"""Deciding whom to mail about which event, exactly once."""

from __future__ import annotations

import logging
from typing import Protocol

from gas_core.accounts import AccountLookupFailed, Accounts
from gas_core.events import Event, JobArchived, JobCompleted, JobFailed, JobRestored
from gas_core.messaging import RetryLater
from gas_core.tiers import Tier
from gas_notifier import mail
from gas_notifier.ledger import Claim
from gas_notifier.ses import Mailer

log = logging.getLogger(__name__)

MailworthyEvent = JobCompleted | JobFailed | JobArchived | JobRestored
FIRST_RECHECK_SECONDS = 2


class Ledger(Protocol):
    async def claim(self, mail_key: str) -> Claim: ...
    async def mark_sent(self, mail_key: str, *, message_id: str) -> None: ...
    async def release(self, mail_key: str) -> None: ...


def mail_key(event: MailworthyEvent) -> str:
    """What makes two events the same mail.

    A job completes or fails once, but its outcome may be published again (with a new
    event id) when the annotator crashed before recording the publish; so outcomes are keyed
    by job, and so is an archive (a job is archived at most once). A restore is keyed by its
    event id, which the archiver derives from the restore.
    """
    if isinstance(event, JobRestored):
        return f"{event.type}:{event.event_id}"
    return f"{event.type}:{event.job_id}"


def compose(
    event: MailworthyEvent, *, name: str, public_url: str, free_window_seconds: int
) -> mail.Mail:
    """The mail for ``event``; every link opens the job's page in the web app. A free
    result is archived ``free_window_seconds`` after completion (the event's time)."""
    job_id = event.job_id or ""
    link = mail.job_link(public_url, job_id)
    if isinstance(event, JobCompleted):
        free = event.payload.tier is Tier.FREE
        return mail.completed(
            name=name,
            job_id=job_id,
            filename=event.payload.result_key.rsplit("/", 1)[-1] or job_id,
            summary=event.payload.summary,
            link=link,
            archive_at=mail.archive_time(event.occurred_at, free_window_seconds) if free else None,
        )
    if isinstance(event, JobFailed):
        return mail.failed(name=name, job_id=job_id, reason=event.payload.reason, link=link)
    if isinstance(event, JobArchived):
        return mail.archived(name=name, job_id=job_id, link=link)
    return mail.restored(name=name, job_id=job_id, link=link)


async def notify(
    event: Event,
    *,
    accounts: Accounts,
    mailer: Mailer,
    ledger: Ledger,
    public_url: str,
    free_window_seconds: int,
    lease_seconds: int,
    attempt: int = 1,
) -> None:
    """Mail the job's owner about ``event`` unless that mail was already sent.

    ``attempt`` is the delivery count: a mail another worker is sending is looked at again
    shortly the first time (it is usually sent by then), and after its lease on later tries
    (that worker may have died, and the mail is ours to send once its lease runs out).
    """
    if not isinstance(event, JobCompleted | JobFailed | JobArchived | JobRestored):
        log.debug("no mail for %s", event.type)
        return
    try:
        account = await accounts.get(event.user_id)
    except AccountLookupFailed as error:
        raise RetryLater(str(error)) from error
    if account is None:
        log.warning("no account %s any more; no mail for %s", event.user_id, event.type)
        return
    key = mail_key(event)
    claim = await ledger.claim(key)
    if claim is Claim.ALREADY_SENT:
        log.info("mail %s was already sent; not sending it again", key)
        return
    if claim is Claim.IN_PROGRESS:
        raise RetryLater(
            f"mail {key} is being sent by another worker",
            delay_seconds=FIRST_RECHECK_SECONDS if attempt <= 1 else lease_seconds,
        )
    try:
        message_id = await mailer.send(
            to=account.email,
            name=account.name,
            mail=compose(
                event,
                name=account.name,
                public_url=public_url,
                free_window_seconds=free_window_seconds,
            ),
        )
    except BaseException:
        await ledger.release(key)
        raise
    await ledger.mark_sent(key, message_id=message_id)
    log.info("mailed %s about %s", account.email, event.type, extra={"ses_message_id": message_id})

"""Moving a free user's result to cold storage after the free window, and back on upgrade.

Every step is safe to repeat, and the job's ``storage`` changes only by conditional writes,
so a redelivered message, two workers at once, or a crash between any two steps ends where
one clean run would:

archive  AVAILABLE ─(window over, user still free)→ ARCHIVING: copy hot → cold (same key,
         cold storage class, metadata ``job-id`` + ``sha256``) → verify size + SHA-256 →
         commit ARCHIVED → delete the hot copy and its columnar copy → publish JobArchived
restore  ARCHIVED ─(upgrade)→ restore_object (Expedited, else Standard) → RESTORING; when the
         thaw is done (S3 event or the periodic check): copy cold → hot as STANDARD → verify →
         publish JobRestored → commit AVAILABLE → delete the cold copy. The columnar copy
         (the results viewer's, derived from the VCF) is not archived: the jobs service
         rebuilds it from the restored VCF on the first query.
cancel   ARCHIVING ─(upgrade before the commit)→ AVAILABLE; the hot copy was never touched

A job goes through at most one archive cycle: archiving starts only from the JobCompleted
message, and a downgrade does not archive again. That is what makes deleting the cold copy
after a restore (or a cancelled archive) safe.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gas_archiver.repository import StorageRepository
from gas_archiver.storage import (
    ExpeditedRetrievalUnavailable,
    ObjectInfo,
    ObjectStore,
    RestoreState,
)
from gas_core.accounts import AccountLookupFailed, Accounts
from gas_core.events import JobArchived, JobRestored, StoragePayload
from gas_core.jobs import JobRecord, JobStatus, StorageState, columnar_key_for, utc_timestamp
from gas_core.messaging import Publisher, RetryLater
from gas_core.tiers import Tier

log = logging.getLogger(__name__)

# SQS keeps a message invisible for at most 12 hours; a longer window takes several hops.
MAX_TIMER_SECONDS = 12 * 3600 - 60
# How often to re-read a job whose conditional write lost to another actor before giving up
# (and letting the message come back later).
MAX_STATE_READS = 5
EVENT_ID_NAMESPACE = uuid.UUID("8f5b0c1e-5a43-4c61-9d55-3f1f3b7a2a10")


class ArchiveNotVerified(Exception):
    """The cold copy does not match the hot one; nothing was committed or deleted."""


class Archiver:
    def __init__(
        self,
        *,
        jobs: StorageRepository,
        store: ObjectStore,
        accounts: Accounts,
        events: Publisher,
        archive_bucket: str,
        free_window_seconds: int,
        storage_class: str,
        restore_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._accounts = accounts
        self._events = events
        self._archive_bucket = archive_bucket
        self._free_window_seconds = free_window_seconds
        self._storage_class = storage_class
        self._restore_days = restore_days
        self._clock = clock

    # -- archive --------------------------------------------------------------------------

    async def on_job_completed(self, job_id: str) -> None:
        """Archive a free user's result once the free window is over.

        Raises :class:`RetryLater` with the time left while the window is open: the message
        itself is the timer.
        """
        for _ in range(MAX_STATE_READS):
            job = await self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.COMPLETED or not job.result_key:
                log.warning(
                    "job %s is not a completed job with a result; nothing to archive", job_id
                )
                return
            if job.tier is Tier.PREMIUM:
                return
            if job.storage is StorageState.AVAILABLE:
                wait = self._seconds_until_due(job)
                if wait > 0:
                    raise RetryLater(
                        f"free window open for {wait} s more",
                        delay_seconds=min(wait, MAX_TIMER_SECONDS),
                        scheduled=True,
                    )
                if await self._is_premium(job.user_id):
                    log.info("the user upgraded within the free window; the result stays")
                    return
                await self._jobs.start_archiving(job_id=job_id)
                continue  # read again: ARCHIVING now, or whatever another actor made it
            if job.storage is StorageState.ARCHIVING:
                await self._archive(job)
                return
            if job.storage is StorageState.ARCHIVED:
                await self._finish_archive(job)
            return
        raise RetryLater(f"job {job_id} kept changing while being archived")

    async def _archive(self, job: JobRecord) -> None:
        assert job.results_bucket and job.result_key
        # Checked again now that the job is ARCHIVING: an upgrade committed before this point
        # is seen here; one committed after it finds the job ARCHIVING or ARCHIVED and
        # cancels or restores it (on_tier_changed). Either way a premium user keeps the result.
        if await self._is_premium(job.user_id):
            if await self._jobs.cancel_archiving(job_id=job.job_id):
                log.info("the user upgraded; archive cancelled, the result stays")
            return
        hot = await self._store.content(job.results_bucket, job.result_key)
        if hot is None:
            current = await self._jobs.get(job.job_id)
            if current is not None and current.storage is StorageState.ARCHIVED:
                await self._finish_archive(current)  # another worker got there first
                return
            raise ArchiveNotVerified(
                f"the result {job.result_key} is missing while the job is ARCHIVING"
            )
        checksum = await self._store.copy(
            source_bucket=job.results_bucket,
            source_key=job.result_key,
            bucket=self._archive_bucket,
            key=job.result_key,
            storage_class=self._storage_class,
            metadata={"job-id": job.job_id, "sha256": hot.sha256},
        )
        cold = await self._store.head(self._archive_bucket, job.result_key)
        problems = []
        if cold is None:
            problems.append("the cold copy is not there")
        else:
            if cold.size != hot.size:
                problems.append(f"size {cold.size} != {hot.size}")
            if cold.storage_class != self._storage_class:
                problems.append(f"storage class {cold.storage_class} != {self._storage_class}")
            if cold.checksum_sha256 not in (None, hot.sha256):
                problems.append("stored SHA-256 differs")
        if checksum != hot.sha256:
            problems.append("SHA-256 of the copy differs")
        if problems:
            raise ArchiveNotVerified(f"cold copy of {job.result_key}: {'; '.join(problems)}")

        if not await self._jobs.mark_archived(job_id=job.job_id):
            current = await self._jobs.get(job.job_id)
            if current is not None and current.storage is StorageState.ARCHIVED:
                await self._finish_archive(current)
            elif current is not None and current.storage is StorageState.AVAILABLE:
                log.info("archive cancelled by an upgrade while copying; dropping the cold copy")
                await self._store.delete(self._archive_bucket, job.result_key)
            return
        log.info("archived %s as %s", job.result_key, self._storage_class)
        await self._finish_archive(job, cold=cold)

    async def _finish_archive(self, job: JobRecord, *, cold: ObjectInfo | None = None) -> None:
        """After the ARCHIVED commit: drop the hot copy and tell everyone (safe to repeat).

        ``cold`` is the archive copy when the caller has just read it; otherwise it is read.
        """
        assert job.results_bucket and job.result_key
        await self._store.delete(job.results_bucket, job.result_key)
        # Also a copy the jobs service rebuilt, which the record does not name.
        await self._store.delete(job.results_bucket, columnar_key_for(job.result_key))
        if cold is None:
            cold = await self._store.head(self._archive_bucket, job.result_key)
        await self._events.publish(
            JobArchived(
                event_id=_event_id(job.job_id, "archived", cold.last_modified if cold else None),
                job_id=job.job_id,
                user_id=job.user_id,
                payload=StoragePayload(tier=Tier.FREE),
            )
        )

    # -- restore --------------------------------------------------------------------------

    async def on_tier_changed(self, *, user_id: str, new_tier: Tier) -> None:
        """On an upgrade, keep or bring back every result the user has."""
        if new_tier is not Tier.PREMIUM:
            log.info("user %s is now %s; nothing to restore", user_id, new_tier.value)
            return
        failed: list[str] = []
        async for job in self._jobs.completed_for_user(user_id):
            # One job that cannot be handled now must not hold back the others'.
            try:
                await self._keep_available(job)
            except Exception:
                log.exception("could not keep %s available; will try again", job.job_id)
                failed.append(job.job_id)
        if failed:
            raise RetryLater(f"{len(failed)} job(s) of the upgrade still to do: {failed[:5]}")

    async def _keep_available(self, job: JobRecord | None) -> None:
        for _ in range(MAX_STATE_READS):
            if job is None:
                return
            if job.storage is StorageState.ARCHIVING:
                if await self._jobs.cancel_archiving(job_id=job.job_id):
                    log.info("archive of %s cancelled by the upgrade", job.job_id)
                    return
            elif job.storage is StorageState.ARCHIVED:
                tier = await self._request_restore(job)
                if await self._jobs.start_restoring(job_id=job.job_id, tier=tier):
                    log.info("restoring %s (%s retrieval)", job.job_id, tier or "earlier")
                    return
            elif job.storage is StorageState.RESTORING:
                await self._request_restore(job)
                return
            else:
                return
            job = await self._jobs.get(job.job_id)
        raise RetryLater("a job kept changing while its restore was being started")

    async def _request_restore(self, job: JobRecord) -> str | None:
        """Ask S3 to thaw the job's cold copy; the retrieval tier asked for, or None when a
        restore was already under way."""
        assert job.result_key
        cold = await self._store.head(self._archive_bucket, job.result_key)
        if cold is None:
            raise RuntimeError(f"job {job.job_id} is {job.storage} but has no cold copy")
        if cold.restore is not RestoreState.NOT_REQUESTED:
            return None
        # Deep Archive has no Expedited tier; Flexible Retrieval's may be out of capacity.
        if cold.storage_class != "DEEP_ARCHIVE":
            try:
                await self._store.request_restore(
                    self._archive_bucket,
                    job.result_key,
                    days=self._restore_days,
                    retrieval="Expedited",
                )
                return "Expedited"
            except ExpeditedRetrievalUnavailable:
                log.warning(
                    "no expedited retrieval capacity; restoring %s with Standard", job.job_id
                )
        await self._store.request_restore(
            self._archive_bucket, job.result_key, days=self._restore_days, retrieval="Standard"
        )
        return "Standard"

    async def on_restore_completed(self, *, bucket: str, key: str) -> None:
        """S3 finished thawing ``key`` (from its ObjectRestore:Completed notification)."""
        if bucket != self._archive_bucket:
            log.warning("restore notification for another bucket (%s); ignored", bucket)
            return
        cold = await self._store.head(bucket, key)
        job_id = cold.metadata.get("job-id") if cold else None
        if not job_id:
            log.info("restored object %s is gone or not ours; nothing to do", key)
            return
        await self.finish_restore(job_id)

    async def finish_restore(self, job_id: str) -> None:
        """Bring a thawed result back to the results bucket (no-op until the thaw is done)."""
        job = await self._jobs.get(job_id)
        if job is None or not job.result_key or not job.results_bucket:
            return
        if job.storage is StorageState.AVAILABLE:
            # A restore that committed but crashed before dropping the cold copy.
            await self._store.delete(self._archive_bucket, job.result_key)
            return
        if job.storage is not StorageState.RESTORING:
            return
        cold = await self._store.head(self._archive_bucket, job.result_key)
        if cold is None:
            raise RuntimeError(f"job {job_id} is RESTORING but its cold copy is missing")
        if cold.restore is RestoreState.NOT_REQUESTED:
            # The request was lost, or the thawed copy expired before we copied it.
            await self._request_restore(job)
            return
        if cold.restore is RestoreState.ONGOING:
            return
        checksum = await self._store.copy(
            source_bucket=self._archive_bucket,
            source_key=job.result_key,
            bucket=job.results_bucket,
            key=job.result_key,
            storage_class="STANDARD",
        )
        hot = await self._store.head(job.results_bucket, job.result_key)
        expected = cold.metadata.get("sha256")
        if hot is None or hot.size != cold.size or checksum != expected:
            raise ArchiveNotVerified(
                f"restored copy of {job.result_key} does not match the archive; retrying later"
            )
        # Published before the commit: a crash in between republishes the same event id
        # (the notifier mails once), while the other order could lose the mail.
        await self._events.publish(
            JobRestored(
                event_id=_event_id(job_id, "restored", cold.last_modified),
                job_id=job_id,
                user_id=job.user_id,
                payload=StoragePayload(tier=Tier.PREMIUM),
            )
        )
        if await self._jobs.mark_restored(job_id=job_id):
            log.info("restored %s", job.result_key)
        await self._store.delete(self._archive_bucket, job.result_key)

    async def reconcile(self, *, stalled_archive_seconds: float) -> None:
        """The periodic safety net. Advance every RESTORING job (for lost or never-sent S3
        events), and finish archives started over ``stalled_archive_seconds`` ago whose
        message is gone (dead-lettered) — the same steps a redelivery would take, safe beside
        a live worker because every step is conditional or repeatable."""
        for job_id in await self._jobs.restoring_job_ids():
            try:
                await self.finish_restore(job_id)
            except Exception:
                log.exception("could not advance the restore of %s", job_id)
        cutoff = utc_timestamp(
            datetime.fromtimestamp(self._clock(), UTC) - timedelta(seconds=stalled_archive_seconds)
        )
        for job_id in await self._jobs.stalled_archive_job_ids(started_before=cutoff):
            try:
                await self.on_job_completed(job_id)
            except Exception:
                log.exception("could not resume the archive of %s", job_id)

    # -- helpers --------------------------------------------------------------------------

    async def _is_premium(self, user_id: str) -> bool:
        try:
            account = await self._accounts.get(user_id)
        except AccountLookupFailed as error:
            raise RetryLater(f"cannot check the user's tier: {error}") from error
        return account is not None and account.tier is Tier.PREMIUM

    def _seconds_until_due(self, job: JobRecord) -> int:
        completed = datetime.fromisoformat(job.completed_at or job.created_at)
        due = completed.timestamp() + self._free_window_seconds
        return max(0, math.ceil(due - self._clock()))


def _event_id(job_id: str, what: str, cycle: datetime | None) -> uuid.UUID:
    """The same id for every publish of one archive cycle's event, so consumers dedupe."""
    moment = cycle.astimezone(UTC).isoformat() if cycle else ""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{job_id}:{what}:{moment}")

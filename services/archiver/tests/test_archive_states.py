"""The archiver's state machine with in-memory collaborators: every crash point of the
archive and restore paths, the upgrade race, and the retrieval tiers.

``Crashes`` counts every call into the job table and the object store; once its budget is
spent the next call raises :class:`Crash`, as if the process died right there.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from gas_archiver.repository import StorageRepository
from gas_archiver.service import Archiver
from gas_archiver.storage import Content, ExpeditedRetrievalUnavailable, ObjectInfo, RestoreState
from gas_core.accounts import Account
from gas_core.events import Envelope
from gas_core.jobs import JobRecord, JobStatus, StorageState, columnar_key_for
from gas_core.messaging import RetryLater
from gas_core.tiers import Tier


class Crash(BaseException):  # a process dying is not an error the code may handle
    pass


@dataclass
class Crashes:
    budget: int | None = None

    def step(self) -> None:
        if self.budget is None:
            return
        if self.budget == 0:
            raise Crash
        self.budget -= 1


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class StoredObject:
    data: bytes
    storage_class: str
    metadata: dict[str, str]
    written_at: datetime
    restore: RestoreState = RestoreState.NOT_REQUESTED


@dataclass
class FakeStore:
    crashes: Crashes
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    expedited_available: bool = True
    retrievals: list[str] = field(default_factory=list)
    during_copy: list[object] = field(default_factory=list)
    clock: datetime = datetime(2025, 1, 1, tzinfo=UTC)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.objects[(bucket, key)] = StoredObject(data, "STANDARD", {}, self._tick())

    def thaw_all(self) -> None:
        for stored in self.objects.values():
            if stored.restore is RestoreState.ONGOING:
                stored.restore = RestoreState.DONE

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    async def head(self, bucket: str, key: str) -> ObjectInfo | None:
        self.crashes.step()
        stored = self.objects.get((bucket, key))
        if stored is None:
            return None
        return ObjectInfo(
            size=len(stored.data),
            storage_class=stored.storage_class,
            restore=stored.restore,
            last_modified=stored.written_at,
            checksum_sha256=sha256(stored.data),
            metadata=dict(stored.metadata),
        )

    async def content(self, bucket: str, key: str) -> Content | None:
        self.crashes.step()
        stored = self.objects.get((bucket, key))
        if stored is None:
            return None
        return Content(size=len(stored.data), sha256=sha256(stored.data))

    async def copy(
        self,
        *,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        storage_class: str,
        metadata: dict[str, str] | None = None,
    ) -> str:
        self.crashes.step()
        for hook in self.during_copy:
            await hook()  # type: ignore[operator]
        source = self.objects.get((source_bucket, source_key))
        if source is None:
            raise LookupError(f"NoSuchKey {source_key}")
        if source.storage_class != "STANDARD" and source.restore is not RestoreState.DONE:
            raise PermissionError("ObjectNotInActiveTierError")
        self.objects[(bucket, key)] = StoredObject(
            source.data,
            storage_class,
            dict(source.metadata if metadata is None else metadata),
            self._tick(),
        )
        return sha256(source.data)

    async def delete(self, bucket: str, key: str) -> None:
        self.crashes.step()
        self.objects.pop((bucket, key), None)

    async def request_restore(self, bucket: str, key: str, *, days: int, retrieval: str) -> None:
        self.crashes.step()
        if retrieval == "Expedited" and not self.expedited_available:
            raise ExpeditedRetrievalUnavailable("GlacierExpeditedRetrievalNotAvailable")
        self.retrievals.append(retrieval)
        stored = self.objects[(bucket, key)]
        if stored.restore is RestoreState.NOT_REQUESTED:
            stored.restore = RestoreState.ONGOING


@dataclass
class FakeJobs:
    crashes: Crashes
    jobs: dict[str, JobRecord] = field(default_factory=dict)

    async def get(self, job_id: str) -> JobRecord | None:
        self.crashes.step()
        return self.jobs.get(job_id)

    async def completed_for_user(self, user_id: str) -> AsyncIterator[JobRecord]:
        self.crashes.step()
        for job in list(self.jobs.values()):
            if job.user_id == user_id and job.status is JobStatus.COMPLETED:
                yield job

    async def _move(self, job_id: str, current: StorageState, new: StorageState) -> bool:
        self.crashes.step()
        job = self.jobs.get(job_id)
        if job is None or job.status is not JobStatus.COMPLETED or job.storage is not current:
            return False
        self.jobs[job_id] = job.model_copy(update={"storage": new})
        return True

    async def start_archiving(self, *, job_id: str) -> bool:
        return await self._move(job_id, StorageState.AVAILABLE, StorageState.ARCHIVING)

    async def mark_archived(self, *, job_id: str) -> bool:
        return await self._move(job_id, StorageState.ARCHIVING, StorageState.ARCHIVED)

    async def cancel_archiving(self, *, job_id: str) -> bool:
        return await self._move(job_id, StorageState.ARCHIVING, StorageState.AVAILABLE)

    async def start_restoring(self, *, job_id: str, tier: str | None = None) -> bool:
        moved = await self._move(job_id, StorageState.ARCHIVED, StorageState.RESTORING)
        if moved and tier:
            self.jobs[job_id] = self.jobs[job_id].model_copy(update={"restore_tier": tier})
        return moved

    async def mark_restored(self, *, job_id: str) -> bool:
        return await self._move(job_id, StorageState.RESTORING, StorageState.AVAILABLE)


@dataclass
class FakeAccounts:
    tiers: dict[str, Tier] = field(default_factory=dict)

    async def get(self, user_id: str) -> Account | None:
        tier = self.tiers.get(user_id)
        if tier is None:
            return None
        return Account(id=user_id, email=f"{user_id}@example.org", name=user_id, tier=tier)


@dataclass
class FakeEvents:
    published: list[Envelope] = field(default_factory=list)

    async def publish(self, event: Envelope) -> None:
        self.published.append(event)


def completed_job(*, user_id: str, completed_at: datetime, tier: Tier = Tier.FREE) -> JobRecord:
    stamp = completed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return JobRecord(
        job_id="job1",
        user_id=user_id,
        tier=tier,
        status=JobStatus.COMPLETED,
        storage=StorageState.AVAILABLE,
        submitted_at=stamp,
        created_at=stamp,
        completed_at=stamp,
        input_filename="a.vcf",
        input_size_bytes=10,
        input_bucket="inputs",
        input_key=f"{user_id}/job1/a.vcf",
        results_bucket="results",
        result_key=f"{user_id}/job1/a.annot.vcf.gz",
    )


# -- the tests ------------------------------------------------------------------------------

USER = "u1"
RESULT = b"##fileformat=VCFv4.2\n" + b"1\t69511\t.\tA\tG\t50\tPASS\tGENE=OR4F5\n" * 50
COLUMNAR = b"PAR1 columnar copy PAR1"
WINDOW = 600
COMPLETED_AT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
AFTER_WINDOW = (COMPLETED_AT + timedelta(seconds=WINDOW + 1)).timestamp()


@dataclass
class World:
    crashes: Crashes
    jobs: FakeJobs
    store: FakeStore
    accounts: FakeAccounts
    events: FakeEvents
    archiver: Archiver

    @property
    def job(self) -> JobRecord:
        return self.jobs.jobs["job1"]

    def hot(self) -> StoredObject | None:
        return self.store.objects.get(("results", self.job.result_key or ""))

    def cold(self) -> StoredObject | None:
        return self.store.objects.get(("archive", self.job.result_key or ""))

    def columnar(self) -> StoredObject | None:
        """The results viewer's columnar copy beside the hot result."""
        return self.store.objects.get(("results", columnar_key_for(self.job.result_key or "")))


def world(
    *, tier: Tier = Tier.FREE, storage_class: str = "GLACIER", now: float = AFTER_WINDOW
) -> World:
    crashes = Crashes()
    jobs = FakeJobs(crashes)
    store = FakeStore(crashes)
    job = completed_job(user_id=USER, completed_at=COMPLETED_AT)
    jobs.jobs[job.job_id] = job
    store.put("results", job.result_key or "", RESULT)
    store.put("results", columnar_key_for(job.result_key or ""), COLUMNAR)
    accounts = FakeAccounts({USER: tier})
    events = FakeEvents()
    archiver = Archiver(
        jobs=cast(StorageRepository, jobs),
        store=store,
        accounts=accounts,
        events=events,
        archive_bucket="archive",
        free_window_seconds=WINDOW,
        storage_class=storage_class,
        restore_days=2,
        clock=lambda: now,
    )
    return World(crashes, jobs, store, accounts, events, archiver)


def assert_result_is_safe(w: World) -> None:
    """Whatever state a crash left, the result's bytes exist where that state says."""
    storage = w.job.storage
    if storage in (StorageState.AVAILABLE, StorageState.ARCHIVING, StorageState.RESTORING):
        if storage is StorageState.RESTORING:
            cold = w.cold()
            assert cold is not None and cold.data == RESULT
        else:
            hot = w.hot()
            assert hot is not None and hot.data == RESULT, f"{storage}: hot copy lost"
    else:
        cold = w.cold()
        assert cold is not None and cold.data == RESULT, "ARCHIVED without a verified cold copy"


async def run_until_done(action, w: World) -> None:  # type: ignore[no-untyped-def]
    """Keep redelivering like SQS does until the handler returns."""
    for _ in range(5):
        try:
            await action()
            return
        except RetryLater:
            continue
    raise AssertionError("never finished")


async def steps_of(action, w: World) -> int:  # type: ignore[no-untyped-def]
    """How many calls a clean run makes (so every crash point can be tried)."""
    w.crashes.budget = 10_000
    await run_until_done(action, w)
    return 10_000 - (w.crashes.budget or 0)


async def test_the_window_is_a_timer_on_the_message() -> None:
    w = world(now=(COMPLETED_AT + timedelta(seconds=WINDOW - 90)).timestamp())
    with pytest.raises(RetryLater) as retry:
        await w.archiver.on_job_completed("job1")
    assert retry.value.delay_seconds == 90
    assert w.job.storage is StorageState.AVAILABLE and w.hot() is not None


async def test_archiving_moves_the_result_to_glacier_verified_and_drops_the_hot_copy() -> None:
    w = world()
    await w.archiver.on_job_completed("job1")
    assert w.job.storage is StorageState.ARCHIVED
    assert w.hot() is None and w.columnar() is None
    cold = w.cold()
    assert cold is not None and cold.data == RESULT and cold.storage_class == "GLACIER"
    assert cold.metadata == {"job-id": "job1", "sha256": sha256(RESULT)}
    assert [event.type for event in w.events.published] == ["job.archived"]


async def test_a_crash_between_any_two_archive_steps_is_finished_by_the_rerun() -> None:
    clean = world()
    total = await steps_of(lambda: clean.archiver.on_job_completed("job1"), clean)
    assert total > 5
    for crash_at in range(total):
        w = world()
        w.crashes.budget = crash_at
        with pytest.raises(Crash):
            await w.archiver.on_job_completed("job1")
        w.crashes.budget = None
        assert_result_is_safe(w)
        await run_until_done(lambda w=w: w.archiver.on_job_completed("job1"), w)
        assert w.job.storage is StorageState.ARCHIVED, crash_at
        assert w.hot() is None and w.columnar() is None, crash_at
        cold = w.cold()
        assert cold is not None and cold.data == RESULT, crash_at
        assert len({event.event_id for event in w.events.published}) == 1, crash_at


async def test_an_upgrade_while_copying_cancels_the_archive_and_keeps_the_hot_copy() -> None:
    w = world()

    async def upgrade_now() -> None:
        w.store.during_copy.clear()
        w.accounts.tiers[USER] = Tier.PREMIUM
        await w.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)

    w.store.during_copy.append(upgrade_now)
    await w.archiver.on_job_completed("job1")
    assert w.job.storage is StorageState.AVAILABLE
    hot = w.hot()
    assert hot is not None and hot.data == RESULT
    assert w.columnar() is not None, "the viewer lost its copy of a result that stays"
    assert w.cold() is None
    assert w.events.published == []


async def test_premium_users_results_are_not_archived() -> None:
    w = world(tier=Tier.PREMIUM)
    await w.archiver.on_job_completed("job1")
    assert w.job.storage is StorageState.AVAILABLE and w.hot() is not None


async def test_a_crash_between_any_two_restore_steps_is_finished_by_the_rerun() -> None:
    async def upgrade_and_thaw(w: World) -> None:
        await w.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)
        w.store.thaw_all()
        await w.archiver.finish_restore("job1")

    clean = world()
    await clean.archiver.on_job_completed("job1")
    clean.accounts.tiers[USER] = Tier.PREMIUM
    total = await steps_of(lambda: upgrade_and_thaw(clean), clean)
    assert clean.job.storage is StorageState.AVAILABLE
    for crash_at in range(total):
        w = world()
        await w.archiver.on_job_completed("job1")
        w.accounts.tiers[USER] = Tier.PREMIUM
        w.events.published.clear()
        w.crashes.budget = crash_at
        with pytest.raises(Crash):
            await upgrade_and_thaw(w)
        w.crashes.budget = None
        assert_result_is_safe(w)
        await run_until_done(lambda w=w: upgrade_and_thaw(w), w)
        await w.archiver.finish_restore("job1")  # the periodic check, after the fact
        assert w.job.storage is StorageState.AVAILABLE, crash_at
        hot = w.hot()
        assert hot is not None and hot.data == RESULT and hot.storage_class == "STANDARD"
        assert w.cold() is None, crash_at
        restored = [e for e in w.events.published if e.type == "job.restored"]
        assert restored and len({e.event_id for e in restored}) == 1, crash_at


async def test_restores_ask_for_expedited_and_fall_back_to_standard_when_refused() -> None:
    w = world()
    await w.archiver.on_job_completed("job1")
    w.store.expedited_available = False
    await w.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)
    assert w.job.storage is StorageState.RESTORING
    assert w.store.retrievals == ["Standard"]
    assert w.job.restore_tier == "Standard"  # the user is told to expect hours, not minutes

    fast = world()
    await fast.archiver.on_job_completed("job1")
    await fast.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)
    assert fast.store.retrievals == ["Expedited"]
    assert fast.job.restore_tier == "Expedited"


async def test_deep_archive_is_restored_with_standard_retrieval() -> None:
    w = world(storage_class="DEEP_ARCHIVE")
    await w.archiver.on_job_completed("job1")
    cold = w.cold()
    assert cold is not None and cold.storage_class == "DEEP_ARCHIVE"
    await w.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)
    assert w.store.retrievals == ["Standard"]


async def test_nothing_is_copied_back_before_the_thaw_is_done() -> None:
    w = world()
    await w.archiver.on_job_completed("job1")
    await w.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)
    await w.archiver.finish_restore("job1")
    assert w.job.storage is StorageState.RESTORING and w.hot() is None


async def test_one_job_that_cannot_be_restored_does_not_hold_back_the_others() -> None:
    w = world()
    await w.archiver.on_job_completed("job1")
    broken = w.job.model_copy(update={"job_id": "job0", "result_key": "u1/job0/lost.annot.vcf.gz"})
    w.jobs.jobs = {"job0": broken, **w.jobs.jobs}  # archived, but its cold copy is gone
    with pytest.raises(RetryLater):
        await w.archiver.on_tier_changed(user_id=USER, new_tier=Tier.PREMIUM)
    assert w.job.storage is StorageState.RESTORING
    assert w.jobs.jobs["job0"].storage is StorageState.ARCHIVED

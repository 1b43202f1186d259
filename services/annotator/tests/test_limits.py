"""The annotator's bounds: the decompressed-size count, and the per-user share of slots."""

from __future__ import annotations

import asyncio
import gzip
import os
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, cast

from gas_annotator.engine import text_bytes_exceed
from gas_annotator.repository import RunRepository
from gas_annotator.service import Annotator, RunSettings
from gas_annotator.settings import available_cpus, default_job_slots
from gas_annotator.share import UserShare, jobs_per_user
from gas_core.events import JobRequested
from gas_core.jobs import JobRecord, JobStatus, utc_timestamp
from gas_core.messaging import Delivery, RetryLater
from gas_core.tiers import Tier

TEXT = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" * 50


def test_the_text_size_is_counted_decompressed_across_members(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.vcf", tmp_path / "a.vcf.gz"
    plain.write_bytes(TEXT)
    packed.write_bytes(gzip.compress(TEXT[:1000]) + gzip.compress(TEXT[1000:]))
    for path in (plain, packed):
        assert not text_bytes_exceed(path, len(TEXT))
        assert text_bytes_exceed(path, len(TEXT) - 1)


def test_a_gzip_bomb_is_counted_only_up_to_the_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.vcf.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as out:
        for _ in range(1024):  # 1 GiB of text in ~1 MB
            out.write(compressor.compress(b"\0" * 1024**2))
        out.write(compressor.flush())
    started = time.perf_counter()
    assert text_bytes_exceed(bomb, 150 * 1024)
    assert time.perf_counter() - started < 0.5


def test_broken_gzip_is_left_for_the_reader_to_name(tmp_path: Path) -> None:
    broken = tmp_path / "broken.vcf.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate at all" * 10)
    assert not text_bytes_exceed(broken, 10**6)


async def test_a_user_holds_at_most_all_but_one_slot() -> None:
    assert [jobs_per_user(slots) for slots in (1, 2, 4)] == [1, 1, 3]
    share = UserShare(slots=3, waiting_places=2)
    assert share.take("a") and share.take("a") and not share.take("a")
    assert share.take("b")
    assert not share.take("c"), "every slot is taken"
    share.give_back("a")
    assert share.take("a")


async def test_waiting_requests_take_turns_by_user() -> None:
    share = UserShare(slots=2, waiting_places=4)
    assert share.take("ann") and not share.take("ann")
    ann_next = asyncio.ensure_future(share.wait_and_take("ann"))
    ann_later = asyncio.ensure_future(share.wait_and_take("ann"))
    await asyncio.sleep(0)
    assert share.may_wait("ann") and share.may_wait("bob")
    ann_last = asyncio.ensure_future(share.wait_and_take("ann"))
    await asyncio.sleep(0)
    assert not share.may_wait("ann"), "one place stays for another user"
    assert share.take("bob"), "bob takes the slot ann may not"
    cat = asyncio.ensure_future(share.wait_and_take("cat"))
    await asyncio.sleep(0)
    share.give_back("bob")  # the free slot goes to cat (no job running), not to ann's next
    await asyncio.sleep(0)
    assert cat.done() and not ann_next.done()
    share.give_back("ann")
    await asyncio.sleep(0)
    assert ann_next.done() and not ann_later.done()
    ann_later.cancel()
    share.give_back("ann")
    await asyncio.sleep(0)
    assert ann_last.done(), "a cancelled waiter gives up its turn"


class BlockingClaims:
    """A job table whose claims wait until the test lets them through."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.release = asyncio.Event()
        self.claimed: list[str] = []

    async def get(self, job_id: str) -> JobRecord | None:
        return self.jobs.get(job_id)

    async def claim(self, *, job_id: str, runner: str, lease_seconds: float) -> bool:
        self.claimed.append(job_id)
        await self.release.wait()
        return False  # "running elsewhere": the handler asks to look again later


class Resent:
    def __init__(self) -> None:
        self.sent: list[tuple[str | None, int]] = []

    async def send_later(self, request: JobRequested, *, delay_seconds: int) -> None:
        self.sent.append((request.job_id, delay_seconds))


def queued(repo: BlockingClaims, user: str) -> JobRequested:
    now = utc_timestamp()
    job = JobRecord(
        job_id=uuid.uuid4().hex,
        user_id=user,
        tier=Tier.FREE,
        status=JobStatus.QUEUED,
        submitted_at=now,
        created_at=now,
        queued_at=now,
        input_filename="a.vcf",
        input_size_bytes=10,
        input_bucket="in",
        input_key=f"{user}/a.vcf",
    )
    repo.jobs[job.job_id] = job
    return JobRequested.model_validate(
        {
            "job_id": job.job_id,
            "user_id": user,
            "payload": {
                "tier": "free",
                "input_bucket": "in",
                "input_key": job.input_key,
                "filename": "a.vcf",
                "size_bytes": 10,
            },
        }
    )


async def test_a_users_request_beyond_their_share_is_handed_back_while_others_run() -> None:
    repo, resent = BlockingClaims(), Resent()
    annotator = Annotator(
        repo=cast(RunRepository, repo),
        s3=None,
        events=cast(Any, None),
        bundles=cast(Any, None),
        engines=cast(Any, None),
        requests=resent,
        settings=RunSettings(
            results_bucket="results",
            lease_seconds=30,
            progress_interval_seconds=1,
            work_dir=None,
            job_slots=2,
            waiting_places=2,
            size_limits={Tier.FREE: 1024, Tier.PREMIUM: 1024**3},
            time_limits={Tier.FREE: 60, Tier.PREMIUM: 3600},
            user_share_wait_seconds=3,
        ),
    )
    delivery = Delivery(message_id="m", receive_count=1, receipt_handle="r")
    first, second, third = (queued(repo, "ann") for _ in range(3))
    other = queued(repo, "bob")
    running = asyncio.create_task(annotator.handle(first, delivery))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(annotator.handle(second, delivery))  # the one that waits
    await asyncio.sleep(0)
    await annotator.handle(third, delivery)  # returns at once: the message is deleted
    assert resent.sent == [(third.job_id, 3)]
    bobs = asyncio.create_task(annotator.handle(other, delivery))
    await asyncio.sleep(0)
    assert repo.claimed == [first.job_id, other.job_id], "bob runs beside ann, ann waits"

    repo.release.set()
    outcomes = await asyncio.gather(running, bobs, waiting, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [RetryLater] * 3
    assert repo.claimed[2:] == [second.job_id], "ann's next job started when her first ended"
    assert len(resent.sent) == 1


def test_the_default_slots_follow_the_cpus_and_leave_room_for_a_second_user() -> None:
    assert default_job_slots() == max(2, available_cpus())
    assert 1 <= available_cpus() <= (os.cpu_count() or 1)

"""A running job's log reaches the results bucket while the job runs, so the job page can
show it before the run ends."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, cast

from gas_annotator import runner
from gas_annotator.repository import RunRepository
from gas_annotator.service import Annotator, RunLogFile, RunSettings
from gas_core.jobs import JobRecord, JobStatus, utc_timestamp
from gas_core.tiers import Tier


class Renewals:
    def __init__(self) -> None:
        self.logs: list[tuple[str, str] | None] = []

    async def renew(self, *, log: tuple[str, str] | None = None, **_: Any) -> bool:
        self.logs.append(log)
        return True


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[(Bucket, Key)] = Body


class SlowEngine:
    """Writes a log line, runs a while, writes another."""

    def __init__(self) -> None:
        self.first_line_written = asyncio.Event()
        self.finish = asyncio.Event()

    async def annotate(self, *, log_path: Path, **_: Any) -> runner.EngineOutcome:
        with log_path.open("w") as log:
            log.write("read 1200 variants\n")
            log.flush()
            self.first_line_written.set()
            await self.finish.wait()
            log.write("wrote 1200 variants\n")
        return runner.InputRefused("stop here")


async def test_the_log_is_uploaded_while_the_job_runs(tmp_path: Path) -> None:
    repo, bucket, engine = Renewals(), Bucket(), SlowEngine()
    annotator = Annotator(
        repo=cast(RunRepository, repo),
        s3=cast(Any, bucket),
        events=cast(Any, None),
        bundles=cast(Any, None),
        engines=cast(Any, engine),
        requests=cast(Any, None),
        settings=RunSettings(
            results_bucket="results",
            lease_seconds=30,
            progress_interval_seconds=0.05,
            work_dir=None,
            job_slots=2,
            waiting_places=2,
            size_limits={Tier.FREE: 1024, Tier.PREMIUM: 1024**3},
            time_limits={Tier.FREE: 60, Tier.PREMIUM: 3600},
            user_share_wait_seconds=3,
            live_log_seconds=0.1,
        ),
    )
    now = utc_timestamp()
    job = JobRecord(
        job_id=uuid.uuid4().hex,
        user_id="u1",
        tier=Tier.FREE,
        status=JobStatus.RUNNING,
        submitted_at=now,
        created_at=now,
        input_filename="a.vcf",
        input_size_bytes=10,
        input_bucket="in",
        input_key="u1/a.vcf",
    )
    log_file = RunLogFile(path=tmp_path / "anntools.log", bucket="results", key="u1/j/a.annot.log")
    run = asyncio.create_task(
        annotator._annotate_holding_lease(
            job,
            "runner-1",
            tmp_path / "a.vcf",
            tmp_path / "out.vcf.gz",
            tmp_path / "p",
            None,
            log_file,
        )
    )
    await engine.first_line_written.wait()
    for _ in range(100):
        if ("results", log_file.key) in bucket.objects and ("results", log_file.key) in repo.logs:
            break
        await asyncio.sleep(0.05)
    running_log = bucket.objects[("results", log_file.key)].decode()
    assert "read 1200 variants" in running_log
    assert "RUNNING" in running_log
    # The job record names the log, so the jobs service can serve it before the run ends.
    assert ("results", log_file.key) in repo.logs
    engine.finish.set()
    assert isinstance(await run, runner.InputRefused)

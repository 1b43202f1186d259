"""SIGKILL rounds: while users keep submitting, the annotator, the jobs service, the notifier and
the archiver are each killed with SIGKILL (with everything they forked) and started again.
Afterwards every job has ended once, its owner got one mail about it, and every free result
is in cold storage (and only there) while premium results stayed."""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from typing import Any

import pytest

from gas_core.jobs import StorageState
from gas_core.tiers import Tier
from gas_testing.data import KnownSnp
from gas_testing.localstack import wait_until
from tests.soak.report import record
from tests.soak.stack import (
    TERMINAL,
    SoakStack,
    StartSoak,
    User,
    seconds_between,
    sent_mails,
    spread,
    vcf,
)

pytestmark = [pytest.mark.soak, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

WINDOW_SECONDS = 5  # free results go cold this long after completion, during the traffic
VARIANTS = 3000
# Every fourth job, a premium user's, runs a few seconds: the annotator dies in one of these.
LARGE_VARIANTS = 60_000
PACE_SECONDS = 0.5


class Traffic(threading.Thread):
    """Users submitting one job after another, patiently retrying through outages."""

    def __init__(self, users: list[User], snps: list[KnownSnp]) -> None:
        super().__init__(daemon=True)
        self.users = users
        self.snps = snps
        self.submitted: list[tuple[User, str]] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        n = 0
        try:
            while not self.stopping.is_set():
                user = self.users[n % len(self.users)]
                start = (n * 997) % 250_000
                if user.tier is Tier.PREMIUM and n % 4 == 3:
                    content = gzip.compress(vcf(self.snps, LARGE_VARIANTS, start=start), 1)
                    job_id = user.run_patiently(content, "large.vcf.gz")
                else:
                    job_id = user.run_patiently(vcf(self.snps, VARIANTS, start=start), "sample.vcf")
                self.submitted.append((user, job_id))
                n += 1
                time.sleep(PACE_SECONDS)
        except BaseException as error:  # reported by the test
            self.error = error

    def setbacks(self) -> Counter[str]:
        return sum((user.setbacks for user in self.users), Counter())


def statuses(users: list[User]) -> Counter[str]:
    return Counter(job["status"] for user in users for job in user.jobs().values())


def running_large_jobs(users: list[User]) -> list[str]:
    return [
        job["id"]
        for user in users
        for job in user.jobs().values()
        if job["status"] == "RUNNING" and job["input_filename"] == "large.vcf.gz"
    ]


def kill_moment(soak: SoakStack, name: str, users: list[User]) -> str:
    """Wait until the service is in the middle of its work; what it was doing."""
    if name == "annotator":
        running = wait_until(
            lambda: running_large_jobs(users), timeout=90, what="a large job RUNNING", every=0.1
        )
        return f"running {','.join(running)}"
    if name == "notifier":
        sent = len(sent_mails(soak.moto_url))
        wait_until(
            lambda: len(sent_mails(soak.moto_url)) > sent, timeout=60, what="a mail going out"
        )
        return "mails going out"
    if name == "archiver":
        log = soak.services["archiver"].log_path
        wait_until(lambda: '"msg": "archived ' in log.read_text(), timeout=60, what="an archive")
        return "archiving"
    return f"{len(users)} users submitting"


def test_sigkill_rounds_lose_and_duplicate_nothing(
    start_soak: StartSoak, snps: list[KnownSnp]
) -> None:
    soak = start_soak(GAS_FREE_WINDOW_SECONDS=str(WINDOW_SECONDS))
    users = [
        soak.user("kill-free-a", Tier.FREE),
        soak.user("kill-free-b", Tier.FREE),
        soak.user("kill-premium-a", Tier.PREMIUM),
        soak.user("kill-premium-b", Tier.PREMIUM),
    ]
    traffic = Traffic(users, snps)
    traffic.start()
    rounds: dict[str, dict[str, Any]] = {}
    interrupted: list[str] = []
    began = time.monotonic()
    for name in ("annotator", "jobs", "notifier", "archiver"):
        service = soak.services[name]
        doing = kill_moment(soak, name, users)
        before = traffic.setbacks()
        service.kill()
        if doing.startswith("running "):
            interrupted = doing.removeprefix("running ").split(",")
            doing = f"{len(interrupted)} large job(s) RUNNING"
        time.sleep(1)
        back = service.restart()
        time.sleep(2)
        rounds[name] = {
            "killed while": doing,
            "ready again after s": back + 1,
            "users' setbacks": dict(traffic.setbacks() - before),
        }
    traffic.stopping.set()
    traffic.join(timeout=180)
    traffic_seconds = time.monotonic() - began
    assert traffic.error is None, f"a user could not submit: {traffic.error!r}"

    job_ids = [job_id for _, job_id in traffic.submitted]
    owner = {job_id: user for user, job_id in traffic.submitted}
    free = [job_id for job_id in job_ids if owner[job_id].tier is Tier.FREE]
    premium = [job_id for job_id in job_ids if owner[job_id].tier is Tier.PREMIUM]

    def every_job_terminal() -> dict[str, dict[str, Any]] | None:
        seen: dict[str, dict[str, Any]] = {}
        for user in users:
            seen |= user.jobs()
        return seen if all(seen[job_id]["status"] in TERMINAL for job_id in job_ids) else None

    settle_start = time.monotonic()
    listed = wait_until(every_job_terminal, timeout=240, what="every job terminal", every=1)
    terminal_after = time.monotonic() - settle_start

    def archived() -> bool:
        records = soak.records(free)
        return all(record.storage is StorageState.ARCHIVED for record in records.values())

    wait_until(archived, timeout=120, what="every free result archived", every=1)
    settings = soak.stack.settings
    wait_until(
        lambda: soak.drained(settings.annotator_queue, settings.archiver_queue),
        timeout=60,
        what="annotator and archiver idle",
    )
    mails_after = soak.mails_settled(users, expected=len(job_ids) + len(free), timeout=180)
    mails = soak.mails_by_job(users)
    records = soak.records(job_ids)
    hot = soak.objects(settings.results_bucket)
    cold = soak.objects(settings.archive_bucket)
    orphans = [
        job["id"]
        for user in users
        for job in user.jobs().values()
        if job["id"] not in owner and job["status"] == "CREATED"
    ]
    expected_mails = {job_id: {"ready": 1, "archived": 1} for job_id in free} | {
        job_id: {"ready": 1} for job_id in premium
    }
    wrong_mails = {
        job_id: dict(mails.get(job_id, {}))
        for job_id, want in expected_mails.items()
        if mails.get(job_id) != want
    }
    record(
        "sigkill",
        f"SIGKILL of annotator, jobs, notifier and archiver under traffic ({len(users)} users, "
        f"free window {WINDOW_SECONDS} s)",
        {
            **{f"{name}": figures for name, figures in rounds.items()},
            "traffic lasted s": traffic_seconds,
            "jobs submitted (free, premium)": f"{len(job_ids)} ({len(free)}, {len(premium)})",
            "statuses": dict(Counter(listed[j]["status"] for j in job_ids)),
            "runs per job": dict(Counter(r.attempts for r in records.values())),
            "runs of the jobs the annotator died in": [records[j].attempts for j in interrupted],
            "all terminal after traffic s": terminal_after,
            "all mails out after s": mails_after,
            "queued to completed s": spread(
                [
                    seconds_between(r.queued_at, r.completed_at)
                    for r in records.values()
                    if r.completed_at and r.queued_at
                ]
            ),
            "jobs with unexpected mails": len(wrong_mails),
            "created but never submitted (answer lost in an outage)": len(orphans),
            "users' setbacks in all": dict(traffic.setbacks()),
        },
    )

    assert {listed[job_id]["status"] for job_id in job_ids} == {"COMPLETED"}
    assert interrupted and all(records[j].attempts == 2 for j in interrupted), (
        "the annotator's SIGKILL did not land mid-run, or a job ran more than twice"
    )
    assert not wrong_mails, f"jobs without exactly their mails: {wrong_mails}"
    for job_id in free:
        key = records[job_id].result_key
        assert records[job_id].storage is StorageState.ARCHIVED
        assert cold.get(key or "") == "GLACIER" and key not in hot, f"{job_id}: {key}"
    for job_id in premium:
        key = records[job_id].result_key
        assert records[job_id].storage is StorageState.AVAILABLE
        assert hot.get(key or "") == "STANDARD" and key not in cold, f"{job_id}: {key}"

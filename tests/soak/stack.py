"""The whole GAS stack as real processes for the fault and load suite, and what a user and an
operator see of it.

Each service runs as its own process group on a port chosen once, so it can be killed with
SIGKILL (the process and everything it forked, as a crashed pod) and started again where the
others expect it. Users talk to the gateway with API tokens, as a script would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import httpx

from gas_core.aws import aws_clients
from gas_core.jobs import JobRecord, JobTable
from gas_core.tiers import Tier
from gas_testing.data import KnownSnp
from gas_testing.gateway import DevIdp, provision_user
from gas_testing.localstack import free_port, spawn, stop_processes, wait_until
from gas_testing.motoserver import SENT_MAIL_PATH
from gas_testing.plugin import Stack, queue_drained, with_jobs

HEADER = "##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
PUBLIC_URL = "https://gas.example.org"
TERMINAL = ("COMPLETED", "FAILED")
EVERY_SERVICE = ("jobs", "gateway", "annotator", "notifier", "archiver")
# Links in mails point at {PUBLIC_URL}/jobs/<job id>.
JOB_LINK = re.compile(re.escape(PUBLIC_URL) + r"/jobs/([0-9a-zA-Z-]+)")


def vcf(snps: list[KnownSnp], count: int, *, start: int = 0) -> bytes:
    """``count`` known GRCh37 SNPs from ``start`` on, as a plain VCF."""
    chosen = snps[start : start + count]
    lines = "".join(f"{s.chrom}\t{s.pos}\t.\t{s.ref}\t{s.alt}\t50\tPASS\t.\n" for s in chosen)
    return (HEADER + lines).encode()


def vcf_of_size(snps: list[KnownSnp], size: int, *, start: int = 0) -> bytes:
    """A VCF of whole records of at most ``size`` bytes."""
    text = vcf(snps, size // 20, start=start)[:size]
    return text[: text.rfind(b"\n") + 1]


@dataclass(frozen=True)
class SentMail:
    to: list[str]
    subject: str
    text: str


def sent_mails(moto_url: str) -> list[SentMail]:
    """Every mail the moto server's SES accepted, oldest first."""
    answer = httpx.get(f"{moto_url}{SENT_MAIL_PATH}", timeout=60)
    answer.raise_for_status()
    mails = []
    for item in answer.json():
        if "raw_data" not in item:
            to = [a for kind in item["destinations"].values() for a in kind]
            mails.append(SentMail(to, item.get("subject", ""), item.get("body", "")))
            continue
        message = message_from_string(item["raw_data"], policy=policy.default)
        assert isinstance(message, EmailMessage)
        plain = message.get_body(("plain",))
        text = plain.get_content() if isinstance(plain, EmailMessage) else ""
        to = [address for _, address in getaddresses([str(message["To"] or "")])]
        mails.append(SentMail(to, str(message["Subject"]), text))
    return mails


@dataclass
class Service:
    """One GAS service as a process group on a fixed port; SIGKILL it and start it again."""

    name: str
    port: int
    env: dict[str, str]
    log_dir: Path
    module: str = ""  # gas_<name> unless said
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def start(self) -> Service:
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.process = spawn(
                [sys.executable, "-m", self.module or f"gas_{self.name}"],
                env=self.env,
                stdout=log.fileno(),
            )
        return self

    def wait_ready(self, timeout: float = 180) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=3).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=timeout, what=f"{self.name} /readyz", every=0.25)

    def kill(self) -> None:
        """SIGKILL the service and everything it forked: nothing gets to clean up."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> float:
        """Start the service again on its port; the seconds until it was ready."""
        started = time.monotonic()
        self.start().wait_ready()
        return time.monotonic() - started


@dataclass
class User:
    """Someone with an API token, using the public API through the gateway."""

    email: str
    user_id: str
    tier: Tier
    http: httpx.Client
    # Answers other than success met while retrying, e.g. {"502": 3, "ConnectError": 1}.
    setbacks: Counter[str] = field(default_factory=Counter)

    def create(self, content: bytes, filename: str) -> str:
        """Create a job and upload its file; the job id."""
        created = self.http.post(
            "/api/jobs", json={"filename": filename, "size_bytes": len(content)}
        )
        assert created.status_code == 201, created.text
        form = created.json()["upload"]
        posted = httpx.post(
            form["url"], data=form["fields"], files={"file": (filename, content)}, timeout=60
        )
        assert posted.status_code in (200, 204), posted.text
        return str(created.json()["job"]["id"])

    def submit(self, job_id: str) -> httpx.Response:
        return self.http.post(f"/api/jobs/{job_id}/submit")

    def run(self, content: bytes, filename: str) -> str:
        job_id = self.create(content, filename)
        answer = self.submit(job_id)
        assert answer.status_code == 200, answer.text
        return job_id

    def run_patiently(self, content: bytes, filename: str, *, within: float = 120) -> str:
        """Create, upload and submit as a patient script would while services come and go:
        each step again after an error until it succeeds (submit is safe to repeat)."""
        created = self._until_ok(
            lambda: self.http.post(
                "/api/jobs", json={"filename": filename, "size_bytes": len(content)}
            ),
            within,
        )
        form = created.json()["upload"]
        self._until_ok(
            lambda: httpx.post(
                form["url"], data=form["fields"], files={"file": (filename, content)}, timeout=60
            ),
            within,
        )
        job_id = str(created.json()["job"]["id"])
        self._until_ok(lambda: self.submit(job_id), within)
        return job_id

    def _until_ok(self, call: Callable[[], httpx.Response], within: float) -> httpx.Response:
        deadline = time.monotonic() + within
        while True:
            try:
                answer = call()
                if answer.status_code < 300:
                    return answer
                assert answer.status_code >= 500, f"{answer.status_code}: {answer.text}"
                self.setbacks[str(answer.status_code)] += 1
            except httpx.TransportError as error:
                self.setbacks[type(error).__name__] += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up after {within} s; setbacks {dict(self.setbacks)}")
            time.sleep(0.3)

    def job(self, job_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/api/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Every job of the user, by id, as the jobs list pages show them."""
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
            answer = self.http.get("/api/jobs", params=params)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            found |= {job["id"]: job for job in page["data"]}
            cursor = page.get("next")
            if not cursor:
                return found

    def wait_for(
        self, job_id: str, *, timeout: float = 120, every: float = 0.05
    ) -> tuple[dict[str, Any], float]:
        """The job once terminal, and the seconds it took from this call."""
        started = time.monotonic()
        job = wait_until(
            lambda: (seen := self.job(job_id))["status"] in TERMINAL and seen,
            timeout=timeout,
            what=f"job {job_id} terminal",
            every=every,
        )
        return job, time.monotonic() - started


@dataclass
class SoakStack:
    """The five services on one isolated stack, with a fresh account database."""

    stack: Stack
    database_url: str
    services: dict[str, Service]
    ready_seconds: float = 0.0

    @property
    def gateway(self) -> Service:
        return self.services["gateway"]

    @property
    def moto_url(self) -> str:
        return str(self.stack.aws.endpoint_url)

    def user(self, name: str, tier: Tier) -> User:
        email = f"{name}-{os.urandom(4).hex()}@example.org"
        user_id, token = provision_user(self.database_url, email=email, tier=tier)
        http = httpx.Client(
            base_url=self.gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        return User(email=email, user_id=user_id, tier=tier, http=http)

    def stop(self) -> None:
        stop_processes([s.process for s in self.services.values() if s.process], grace=3)

    def drained(self, *queues: str) -> bool:
        return all(queue_drained(self.stack, queue) for queue in queues)

    def mails_settled(self, users: list[User], *, expected: int, timeout: float = 150) -> float:
        """Wait until the notifier is idle and at least ``expected`` mails reached ``users``
        (reading moto's whole state is costly, so only then count), and a moment more for a
        second mail were one coming; the seconds it took."""
        started = time.monotonic()
        queue = self.stack.settings.notifier_queue

        def settled() -> bool:
            if not self.drained(queue):
                return False
            return sum(sum(c.values()) for c in self.mails_by_job(users).values()) >= expected

        wait_until(settled, timeout=timeout, what=f"{expected} mails out", every=2)
        waited = time.monotonic() - started
        time.sleep(2)
        return waited

    def mails_by_job(self, users: list[User]) -> dict[str, Counter[str]]:
        """For each job id: the subjects of the mails its owner got about it, counted."""
        emails = {user.email for user in users}
        found: dict[str, Counter[str]] = {}
        for mail in sent_mails(self.moto_url):
            if not emails & set(mail.to):
                continue
            for job_id in set(JOB_LINK.findall(mail.text)):
                found.setdefault(job_id, Counter())[kind_of(mail.subject)] += 1
        return found

    def records(self, job_ids: list[str]) -> dict[str, JobRecord]:
        async def read(table: JobTable) -> dict[str, JobRecord]:
            found = {}
            for job_id in job_ids:
                record = await table.get(job_id)
                assert record is not None, f"job {job_id} vanished"
                found[job_id] = record
            return found

        return with_jobs(self.stack, JobTable, read)

    def objects(self, bucket: str) -> dict[str, str]:
        """Every key in ``bucket`` with its storage class."""

        async def listing() -> dict[str, str]:
            async with aws_clients(self.stack.aws) as clients:
                s3 = await clients.client("s3")
                found = {}
                async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for entry in page.get("Contents", []):
                        found[entry["Key"]] = str(entry.get("StorageClass", "STANDARD"))
                return found

        return asyncio.run(listing())


def kind_of(subject: str) -> str:
    for words, kind in (
        ("is ready", "ready"),
        ("failed", "failed"),
        ("cold storage", "archived"),
        ("available again", "restored"),
    ):
        if words in subject:
            return kind
    return subject


def objects_per_job(keys: dict[str, str]) -> dict[str, list[str]]:
    """Keys ``<user>/<job>/<file>`` grouped by job id."""
    grouped: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split("/")
        if len(parts) == 3:
            grouped.setdefault(parts[1], []).append(parts[2])
    return grouped


def start_soak_stack(
    stack: Stack,
    *,
    database_url: str,
    idp: DevIdp,
    bundle_cache: Path,
    log_dir: Path,
    names: tuple[str, ...] = EVERY_SERVICE,
    annotators: int = 1,
    **settings: str,
) -> SoakStack:
    """Start ``names`` at once, each on its own port, and wait until all are ready; with
    ``annotators`` > 1, more annotator processes beside the first ("annotator-2", ...), as
    KEDA would scale them on queue depth. ``settings`` go to every service, over the suite's
    defaults."""
    ports = {name: free_port() for name in names}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    # The gateway's internal API (/internal/users/...) listens on a port of its own; the
    # notifier and archiver ask it for a user's address and tier.
    internal_port = free_port()
    internal_url = f"http://127.0.0.1:{internal_port}"
    own: dict[str, dict[str, str]] = {
        "jobs": {
            "GAS_JOBS_STRANDED_REQUEST_CHECK_SECONDS": "2",
            "GAS_JOBS_STRANDED_REQUEST_MIN_AGE_SECONDS": "5",
        },
        "gateway": {
            "DATABASE_URL": database_url,
            "GAS_GATEWAY_INTERNAL_PORT": str(internal_port),
            "GAS_GATEWAY_JOBS_URL": url.get("jobs", "http://127.0.0.1:9"),
            "GAS_GATEWAY_OUTBOX_INTERVAL_SECONDS": "0.5",
            "GAS_GATEWAY_PAYMENT_PROVIDER": "test",
            # Rate limits have their own test; the load here comes from one address.
            "GAS_GATEWAY_RATE_LIMIT_PER_CREDENTIAL": "100000",
            "GAS_GATEWAY_RATE_LIMIT_PER_IP": "100000",
            **idp.gateway_env(),
        },
        "annotator": {
            "GAS_ANNOTATOR_BUNDLE_CACHE_DIR": str(bundle_cache),
            "GAS_ANNOTATOR_BUNDLE_BUILDS": '["GRCh37"]',
            "GAS_ANNOTATOR_VISIBILITY_SECONDS": "10",
            "GAS_ANNOTATOR_LEASE_SECONDS": "5",
            "GAS_ANNOTATOR_STOP_GRACE_SECONDS": "3",
            "GAS_ANNOTATOR_RECEIVE_WAIT_SECONDS": "1",
            "GAS_ANNOTATOR_USER_SHARE_WAIT_SECONDS": "2",
        },
        "notifier": {
            "GAS_NOTIFIER_GATEWAY_URL": internal_url,
            "GAS_NOTIFIER_PUBLIC_URL": PUBLIC_URL,
            "GAS_NOTIFIER_RECEIVE_WAIT_SECONDS": "1",
            "GAS_NOTIFIER_SEND_LEASE_SECONDS": "10",
        },
        "archiver": {
            "GAS_ARCHIVER_GATEWAY_URL": internal_url,
            "GAS_ARCHIVER_RECONCILE_INTERVAL_SECONDS": "1",
            "GAS_ARCHIVER_VISIBILITY_SECONDS": "5",
            "GAS_ARCHIVER_RECEIVE_WAIT_SECONDS": "1",
        },
    }
    services = {
        name: Service(
            name,
            ports[name],
            stack.process_env(
                **{f"GAS_{name.upper()}_PORT": str(ports[name])}, **own[name], **settings
            ),
            log_dir,
        )
        for name in names
    }
    for n in range(2, annotators + 1):
        port = free_port()
        env = stack.process_env(GAS_ANNOTATOR_PORT=str(port), **own["annotator"], **settings)
        services[f"annotator-{n}"] = Service(
            f"annotator-{n}", port, env, log_dir, module="gas_annotator"
        )
    soak = SoakStack(stack=stack, database_url=database_url, services=services)
    started = time.monotonic()
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_ready()
    except BaseException:
        soak.stop()
        raise
    soak.ready_seconds = time.monotonic() - started
    return soak


# What the ``start_soak`` fixture gives a test: start(names=..., **settings) -> SoakStack.
StartSoak = Callable[..., SoakStack]


def one_long_line_gzip(megabytes: int) -> bytes:
    """A small gzip whose body is one line of ``megabytes`` MB with no newline."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(HEADER.encode() + b"1\t100\t.\tA\tG\t50\tPASS\t")]
    parts += [compressor.compress(b"X" * 1024**2) for _ in range(megabytes)]
    return b"".join(parts) + compressor.flush()


def seconds_between(earlier: str, later: str) -> float:
    """Seconds from one of the API's timestamps to another."""
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def spread(values: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }

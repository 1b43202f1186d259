"""The job pipeline end to end on the local stack: the jobs service and annotator workers as
real processes, the moto server for S3/DynamoDB/SNS/SQS, and the real anntools engine."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.events import JobRequested, JobRequestedPayload
from gas_core.jobs import JobRecord, JobStatus, utc_timestamp
from gas_core.messaging import SnsPublisher, queue_url, topic_arn
from gas_core.tiers import Tier
from gas_jobs.repository import JobRepository
from gas_testing.data import KnownSnp
from gas_testing.localstack import wait_until
from gas_testing.plugin import (
    ServiceProcess,
    Stack,
    StartService,
    get_job,
    queue_drained,
    with_jobs,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BGZF_MAGIC = b"\x1f\x8b\x08\x04"
HEADER = "##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def vcf_text(snps: list[KnownSnp], count: int) -> str:
    """``count`` known GRCh37 SNPs (their dbSNP ids are left for the annotator to fill in)."""
    lines = [
        f"{snp.chrom}\t{snp.pos}\t.\t{snp.ref}\t{snp.alt}\t50\tPASS\t.\n" for snp in snps[:count]
    ]
    return HEADER + "".join(lines)


class Client:
    """What the gateway does on a user's behalf: mint the internal token and call the job API."""

    def __init__(self, jobs: ServiceProcess, stack: Stack, user: str, tier: Tier) -> None:
        self._url = jobs.url
        self._secret = stack.settings.internal_jwt_secret
        self.identity = InternalIdentity(user_id=user, tier=tier)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = mint_internal_token(self.identity, self._secret)
        return httpx.request(
            method,
            f"{self._url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )

    def submit(self, content: bytes, filename: str = "sample.vcf", **job: Any) -> str:
        created = self.request(
            "POST", "/jobs", json={"filename": filename, "size_bytes": len(content), **job}
        )
        assert created.status_code == 201, created.text
        upload = created.json()["upload"]
        posted = httpx.post(
            upload["url"], data=upload["fields"], files={"file": (filename, content)}, timeout=60
        )
        assert posted.status_code in (200, 204), posted.text
        job_id = str(created.json()["job"]["id"])
        submitted = self.request("POST", f"/jobs/{job_id}/submit")
        assert submitted.status_code == 200, submitted.text
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(
        self, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if done(job):
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} never got there; last seen {job}")


def long_job(snps: dict[str, list[Any]]) -> bytes:
    """~900k variants (the bundle's common SNPs three times over), gzipped: several seconds
    of annotation even on a warm engine, so a test can stop or kill its worker mid-run."""
    text = vcf_text(snps, 300_000)
    body = text[len(HEADER) :]
    return gzip.compress((text + body + body).encode(), compresslevel=1)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("COMPLETED", "FAILED")


def run(coroutine_factory: Callable[[Any], Any], stack: Stack) -> Any:
    async def go() -> Any:
        async with aws_clients(stack.aws) as clients:
            return await coroutine_factory(clients)

    return asyncio.run(go())


def job_events(stack: Stack) -> list[tuple[str, str, dict[str, str]]]:
    """Every event that reached the notifier's queue: (type, job id, message attributes)."""

    async def drain(clients: Any) -> list[tuple[str, str, dict[str, str]]]:
        sqs = await clients.client("sqs")
        url = await queue_url(sqs, stack.settings.notifier_queue)
        seen = []
        while True:
            response = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                body = json.loads(message["Body"])
                attributes = {
                    k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                }
                seen.append((body["type"], body["job_id"], attributes))
                await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return list(run(drain, stack))


def job_request(job: JobRecord) -> JobRequested:
    """A request to run ``job``, like the one the jobs service publishes on submit."""
    return JobRequested(
        job_id=job.job_id,
        user_id=job.user_id,
        payload=JobRequestedPayload(
            tier=job.tier,
            input_bucket=job.input_bucket,
            input_key=job.input_key,
            filename=job.input_filename,
            size_bytes=job.input_size_bytes,
        ),
    )


def result_objects(stack: Stack, prefix: str) -> list[str]:
    async def listing(clients: Any) -> list[str]:
        s3 = await clients.client("s3")
        response = await s3.list_objects_v2(Bucket=stack.settings.results_bucket, Prefix=prefix)
        return sorted(entry["Key"] for entry in response.get("Contents", []))

    return list(run(listing, stack))


@pytest.fixture
def jobs_service(stack: Stack, start_service: StartService) -> ServiceProcess:
    return start_service("jobs", stack)


def test_a_vcf_travels_from_upload_to_an_annotated_download(
    stack: Stack,
    jobs_service: ServiceProcess,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> None:
    start_annotator()
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    job_id = alice.submit(gzip.compress(vcf_text(common_snps, 1000).encode()), "sample.vcf.gz")

    job = alice.wait_for(job_id, finished)
    assert job["status"] == "COMPLETED", job
    assert (job["storage"], job["progress"], job["error"]) == ("AVAILABLE", 100, None)
    assert job["completed_at"] >= job["started_at"] >= job["queued_at"]
    assert job["summary"]["variants"] == 1000
    assert job["provenance"]["build"] == "GRCh37"

    link = alice.request("GET", f"/jobs/{job_id}/result")
    assert link.status_code == 200, link.text
    assert link.json()["filename"] == "sample.annot.vcf.gz"
    download = httpx.get(link.json()["url"], timeout=30)
    assert download.status_code == 200
    assert download.content.startswith(BGZF_MAGIC), "the result is not bgzipped"
    annotated = gzip.decompress(download.content).decode()
    for field in ("GENE", "REGION", "CYTOBAND"):
        assert f"##INFO=<ID={field}," in annotated
    records = [line.split("\t") for line in annotated.splitlines() if not line.startswith("#")]
    assert len(records) == 1000
    assert sum(record[2].startswith("rs") for record in records) == 1000
    assert all("CYTOBAND=" in record[7] for record in records)

    assert "1000 variants" in alice.request("GET", f"/jobs/{job_id}/log").text
    assert [event[:2] for event in job_events(stack)] == [("job.completed", job_id)]

    bob = Client(jobs_service, stack, "bob", Tier.PREMIUM)
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/log", f"/jobs/{job_id}/result"):
        assert bob.request("GET", path).status_code == 404, path


def test_a_build_the_user_forces_is_annotated_as_forced_with_the_evidence_kept(
    stack: Stack, jobs_service: ServiceProcess, start_annotator: Callable[..., ServiceProcess]
) -> None:
    """force_build travels from job creation to the annotator: header-less GRCh38 records
    forced to GRCh37 complete as GRCh37 and both checks report what the records said."""
    from anntools import ensure_bundle

    ensure_bundle("GRCh38")  # beside GRCh37 in the shared cache: the records can tell
    start_annotator()
    paula = Client(jobs_service, stack, "paula", Tier.PREMIUM)
    real = Path(__file__).resolve().parents[2] / "libs" / "anntools" / "tests" / "data" / "real"
    clinvar = (real / "clinvar_grch38_chr1_headerless.vcf").read_bytes()
    job_id = paula.submit(clinvar, build="GRCh37", force_build=True)

    job = paula.wait_for(job_id, finished)
    assert job["status"] == "COMPLETED", job
    assert (job["build_check"]["detected"], job["build_check"]["forced"]) == ("GRCh38", True)
    assert job["summary"]["build"] == "GRCh37"
    assert job["summary"]["build_detection"]["detected"] == "GRCh38"


def test_a_malformed_vcf_fails_once_with_the_line_that_is_wrong(
    stack: Stack,
    jobs_service: ServiceProcess,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> None:
    start_annotator()
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    broken = (
        vcf_text(common_snps, 3) + "1\t900000\tA\n" + vcf_text(common_snps, 2).split("\n", 3)[3]
    )
    job_id = alice.submit(broken.encode())

    job = alice.wait_for(job_id, finished)
    assert job["status"] == "FAILED"
    assert "Line 7" in job["error"], job["error"]
    assert "Line 7" in alice.request("GET", f"/jobs/{job_id}/log").text
    assert alice.request("GET", f"/jobs/{job_id}/result").status_code == 409
    assert get_job(stack, job_id).attempts == 1
    events = job_events(stack)
    assert [event[:2] for event in events] == [("job.failed", job_id)]
    assert events[0][2]["tier"] == "free"


def test_a_request_that_lands_in_the_dead_letter_queue_fails_its_job(
    stack: Stack, start_annotator: Callable[..., ServiceProcess]
) -> None:
    start_annotator()
    now = utc_timestamp()
    job = JobRecord(
        job_id="dead" + os.urandom(8).hex(),
        user_id="carol",
        tier=Tier.PREMIUM,
        status=JobStatus.QUEUED,
        submitted_at=now,
        created_at=now,
        queued_at=now,
        input_filename="lost.vcf",
        input_size_bytes=10,
        input_bucket=stack.settings.inputs_bucket,
        input_key="carol/lost.vcf",
    )

    async def dead_letter(clients: Any) -> None:
        sqs = await clients.client("sqs")
        url = await queue_url(sqs, stack.settings.dead_letter_queue(stack.settings.annotator_queue))
        await sqs.send_message(QueueUrl=url, MessageBody=job_request(job).model_dump_json())

    with_jobs(stack, JobRepository, lambda repo: repo.create(job))
    run(dead_letter, stack)
    wait_until(
        lambda: get_job(stack, job.job_id).status is JobStatus.FAILED,
        timeout=30,
        what="the dead letter being handled",
    )
    assert "problem on our side" in (get_job(stack, job.job_id).error or "")
    assert [event[:2] for event in job_events(stack)] == [("job.failed", job.job_id)]


def test_a_job_whose_worker_is_killed_is_completed_once_by_another(
    stack: Stack,
    jobs_service: ServiceProcess,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> None:
    doomed = start_annotator()
    paula = Client(jobs_service, stack, "paula", Tier.PREMIUM)
    job_id = paula.submit(long_job(common_snps), "sample.vcf.gz")
    paula.wait_for(job_id, lambda job: job["status"] == "RUNNING", timeout=30)
    doomed.kill()
    assert paula.job(job_id)["status"] == "RUNNING", "the kill did not land mid-run"

    start_annotator()
    job = paula.wait_for(job_id, finished, timeout=120)
    assert job["status"] == "COMPLETED", job
    assert job["summary"]["variants"] == 900_000
    assert get_job(stack, job_id).attempts == 2
    assert result_objects(stack, f"paula/{job_id}/") == [
        f"paula/{job_id}/sample.annot.log",
        f"paula/{job_id}/sample.annot.parquet",
        f"paula/{job_id}/sample.annot.vcf.gz",
    ]
    assert [event[:2] for event in job_events(stack)] == [("job.completed", job_id)]


def test_racing_workers_and_duplicate_requests_run_a_job_once(
    stack: Stack,
    jobs_service: ServiceProcess,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> None:
    start_annotator()
    start_annotator()
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    job_id = alice.submit(vcf_text(common_snps, 2000).encode())
    duplicate = job_request(get_job(stack, job_id))

    async def publish_twice(clients: Any) -> None:
        sns = await clients.client("sns")
        publisher = SnsPublisher(sns, await topic_arn(sns, stack.settings.job_requests_topic))
        await asyncio.gather(publisher.publish(duplicate), publisher.publish(duplicate))

    run(publish_twice, stack)
    assert alice.wait_for(job_id, finished)["status"] == "COMPLETED"
    wait_until(
        lambda: queue_drained(stack, stack.settings.annotator_queue),
        timeout=30,
        what="the duplicate requests being settled",
        every=0.5,
    )
    assert get_job(stack, job_id).attempts == 1
    assert [event[:2] for event in job_events(stack)] == [("job.completed", job_id)]


def test_a_stopping_worker_hands_its_job_back_for_another_to_finish(
    stack: Stack,
    jobs_service: ServiceProcess,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> None:
    stopping = start_annotator(GAS_ANNOTATOR_STOP_GRACE_SECONDS="0")
    paula = Client(jobs_service, stack, "paula", Tier.PREMIUM)
    job_id = paula.submit(long_job(common_snps), "sample.vcf.gz")
    paula.wait_for(job_id, lambda job: job["status"] == "RUNNING", timeout=30)

    asked = time.monotonic()
    stopping.stop()  # SIGTERM, then SIGKILL after 10 s
    assert time.monotonic() - asked < 8, "the worker did not stop by itself"
    assert stopping.process.returncode == 0
    released = get_job(stack, job_id)
    assert (released.status, released.runner) == (JobStatus.QUEUED, None)

    start_annotator()
    job = paula.wait_for(job_id, finished, timeout=60)
    assert job["status"] == "COMPLETED", job
    assert get_job(stack, job_id).attempts == 2
    assert [event[:2] for event in job_events(stack)] == [("job.completed", job_id)]

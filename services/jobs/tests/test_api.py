"""The job API as a real process against the moto server: what a client of the gateway sees."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from anntools.bundle import ensure_bundle
from gas_annotator.repository import RunRepository
from gas_archiver.repository import StorageRepository
from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.jobs import utc_timestamp
from gas_core.messaging import queue_url
from gas_core.tiers import Tier
from gas_jobs.repository import JobRepository
from gas_testing.localstack import wait_until
from gas_testing.plugin import (
    ServiceProcess,
    Stack,
    StartService,
    get_job,
    repository_on,
    with_jobs,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
REAL = ROOT / "libs" / "anntools" / "tests" / "data" / "real"
BUNDLE_BUILDER = ("uv", "run", "--frozen", "--project", str(ROOT / "tools" / "bundle-builder"))

VCF = (
    b"##fileformat=VCFv4.2\n"
    b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"1\t69511\t.\tA\tG\t50\tPASS\t.\n"
)


class Client:
    def __init__(self, service: ServiceProcess, stack: Stack, user: str, tier: Tier) -> None:
        self._url = service.url
        self._stack = stack
        self.identity = InternalIdentity(user_id=user, tier=tier)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = mint_internal_token(self.identity, self._stack.settings.internal_jwt_secret)
        return httpx.request(
            method,
            f"{self._url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kwargs,
        )

    def create_and_upload(self, content: bytes, *, declared: int | None = None, **job: Any) -> str:
        created = self.request(
            "POST",
            "/jobs",
            json={"filename": "my sample.vcf", "size_bytes": declared or len(content), **job},
        )
        assert created.status_code == 201, created.text
        upload = created.json()["upload"]
        posted = httpx.post(
            upload["url"], data=upload["fields"], files={"file": ("x.vcf", content)}, timeout=10
        )
        assert posted.status_code in (200, 204), posted.text
        return str(created.json()["job"]["id"])


@pytest.fixture
def jobs_service(stack: Stack, start_service: StartService) -> ServiceProcess:
    return start_service("jobs", stack, GAS_FREE_SIZE_LIMIT_BYTES="2048")


def queued_requests(stack: Stack) -> list[dict[str, Any]]:
    async def receive() -> list[dict[str, Any]]:
        async with aws_clients(stack.aws) as clients:
            sqs = await clients.client("sqs")
            url = await queue_url(sqs, stack.settings.annotator_queue)
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            return [json.loads(m["Body"]) for m in response.get("Messages", [])]

    return asyncio.run(receive())


def test_a_job_is_created_uploaded_and_queued_exactly_once(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    job_id = alice.create_and_upload(gzip.compress(VCF))

    first = alice.request("POST", f"/jobs/{job_id}/submit")
    again = alice.request("POST", f"/jobs/{job_id}/submit")
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "QUEUED"
    assert first.json()["queue_position"] == 1
    assert first.json()["input_filename"] == "my_sample.vcf"
    assert first.json()["input_size_bytes"] == len(gzip.compress(VCF))

    requests = queued_requests(stack)
    assert [(r["type"], r["job_id"]) for r in requests] == [("job.requested", job_id)]
    assert requests[0]["payload"]["input_key"] == f"alice/{job_id}/my_sample.vcf"

    later = alice.create_and_upload(VCF)
    listing = alice.request("GET", "/jobs").json()
    assert [job["id"] for job in listing["data"]] == [later, job_id]
    assert listing["count"] == 2
    queued = alice.request("GET", "/jobs", params={"status": "QUEUED", "limit": 1}).json()
    assert [job["id"] for job in queued["data"]] == [job_id]


def test_free_users_cannot_get_past_the_size_limit_and_are_offered_the_upgrade(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    declared = alice.request("POST", "/jobs", json={"filename": "big.vcf", "size_bytes": 4096})
    assert declared.status_code == 413
    assert "upgrade to premium" in declared.json()["detail"].lower()

    big = VCF + b"1\t69512\t.\tA\tG\t50\tPASS\t.\n" * 200
    job_id = alice.create_and_upload(big, declared=1000)  # the client lied about the size
    submitted = alice.request("POST", f"/jobs/{job_id}/submit")
    assert submitted.status_code == 413
    assert "upgrade to premium" in submitted.json()["detail"].lower()
    job = alice.request("GET", f"/jobs/{job_id}").json()
    assert job["status"] == "FAILED"
    assert "free tier" in job["error"]
    assert queued_requests(stack) == []

    premium = Client(jobs_service, stack, "paula", Tier.PREMIUM)
    premium_job = premium.create_and_upload(big)
    assert premium.request("POST", f"/jobs/{premium_job}/submit").json()["status"] == "QUEUED"


def test_submit_refuses_missing_and_non_vcf_uploads_with_a_reason(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    created = alice.request("POST", "/jobs", json={"filename": "a.vcf", "size_bytes": 10}).json()
    early = alice.request("POST", f"/jobs/{created['job']['id']}/submit")
    assert early.status_code == 409
    assert "not been uploaded" in early.json()["detail"]

    job_id = alice.create_and_upload(b"%PDF-1.7 this is a paper, not variants\n")
    refused = alice.request("POST", f"/jobs/{job_id}/submit")
    assert refused.status_code == 422
    assert "not a VCF" in refused.json()["detail"]
    assert alice.request("GET", f"/jobs/{job_id}").json()["status"] == "FAILED"
    assert "not a VCF" in alice.request("GET", f"/jobs/{job_id}/log").text


def test_another_users_job_does_not_exist_for_them(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    bob = Client(jobs_service, stack, "bob", Tier.PREMIUM)
    job_id = alice.create_and_upload(VCF)
    for method, path in (
        ("GET", f"/jobs/{job_id}"),
        ("POST", f"/jobs/{job_id}/submit"),
        ("GET", f"/jobs/{job_id}/log"),
        ("GET", f"/jobs/{job_id}/result"),
    ):
        assert bob.request(method, path).status_code == 404, path
    assert bob.request("GET", "/jobs").json() == {"data": [], "count": 0, "next": None}
    assert httpx.get(f"{jobs_service.url}/jobs/{job_id}").status_code == 401


def test_the_result_link_explains_why_a_result_cannot_be_downloaded(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    job_id = alice.create_and_upload(VCF)
    alice.request("POST", f"/jobs/{job_id}/submit")
    waiting = alice.request("GET", f"/jobs/{job_id}/result")
    assert waiting.status_code == 409
    assert "queued" in waiting.json()["detail"]

    # What the annotator and then the archiver do with the job.
    async def complete_then_archive(*, restore: bool) -> None:
        async with (
            repository_on(stack, RunRepository) as run,
            repository_on(stack, StorageRepository) as storage,
        ):
            if not restore:
                assert await run.claim(job_id=job_id, runner="test", lease_seconds=60)
                assert await run.complete(
                    job_id=job_id,
                    runner="test",
                    results_bucket=stack.settings.results_bucket,
                    result_key=f"alice/{job_id}/my.annot.vcf.gz",
                    log_key=f"alice/{job_id}/my.log",
                    summary={},
                    provenance=None,
                    completed_at=utc_timestamp(),
                )
                assert await storage.start_archiving(job_id=job_id)
                assert await storage.mark_archived(job_id=job_id)
            else:
                assert await storage.start_restoring(job_id=job_id)

    asyncio.run(complete_then_archive(restore=False))
    archived = alice.request("GET", f"/jobs/{job_id}/result")
    assert archived.status_code == 409
    assert "archived — upgrade to premium to restore it" in archived.json()["detail"]

    asyncio.run(complete_then_archive(restore=True))
    restoring = alice.request("GET", f"/jobs/{job_id}/result")
    assert "being restored; you will get an email" in restoring.json()["detail"]


def test_a_job_whose_submit_stopped_before_publishing_is_still_annotated(
    stack: Stack, start_service: StartService
) -> None:
    jobs_service = start_service(
        "jobs",
        stack,
        GAS_JOBS_STRANDED_REQUEST_CHECK_SECONDS="0.5",
        GAS_JOBS_STRANDED_REQUEST_MIN_AGE_SECONDS="0",
    )
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    job_id = alice.create_and_upload(VCF)
    # What a submit that crashed right after its queue commit leaves behind.
    queued = with_jobs(
        stack,
        JobRepository,
        lambda repo: repo.queue(
            job_id=job_id, input_size_bytes=len(VCF), queued_at=utc_timestamp()
        ),
    )
    assert queued

    published = wait_until(
        lambda: get_job(stack, job_id).request_published, timeout=15, what="the stranded request"
    )
    assert published
    requests = queued_requests(stack)
    assert [request["job_id"] for request in requests] == [job_id]
    time.sleep(1.5)  # a few more sweeps: a published request is not sent again
    assert queued_requests(stack) == []


def test_an_empty_upload_is_refused_with_what_to_do_and_the_job_ends(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.PREMIUM)
    job_id = alice.create_and_upload(b"", declared=10)  # moto does not enforce the size range
    refused = alice.request("POST", f"/jobs/{job_id}/submit")
    assert refused.status_code == 422, refused.text
    assert "empty (0 bytes)" in refused.json()["detail"]
    assert "upload the VCF file again" in refused.json()["detail"]
    job = alice.request("GET", f"/jobs/{job_id}").json()
    assert (job["status"], job["error"]) == ("FAILED", refused.json()["detail"])
    assert queued_requests(stack) == []


def test_the_free_limit_counts_the_text_not_the_compressed_bytes(
    stack: Stack, jobs_service: ServiceProcess
) -> None:
    alice = Client(jobs_service, stack, "alice", Tier.FREE)
    packed = gzip.compress(VCF + b"1\t69512\t.\tA\tG\t50\tPASS\t.\n" * 500)
    assert len(packed) < 2048  # under the limit as uploaded, ~14 KB of text inside
    job_id = alice.create_and_upload(packed)
    refused = alice.request("POST", f"/jobs/{job_id}/submit")
    assert refused.status_code == 413, refused.text
    assert "more than 2.0 KiB of VCF text once decompressed" in refused.json()["detail"]
    assert "upgrade to premium" in refused.json()["detail"].lower()
    assert alice.request("GET", f"/jobs/{job_id}").json()["status"] == "FAILED"
    assert queued_requests(stack) == []


def test_no_upload_makes_submit_answer_500(stack: Stack, jobs_service: ServiceProcess) -> None:
    """A few hostile and odd uploads: each ends QUEUED (the annotator judges the rest) or
    refused with a 4xx whose message is the job's error — never a server error."""
    rng = random.Random(7)
    uploads = [
        b"\x00" * 100,
        rng.randbytes(1500),
        b"\x1f\x8b" + rng.randbytes(500),
        gzip.compress(VCF)[:-9],  # truncated
        gzip.compress(b""),
        "##fileformat=VCFv4.2\n".encode("utf-16"),
        b"\xef\xbb\xbf" + VCF,
        b"PK\x03\x04" + rng.randbytes(200),
        b"\n\n\n",
    ]
    for tier in (Tier.FREE, Tier.PREMIUM):
        client = Client(jobs_service, stack, f"fuzz-{tier.value}", tier)
        for upload in uploads:
            job_id = client.create_and_upload(upload, declared=max(1, len(upload)))
            answer = client.request("POST", f"/jobs/{job_id}/submit")
            assert answer.status_code in (200, 413, 422), (upload[:20], answer.text)
            job = client.request("GET", f"/jobs/{job_id}").json()
            if answer.status_code == 200:
                assert job["status"] == "QUEUED"
            else:
                assert (job["status"], job["error"]) == ("FAILED", answer.json()["detail"])


@pytest.fixture(scope="module")
def bundle_cache() -> Path:
    """Both builds' bundles (built once into the shared cache): the service tests records
    against them as the annotator does."""
    for build in ("GRCh37", "GRCh38"):
        cache = ensure_bundle(build, builder=(*BUNDLE_BUILDER, "anntools")).parent
    return cache


def test_submit_shows_the_detected_build_and_refuses_what_would_be_annotated_wrong(
    stack: Stack, start_service: StartService, bundle_cache: Path
) -> None:
    """Issue 12: header-less GRCh38 data is detected as GRCh38, never queued as GRCh37;
    NCBI36 is refused with a liftover hint; a chosen build the data contradicts is refused
    unless overridden; data that fits no build is refused. All before anything is queued."""
    service = start_service("jobs", stack, ANNTOOLS_CACHE=str(bundle_cache))
    paula = Client(service, stack, "paula", Tier.PREMIUM)
    clinvar = (REAL / "clinvar_grch38_chr1_headerless.vcf").read_bytes()

    detected = paula.create_and_upload(gzip.compress(clinvar))
    submitted = paula.request("POST", f"/jobs/{detected}/submit")
    assert submitted.status_code == 200, submitted.text
    check = submitted.json()["build_check"]
    assert (check["detected"], check["source"], check["data_tested"]) == ("GRCh38", "data", True)
    assert "GRCh38's exons" in check["reason"]
    assert any(clue.startswith("GRCh37: of 2000 records") for clue in check["evidence"])
    assert paula.request("GET", f"/jobs/{detected}").json()["build_check"] == check

    chosen_wrong = paula.create_and_upload(clinvar, build="GRCh37")
    refused = paula.request("POST", f"/jobs/{chosen_wrong}/submit")
    assert refused.status_code == 422
    assert "looks like GRCh38, not GRCh37" in refused.json()["detail"]
    assert "force" in refused.json()["detail"]
    failed = paula.request("GET", f"/jobs/{chosen_wrong}").json()
    assert failed["status"] == "FAILED"
    assert failed["build_check"]["detected"] == "GRCh38"

    overridden = paula.create_and_upload(clinvar, build="GRCh37", force_build=True)
    forced = paula.request("POST", f"/jobs/{overridden}/submit").json()
    assert (forced["status"], forced["force_build"]) == ("QUEUED", True)
    assert forced["build_check"]["forced"] is True

    ncbi36 = paula.create_and_upload((REAL / "ncbi36_ex2.vcf").read_bytes())
    lifted = paula.request("POST", f"/jobs/{ncbi36}/submit")
    assert lifted.status_code == 422
    assert "NCBI36/hg18" in lifted.json()["detail"]
    assert "liftover" in lifted.json()["detail"].lower()

    nowhere = paula.create_and_upload(VCF + b"1\t300000000\t.\tA\tG\t50\tPASS\t.\n")
    outside = paula.request("POST", f"/jobs/{nowhere}/submit")
    assert outside.status_code == 422
    assert "fits no genome build" in outside.json()["detail"]

    queued = {request["job_id"] for request in queued_requests(stack)}
    assert queued == {detected, overridden}


def test_without_reference_bundles_submit_reads_the_header_and_chromosome_ends(
    stack: Stack, start_service: StartService, tmp_path: Path
) -> None:
    """A jobs pod holds no bundles: the header and the chromosome ends still refuse NCBI36
    and a contradicted choice; the annotator tests the records later."""
    service = start_service("jobs", stack, ANNTOOLS_CACHE=str(tmp_path / "no-bundles"))
    paula = Client(service, stack, "paula", Tier.PREMIUM)
    clinvar = (REAL / "clinvar_grch38_chr1_headerless.vcf").read_bytes()
    job_id = paula.create_and_upload(clinvar)
    check = paula.request("POST", f"/jobs/{job_id}/submit").json()["build_check"]
    assert (check["detected"], check["data_tested"]) == (None, False)
    assert "only chromosome ends were tested" in check["reason"]

    ncbi36 = paula.create_and_upload((REAL / "ncbi36_structural.vcf").read_bytes())
    assert "liftover" in paula.request("POST", f"/jobs/{ncbi36}/submit").json()["detail"].lower()
    exome = paula.create_and_upload(
        (REAL / "gatk_hapmap_exome_chr22.vcf").read_bytes(), build="GRCh38"
    )
    refused = paula.request("POST", f"/jobs/{exome}/submit")
    assert refused.status_code == 422
    assert "looks like GRCh37" in refused.json()["detail"]
    assert "##contig 22 length 51304566" in refused.json()["detail"]

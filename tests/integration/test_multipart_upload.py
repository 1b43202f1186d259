"""A large file through the real stack (gateway, jobs, annotator, moto): uploaded in parts by
the `gas` CLI, interrupted by killing the client, resumed by running the same command again,
and annotated exactly like the same file uploaded in one go."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.tiers import Tier
from gas_testing.data import KnownSnp
from gas_testing.gateway import DevIdp, provision_user, start_gateway
from gas_testing.localstack import spawn, wait_until
from gas_testing.plugin import ServiceProcess, Stack, StartService, get_job

pytestmark = pytest.mark.integration

MiB = 1024**2
FILE_BYTES = 300 * MiB
PART_BYTES = 16 * MiB  # the default part size
PAD = "A" * 1900  # long, compressible INFO values: few variants, many bytes


def big_vcf(path: Path, snps: list[KnownSnp], size: int) -> None:
    """A valid GRCh37 VCF of about ``size`` bytes: known SNPs with a long INFO field."""
    with path.open("w") as out:
        out.write("##fileformat=VCFv4.2\n")
        out.write('##INFO=<ID=PAD,Number=1,Type=String,Description="padding">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        written = 0
        for snp in snps:
            line = f"{snp.chrom}\t{snp.pos}\t.\t{snp.ref}\t{snp.alt}\t50\tPASS\tPAD={PAD}\n"
            written += out.write(line)
            if written >= size:
                break


def gas_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from gas_cli.main import main; main()", *args]


def s3_parts(stack: Stack) -> int:
    """How many parts the (one) upload in progress in the inputs bucket holds."""

    async def count() -> int:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            bucket = stack.settings.inputs_bucket
            uploads = (await s3.list_multipart_uploads(Bucket=bucket)).get("Uploads", [])
            if not uploads:
                return 0
            parts = await s3.list_parts(
                Bucket=bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
            )
            return len(parts.get("Parts", []))

    return asyncio.run(count())


def uploads_left(stack: Stack) -> list[Any]:
    async def listed() -> list[Any]:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            page = await s3.list_multipart_uploads(Bucket=stack.settings.inputs_bucket)
            return list(page.get("Uploads", []))

    return asyncio.run(listed())


def result_digest(api: httpx.Client, job_id: str) -> tuple[str, bytes]:
    """The SHA-256 of the job's annotated VCF (bgzipped, as stored) and its first MiB of text."""
    link = api.get(f"/api/jobs/{job_id}/result")
    assert link.status_code == 200, link.text
    digest = hashlib.sha256()
    with httpx.stream("GET", link.json()["url"], timeout=120) as response:
        first = b""
        for chunk in response.iter_bytes(MiB):
            digest.update(chunk)
            first = first or chunk
    return digest.hexdigest(), gzip.GzipFile(fileobj=io.BytesIO(first)).read1(MiB)


def finished(api: httpx.Client, job_id: str) -> Callable[[], dict[str, Any] | None]:
    def probe() -> dict[str, Any] | None:
        job = api.get(f"/api/jobs/{job_id}").json()
        return job if job["status"] in ("COMPLETED", "FAILED") else None

    return probe


@pytest.fixture
def big_file(tmp_path: Path, common_snps: list[KnownSnp]) -> Path:
    path = tmp_path / "genome.vcf"
    big_vcf(path, common_snps, FILE_BYTES)
    return path


@pytest.mark.timeout(1200)
def test_an_interrupted_upload_resumes_and_is_annotated_like_an_uninterrupted_one(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    dev_idp: DevIdp,
    gateway_database: str,
    big_file: Path,
    tmp_path: Path,
) -> None:
    jobs = start_service("jobs", stack)
    gateway = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    start_annotator()
    _, token = provision_user(gateway_database, email="big@example.org", tier=Tier.PREMIUM)
    env = {
        **os.environ,
        "GAS_URL": gateway.url,
        "GAS_TOKEN": token,
        "GAS_CONFIG": str(tmp_path / "gas" / "config.toml"),
    }
    api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    parts_in_file = -(-big_file.stat().st_size // PART_BYTES)

    # Uninterrupted, for reference.
    whole = subprocess.run(
        gas_command("submit", str(big_file), "--build", "GRCh37"),
        env=env,
        capture_output=True,
        check=False,
    )
    assert whole.returncode == 0, whole.stderr.decode()
    reference_id = whole.stdout.decode().split()[-1]

    # Interrupted: killed once about half the parts are in S3.
    with (tmp_path / "interrupted.log").open("wb") as log:
        client = spawn(
            gas_command("submit", str(big_file), "--build", "GRCh37", "--parallel", "2"),
            env=env,
            stdout=log.fileno(),
        )
        try:
            wait_until(
                lambda: s3_parts(stack) >= parts_in_file // 2,
                timeout=120,
                every=0.05,
                what="half the parts uploaded",
            )
        finally:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
    held_at_kill = s3_parts(stack)
    assert held_at_kill < parts_in_file
    [in_progress] = api.get("/api/jobs", params={"status": "CREATED"}).json()["data"]
    assert in_progress["upload"]["part_count"] == parts_in_file

    # Resumed by running the same command again.
    started = time.monotonic()
    resumed = subprocess.run(
        gas_command("submit", str(big_file), "--build", "GRCh37"),
        env=env,
        capture_output=True,
        check=False,
    )
    resume_seconds = time.monotonic() - started
    stderr = resumed.stderr.decode()
    assert resumed.returncode == 0, stderr
    assert f"resuming the upload of job {in_progress['id']}" in stderr
    assert resumed.stdout.decode().split()[-1] == in_progress["id"]
    already = int(stderr.split(" parts already uploaded")[0].split()[-3])
    assert already >= held_at_kill
    print(f"resume: {resume_seconds:.1f} s for {parts_in_file - already} of {parts_in_file} parts")

    for job_id in (reference_id, in_progress["id"]):
        job = wait_until(finished(api, job_id), timeout=600, what=f"job {job_id} annotated")
        assert job["status"] == "COMPLETED", job["error"]
        assert job["input_size_bytes"] == big_file.stat().st_size
        assert job["provenance"]["input_checksum"].startswith("sha256:")
    reference, text = result_digest(api, reference_id)
    assert result_digest(api, in_progress["id"])[0] == reference
    assert b"\n1\t" in text and b"\trs" in text  # annotated: dbSNP ids filled in
    assert uploads_left(stack) == []


def test_an_input_that_cannot_fit_the_scratch_space_fails_saying_so(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
    tmp_path: Path,
) -> None:
    jobs = start_service("jobs", stack)
    start_annotator(GAS_ANNOTATOR_SCRATCH_RESERVE_BYTES=str(1024**5))  # 1 PiB: never fits
    token = mint_internal_token(
        InternalIdentity(user_id="u1", tier=Tier.PREMIUM), stack.settings.internal_jwt_secret
    )
    api = httpx.Client(base_url=jobs.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    small = tmp_path / "small.vcf"
    big_vcf(small, common_snps[:50], 10_000)
    content = small.read_bytes()
    created = api.post("/jobs", json={"filename": "small.vcf", "size_bytes": len(content)})
    upload = created.json()["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": ("s.vcf", content)})
    job_id = created.json()["job"]["id"]
    assert api.post(f"/jobs/{job_id}/submit").status_code == 200

    def failed() -> bool:
        return get_job(stack, job_id).status == "FAILED"

    wait_until(failed, timeout=60, what="the job failing")
    error = get_job(stack, job_id).error or ""
    assert "scratch space" in error and "Split the file by chromosome" in error

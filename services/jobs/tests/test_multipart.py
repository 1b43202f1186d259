"""Uploads in parts through the job API, against the moto server: resumable, checked
against the tier at completion, cleaned up when abandoned."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import httpx
import pytest

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.tiers import Tier
from gas_testing.localstack import wait_until
from gas_testing.plugin import ServiceProcess, Stack, StartService, get_job

pytestmark = pytest.mark.integration

MiB = 1024**2
HEADER = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def vcf_of(size: int) -> bytes:
    line = b"1\t69511\t.\tA\tG\t50\tPASS\t.\n"
    return HEADER + line * ((size - len(HEADER)) // len(line))


class Client:
    def __init__(self, service: ServiceProcess, stack: Stack, tier: Tier) -> None:
        self._url = service.url
        self._secret = stack.settings.internal_jwt_secret
        self.identity = InternalIdentity(user_id=f"user-{tier.value}", tier=tier)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = mint_internal_token(self.identity, self._secret)
        return httpx.request(
            method,
            f"{self._url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )

    def create(self, size: int) -> dict[str, Any]:
        created = self.request(
            "POST", "/jobs", json={"filename": "big.vcf", "size_bytes": size, "fingerprint": "fp1"}
        )
        assert created.status_code == 201, created.text
        return dict(created.json())

    def put_parts(self, job_id: str, content: bytes, numbers: list[int], part_bytes: int) -> None:
        pieces = {n: content[(n - 1) * part_bytes : n * part_bytes] for n in numbers}
        checksums = [
            {"number": n, "sha256": base64.b64encode(hashlib.sha256(p).digest()).decode()}
            for n, p in pieces.items()
        ]
        urls = self.request("POST", f"/jobs/{job_id}/upload/parts", json={"parts": checksums})
        assert urls.status_code == 200, urls.text
        for part in urls.json()["parts"]:
            put = httpx.put(part["url"], content=pieces[part["number"]], headers=part["headers"])
            assert put.status_code == 200, put.text


def uploads_in_progress(stack: Stack) -> list[Any]:
    async def list_uploads() -> list[Any]:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            page = await s3.list_multipart_uploads(Bucket=stack.settings.inputs_bucket)
            return list(page.get("Uploads", []))

    return asyncio.run(list_uploads())


def input_exists(stack: Stack, key: str) -> bool:
    async def head() -> bool:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            page = await s3.list_objects_v2(Bucket=stack.settings.inputs_bucket, Prefix=key)
            return bool(page.get("KeyCount"))

    return asyncio.run(head())


def test_a_large_file_is_uploaded_in_parts_resumed_and_its_checksum_shown(
    stack: Stack, start_service: StartService
) -> None:
    service = start_service(
        "jobs",
        stack,
        GAS_JOBS_MULTIPART_THRESHOLD_BYTES=str(MiB),
        GAS_JOBS_MULTIPART_PART_BYTES=str(5 * MiB),
    )
    client = Client(service, stack, Tier.PREMIUM)
    content = vcf_of(12 * MiB)
    created = client.create(len(content))
    assert created["upload"] is None
    plan = created["job"]["upload"]
    assert plan == {"part_bytes": 5 * MiB, "part_count": 3, "fingerprint": "fp1"}
    job_id = created["job"]["id"]

    client.put_parts(job_id, content, [1, 3], plan["part_bytes"])
    have = client.request("GET", f"/jobs/{job_id}/upload/parts").json()
    assert [p["number"] for p in have["parts"]] == [1, 3]
    early = client.request("POST", f"/jobs/{job_id}/upload/complete")
    assert early.status_code == 409 and "part numbers 2" in early.json()["detail"]
    listed = client.request("GET", "/jobs", params={"status": "CREATED"}).json()["data"]
    assert [j["upload"]["fingerprint"] for j in listed] == ["fp1"]

    client.put_parts(job_id, content, [2], plan["part_bytes"])
    done = client.request("POST", f"/jobs/{job_id}/upload/complete")
    assert done.status_code == 200, done.text
    assert done.json()["provenance"]["input_checksum"].startswith("sha256:")
    assert done.json()["upload"] is None
    submitted = client.request("POST", f"/jobs/{job_id}/submit")
    assert submitted.json()["status"] == "QUEUED"
    assert submitted.json()["input_size_bytes"] == len(content)
    assert uploads_in_progress(stack) == []


def test_a_free_user_cannot_pass_the_limit_by_uploading_in_parts(
    stack: Stack, start_service: StartService
) -> None:
    service = start_service(
        "jobs", stack, GAS_FREE_SIZE_LIMIT_BYTES="2048", GAS_JOBS_MULTIPART_THRESHOLD_BYTES="1024"
    )
    client = Client(service, stack, Tier.FREE)
    created = client.create(1500)  # declared under the limit
    job_id = created["job"]["id"]
    assert created["job"]["upload"]["part_count"] == 1
    client.put_parts(job_id, vcf_of(400 * 1024), [1], created["job"]["upload"]["part_bytes"])

    done = client.request("POST", f"/jobs/{job_id}/upload/complete")
    assert done.status_code == 413
    assert "Upgrade to premium" in done.json()["detail"]
    job = get_job(stack, job_id)
    assert job.status == "FAILED" and not input_exists(stack, job.input_key)
    assert uploads_in_progress(stack) == []


def test_an_abandoned_upload_is_aborted_and_its_job_says_so(
    stack: Stack, start_service: StartService
) -> None:
    service = start_service(
        "jobs",
        stack,
        GAS_JOBS_MULTIPART_THRESHOLD_BYTES="1024",
        GAS_JOBS_MULTIPART_ABANDONED_SECONDS="8",
        GAS_JOBS_MULTIPART_ABANDONED_CHECK_SECONDS="0.5",
    )
    client = Client(service, stack, Tier.PREMIUM)
    created = client.create(6 * MiB)
    job_id = created["job"]["id"]
    client.put_parts(job_id, vcf_of(6 * MiB), [1], created["job"]["upload"]["part_bytes"])
    # Swept every 0.5 s, yet kept while young (moto dates every upload 2010: age is the job's).
    assert len(uploads_in_progress(stack)) == 1

    wait_until(lambda: not uploads_in_progress(stack), timeout=40, what="abandoned upload aborted")
    job = client.request("GET", f"/jobs/{job_id}").json()
    assert job["status"] == "FAILED" and "abandoned" in job["error"]
    gone = client.request("GET", f"/jobs/{job_id}/upload/parts")
    assert gone.status_code == 409


def test_the_inputs_bucket_aborts_incomplete_uploads_by_lifecycle_rule(stack: Stack) -> None:
    async def rules() -> list[Any]:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            config = await s3.get_bucket_lifecycle_configuration(
                Bucket=stack.settings.inputs_bucket
            )
            return list(config["Rules"])

    assert [r.get("AbortIncompleteMultipartUpload") for r in asyncio.run(rules())] == [
        {"DaysAfterInitiation": 2}
    ]

"""The results viewer and live progress through real processes: the annotator writes each
result's columnar copy, the jobs service pages, filters and exports it (checked against the
same filter applied to the downloaded VCF), refuses archived results and rebuilds the copy
after a restore, and streams a job's progress as Server-Sent Events (also through the
gateway)."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gas_archiver.repository import StorageRepository
from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.jobs import StorageState, columnar_key_for, utc_timestamp
from gas_core.tiers import Tier
from gas_jobs.repository import JobRepository
from gas_testing.data import KnownSnp
from gas_testing.gateway import provision_user
from gas_testing.plugin import ServiceProcess, Stack, StartService, get_job, with_jobs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HEADER = "##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def spread_vcf(snps: list[KnownSnp], count: int) -> bytes:
    """``count`` GRCh37 variants spread over the genome: known SNPs, every fourth moved one
    base so it is novel (not in dbSNP)."""
    step = max(1, len(snps) // count)
    lines = []
    for n, snp in enumerate(snps[: step * count : step]):
        position = snp.pos + (1 if n % 4 == 3 else 0)
        lines.append(f"{snp.chrom}\t{position}\t.\t{snp.ref}\t{snp.alt}\t50\tPASS\t.\n")
    return (HEADER + "".join(lines)).encode()


class Client:
    """A user of the job API, as the gateway calls it on their behalf."""

    def __init__(self, url: str, stack: Stack, user: str, tier: Tier) -> None:
        self.url = url
        self._secret = stack.settings.internal_jwt_secret
        self.identity = InternalIdentity(user_id=user, tier=tier)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_internal_token(self.identity, self._secret)}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=self.headers(), timeout=60)

    def create(self, content: bytes, filename: str = "sample.vcf") -> httpx.Response:
        created = httpx.post(
            f"{self.url}/jobs",
            json={"filename": filename, "size_bytes": len(content)},
            headers=self.headers(),
        )
        assert created.status_code == 201, created.text
        return created

    def submit(self, content: bytes, filename: str = "sample.vcf") -> str:
        created = self.create(content, filename)
        upload = created.json()["upload"]
        posted = httpx.post(upload["url"], data=upload["fields"], files={"file": content})
        assert posted.status_code in (200, 204), posted.text
        job_id = str(created.json()["job"]["id"])
        submitted = httpx.post(f"{self.url}/jobs/{job_id}/submit", headers=self.headers())
        assert submitted.status_code == 200, submitted.text
        return job_id

    def wait_finished(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = dict(self.get(f"/jobs/{job_id}").json())
            if job["status"] in ("COMPLETED", "FAILED"):
                return job
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} did not finish")

    def records(self, job_id: str) -> list[str]:
        """The annotated VCF's records, downloaded as a user would."""
        link = self.get(f"/jobs/{job_id}/result")
        assert link.status_code == 200, link.text
        vcf = gzip.decompress(httpx.get(link.json()["url"], timeout=60).content).decode()
        return [line for line in vcf.splitlines() if not line.startswith("#")]


def info(record: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in record.split("\t")[7].split(";"))
    return {key: value for key, _, value in pairs}


def genes(record: str) -> list[str]:
    return info(record).get("GENE", "").split(",") if "GENE" in info(record) else []


def s3_keys(stack: Stack, prefix: str) -> list[str]:
    async def listing() -> list[str]:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            found = await s3.list_objects_v2(Bucket=stack.settings.results_bucket, Prefix=prefix)
            return sorted(entry["Key"] for entry in found.get("Contents", []))

    return asyncio.run(listing())


@pytest.fixture
def completed(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> tuple[Client, str, list[str]]:
    """A free user's job annotated by a real annotator, and the records of its VCF."""
    start_annotator()
    alice = Client(start_service("jobs", stack).url, stack, "alice", Tier.FREE)
    job_id = alice.submit(spread_vcf(common_snps, 4000))
    assert alice.wait_finished(job_id)["status"] == "COMPLETED"
    return alice, job_id, alice.records(job_id)


def test_the_viewer_shows_and_exports_exactly_what_the_filters_select_in_the_vcf(
    stack: Stack, completed: tuple[Client, str, list[str]]
) -> None:
    alice, job_id, records = completed
    job = get_job(stack, job_id)
    assert job.columnar_key == columnar_key_for(job.result_key or "")
    assert job.columnar_key in s3_keys(stack, f"alice/{job_id}/")

    gene = Counter(g for record in records for g in genes(record) if g).most_common(1)[0][0]
    cases: list[tuple[dict[str, Any], Callable[[str], bool]]] = [
        ({}, lambda r: True),
        ({"gene": gene.lower()}, lambda r: gene in genes(r)),
        ({"region": ["CDS", "intron"]}, lambda r: info(r)["REGION"] in ("CDS", "intron")),
        (
            {"chrom": "chr2", "start": 50_000_000, "end": 150_000_000},
            lambda r: r.startswith("2\t") and 50_000_000 <= int(r.split("\t")[1]) <= 150_000_000,
        ),
        ({"in_dbsnp": "false"}, lambda r: r.split("\t")[2] == "."),
        (
            {"in_dbsnp": "true", "region": "intergenic"},
            lambda r: r.split("\t")[2].startswith("rs") and info(r)["REGION"] == "intergenic",
        ),
        ({"q": "rs12"}, lambda r: "rs12" in r.split("\t")[2]),
    ]
    for params, selects in cases:
        wanted = [record for record in records if selects(record)]
        assert wanted, f"the workload has no variant for {params}"
        page = alice.get(f"/jobs/{job_id}/variants", limit=1000, **params)
        assert page.status_code == 200, page.text
        assert page.json()["count"] == len(wanted), params
        assert [(row["chrom"], row["pos"], row["id"]) for row in page.json()["data"]] == [
            (r.split("\t")[0], int(r.split("\t")[1]), r.split("\t")[2]) for r in wanted[:1000]
        ], params

        exported = alice.get(f"/jobs/{job_id}/variants/export", format="vcf", **params)
        assert exported.status_code == 200, exported.text
        assert exported.text.startswith("##fileformat=VCFv4.2\n")
        assert [line for line in exported.text.splitlines() if not line.startswith("#")] == wanted

    by_gene: dict[str, Any] = {"gene": gene, "sort": "-position"}
    tsv = alice.get(f"/jobs/{job_id}/variants/export", format="tsv", **by_gene)
    assert tsv.headers["content-disposition"] == 'attachment; filename="sample.annot.filtered.tsv"'
    rows = list(csv.DictReader(io.StringIO(tsv.text), delimiter="\t"))
    expected = [r for r in records if gene in genes(r)][::-1]
    assert [(row["chrom"], int(row["pos"])) for row in rows] == [
        (r.split("\t")[0], int(r.split("\t")[1])) for r in expected
    ]
    as_json = alice.get(f"/jobs/{job_id}/variants/export", format="json", **by_gene)
    assert (
        as_json.json()
        == alice.get(f"/jobs/{job_id}/variants", limit=1000, **by_gene).json()["data"]
    )

    second_page = alice.get(f"/jobs/{job_id}/variants", limit=10, offset=10, sort="-position")
    assert [row["pos"] for row in second_page.json()["data"]] == [
        int(r.split("\t")[1]) for r in records[::-1][10:20]
    ]


def test_the_viewer_refuses_what_it_cannot_answer_with_a_readable_reason(
    stack: Stack, completed: tuple[Client, str, list[str]]
) -> None:
    alice, job_id, _ = completed
    bob = Client(alice.url, stack, "bob", Tier.PREMIUM)
    for path in ("variants", "variants/export", "events"):
        assert bob.get(f"/jobs/{job_id}/{path}").status_code == 404, path

    refusals: list[tuple[dict[str, Any], str]] = [
        ({"limit": 5000}, "less than or equal to 1000"),
        ({"sort": "colour"}, "position"),
        ({"region": "exonic"}, "intergenic"),
        ({"start": 500, "end": 100}, "start (500) is after end (100)"),
        ({"in_dbsnp": "maybe"}, "boolean"),
        ({"consequence": "missense"}, "unknown consequence missense; use Sequence Ontology"),
    ]
    for params, words in refusals:
        refused = alice.get(f"/jobs/{job_id}/variants", **params)
        assert refused.status_code == 422, params
        assert words in refused.text, (params, refused.text)

    unfinished = alice.create(HEADER.encode()).json()["job"]["id"]
    waiting = alice.get(f"/jobs/{unfinished}/variants")
    assert waiting.status_code == 409
    assert "can be viewed once it has completed" in waiting.json()["detail"]
    with_jobs(
        stack,
        JobRepository,
        lambda repo: repo.fail_before_run(
            job_id=unfinished, error="not a VCF", failed_at=utc_timestamp()
        ),
    )
    failed = alice.get(f"/jobs/{unfinished}/variants/export")
    assert failed.status_code == 409
    assert failed.json()["detail"] == "The job failed, so there is no result: not a VCF"


def test_an_archived_result_is_refused_and_after_restore_its_copy_is_rebuilt(
    stack: Stack, start_service: StartService, completed: tuple[Client, str, list[str]]
) -> None:
    alice, job_id, records = completed
    job = get_job(stack, job_id)
    assert job.result_key and job.columnar_key
    result_key, columnar_key = job.result_key, job.columnar_key
    assert alice.get(f"/jobs/{job_id}/variants").json()["count"] == len(records)

    # What the archiver does (its own test checks the copy is deleted with the VCF).
    async def archive() -> bytes:
        async with aws_clients(stack.aws) as clients:
            s3 = await clients.client("s3")
            bucket = stack.settings.results_bucket
            vcf = await (await s3.get_object(Bucket=bucket, Key=result_key))["Body"].read()
            repo = StorageRepository(await clients.client("dynamodb"), stack.settings.jobs_table)
            assert await repo.start_archiving(job_id=job_id)
            assert await repo.mark_archived(job_id=job_id)
            await s3.delete_object(Bucket=bucket, Key=result_key)
            await s3.delete_object(Bucket=bucket, Key=columnar_key)
            return bytes(vcf)

    vcf = asyncio.run(archive())
    for path in ("variants", "variants/export"):
        refused = alice.get(f"/jobs/{job_id}/{path}")
        assert refused.status_code == 409
        assert "archived" in refused.json()["detail"] and "upgrade" in refused.json()["detail"]

    async def restore(step: str) -> None:
        async with aws_clients(stack.aws) as clients:
            repo = StorageRepository(await clients.client("dynamodb"), stack.settings.jobs_table)
            if step == "start":
                assert await repo.start_restoring(job_id=job_id)
                return
            s3 = await clients.client("s3")
            await s3.put_object(Bucket=stack.settings.results_bucket, Key=result_key, Body=vcf)
            assert await repo.mark_restored(job_id=job_id)

    asyncio.run(restore("start"))
    restoring = alice.get(f"/jobs/{job_id}/variants")
    assert restoring.status_code == 409 and "being restored" in restoring.json()["detail"]
    asyncio.run(restore("finish"))
    assert get_job(stack, job_id).storage is StorageState.AVAILABLE

    # A replica that never loaded this result: it must rebuild the copy from the VCF.
    fresh = Client(start_service("jobs", stack).url, stack, "alice", Tier.FREE)
    page = fresh.get(f"/jobs/{job_id}/variants", limit=5)
    assert page.status_code == 200, page.text
    assert page.json()["count"] == len(records)
    assert columnar_key in s3_keys(stack, f"alice/{job_id}/")
    exported = fresh.get(f"/jobs/{job_id}/variants/export")
    assert [line for line in exported.text.splitlines() if not line.startswith("#")] == records


def events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(kind, job) for each event of a Server-Sent Events stream; kind "ping" for comments."""
    kind, data = "", ""
    for line in response.iter_lines():
        if line.startswith(":"):
            yield "ping", None
        elif line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = line.removeprefix("data:").strip()
        elif not line and kind:
            yield kind, json.loads(data)
            kind, data = "", ""


def test_live_progress_streams_queue_position_progress_and_completion(
    stack: Stack,
    start_service: StartService,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
) -> None:
    jobs = start_service(
        "jobs", stack, GAS_JOBS_EVENTS_CHECK_SECONDS="0.2", GAS_JOBS_EVENTS_PING_SECONDS="0.5"
    )
    paula = Client(jobs.url, stack, "paula", Tier.PREMIUM)
    job_id = paula.submit(spread_vcf(common_snps, 200_000))
    seen: list[dict[str, Any]] = []
    pings_while_queued = 0
    with httpx.stream(
        "GET", f"{jobs.url}/jobs/{job_id}/events", headers=paula.headers(), timeout=60
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for kind, job in events(stream):
            if kind == "ping" and len(seen) == 1:
                pings_while_queued += 1
                if pings_while_queued == 2:
                    # The job waited in the queue until now.
                    start_annotator(GAS_ANNOTATOR_PROGRESS_INTERVAL_SECONDS="0.2")
            elif job is not None:
                seen.append(job)
    assert (seen[0]["status"], seen[0]["queue_position"]) == ("QUEUED", 1)
    assert pings_while_queued >= 2
    running = [job["progress"] for job in seen if job["status"] == "RUNNING"]
    assert running == sorted(running) and len(set(running)) >= 2, seen
    assert (seen[-1]["status"], seen[-1]["progress"]) == ("COMPLETED", 100)


def test_live_progress_is_not_buffered_by_the_gateway(
    stack: Stack, gateway: ServiceProcess, gateway_database: str
) -> None:
    _, token = provision_user(gateway_database, email="sse@example.org", tier=Tier.FREE)
    api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    vcf = HEADER.encode() + b"1\t69511\t.\tA\tG\t50\tPASS\t.\n"
    created = api.post("/api/jobs", json={"filename": "a.vcf", "size_bytes": len(vcf)})
    upload = created.json()["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": vcf})
    job_id = created.json()["job"]["id"]
    assert api.post(f"/api/jobs/{job_id}/submit").status_code == 200

    with api.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        received = events(stream)
        started = time.monotonic()
        kind, job = next(received)
        assert kind == "job" and job is not None and job["status"] == "QUEUED"
        assert time.monotonic() - started < 5, "the first event was held back"
        with_jobs(
            stack,
            JobRepository,
            lambda repo: repo.fail_before_run(
                job_id=job_id, error="refused for the test", failed_at=utc_timestamp()
            ),
        )
        rest = [job for kind, job in received if job is not None]
    assert [job["status"] for job in rest] == ["FAILED"]

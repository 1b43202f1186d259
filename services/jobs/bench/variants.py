"""Results viewer speed at the jobs API, over HTTP, on a 1M-variant annotated result.

Makes the workload of libs/anntools/bench/compare.py (1,000,000 GRCh37 SNVs at or near
real SNP sites), annotates it with anntools and writes its columnar copy as the annotator
does, starts its own moto server and the real jobs service, puts the result in the local
stack as a COMPLETED job, and measures what a browser would wait for:

    uv run --no-sync python services/jobs/bench/variants.py [--variants 1000000] [--workdir DIR]

* the first query of a result the service has not loaded (download the Parquet copy from
  S3, load it), and the same when the copy is missing (rebuilt from the VCF);
* the first page, a gene filter, a region filter and a sort by gene, p50/p95 over --runs;
* an export of ~100k filtered rows (a chromosome range) as VCF, TSV and JSON, in MB/s.

Targets (issue 9): first page and gene filter < 300 ms, export >= 50 MB/s. The peer is the
same query in-process (VariantTable without HTTP), which shows what HTTP and JSON add.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from anntools import annotate_file, ensure_bundle
from anntools.columnar import write_columnar
from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.infra import infra_up
from gas_core.jobs import (
    JobRecord,
    JobStatus,
    StorageState,
    columnar_key_for,
    job_file_key,
    record_to_item,
    utc_timestamp,
)
from gas_core.settings import AwsSettings, Environment, StackSettings
from gas_core.tiers import Tier
from gas_jobs.variants import SortKey, VariantFilter, VariantTable
from gas_testing.localstack import MotoServer, free_port, http_ok, spawn, stop_process, wait_until

REPOSITORY = Path(__file__).resolve().parents[3]
USER = "bench"
EXPORT_ROWS = 100_000


def make_workload(count: int, folder: Path) -> Path:
    """compare.py's workload (bgzipped VCF), made once per work folder."""
    workload = folder / f"workload-{count}.vcf.gz"
    if not workload.exists():
        spec = importlib.util.spec_from_file_location(
            "anntools_compare", REPOSITORY / "libs/anntools/bench/compare.py"
        )
        assert spec and spec.loader
        compare = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compare)
        compare.make_workload(ensure_bundle("GRCh37"), count, workload)
    return workload


def annotated(workload: Path, folder: Path) -> tuple[Path, Path, float]:
    """The annotated VCF and its columnar copy (and how long writing the copy took)."""
    result = folder / f"{workload.name.removesuffix('.vcf.gz')}.annot.vcf.gz"
    columnar = folder / f"{workload.name.removesuffix('.vcf.gz')}.annot.parquet"
    if not result.exists():
        annotate_file(workload, result, build="GRCh37")
    started = time.perf_counter()
    write_columnar(result, columnar)
    return result, columnar, time.perf_counter() - started


def timed(samples: int, call: Callable[[], httpx.Response]) -> tuple[list[float], Any]:
    seconds, answer = [], None
    for _ in range(samples):
        started = time.perf_counter()
        response = call()
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
        answer = response.json()
    return seconds, answer


def p50_p95(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def put_result(
    aws: AwsSettings, stack: StackSettings, job_id: str, files: dict[str, Path]
) -> JobRecord:
    now = utc_timestamp()
    result_key = job_file_key(user_id=USER, job_id=job_id, filename="bench.annot.vcf.gz")
    job = JobRecord(
        job_id=job_id,
        user_id=USER,
        tier=Tier.PREMIUM,
        status=JobStatus.COMPLETED,
        storage=StorageState.AVAILABLE,
        submitted_at=now,
        created_at=now,
        completed_at=now,
        input_filename="bench.vcf.gz",
        input_size_bytes=1,
        input_bucket=stack.inputs_bucket,
        input_key=job_file_key(user_id=USER, job_id=job_id, filename="bench.vcf.gz"),
        results_bucket=stack.results_bucket,
        result_key=result_key,
        columnar_key=columnar_key_for(result_key) if "columnar" in files else None,
        progress=100,
    )
    async with aws_clients(aws) as clients:
        s3 = await clients.client("s3")
        await s3.upload_file(str(files["result"]), stack.results_bucket, result_key)
        if job.columnar_key:
            await s3.upload_file(str(files["columnar"]), stack.results_bucket, job.columnar_key)
        dynamodb = await clients.client("dynamodb")
        await dynamodb.put_item(TableName=stack.jobs_table, Item=record_to_item(job))
    return job


def export_filter(client: httpx.Client, path: str) -> tuple[dict[str, Any], int]:
    """The simple filter (one region class, dbSNP or not, one chromosome) whose match count
    is nearest EXPORT_ROWS."""
    candidates: list[dict[str, Any]] = [
        *({"region": [one]} for one in ("CDS", "UTR3", "intron", "promoter", "intergenic")),
        {"in_dbsnp": "true"},
        {"in_dbsnp": "false"},
        *({"chrom": chrom} for chrom in ("1", "2", "3")),
    ]
    counted = [
        (client.get(path, params={**where, "limit": 1}).json()["count"], where)
        for where in candidates
    ]
    count, where = min(counted, key=lambda pair: abs(pair[0] - EXPORT_ROWS))
    return where, count


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workdir", type=Path, help="keeps the workload between runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"workload: {args.variants:,} variants in {folder}", flush=True)
        result, columnar, columnar_seconds = annotated(make_workload(args.variants, folder), folder)
        run(args, result, columnar, columnar_seconds)


def run(args: argparse.Namespace, result: Path, columnar: Path, columnar_seconds: float) -> None:
    moto = MotoServer().start()
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    secret = uuid.uuid4().hex
    aws = AwsSettings(
        endpoint_url=moto.url,
        access_key_id="bench",
        secret_access_key="bench",  # type: ignore[arg-type]
    )
    stack = StackSettings(
        environment=Environment.TEST,
        prefix=prefix,
        internal_jwt_secret=secret,  # type: ignore[arg-type]
    )
    port = free_port()
    env = {
        **os.environ,
        "GAS_ENVIRONMENT": "test",
        "GAS_PREFIX": prefix,
        "GAS_INTERNAL_JWT_SECRET": secret,
        "GAS_AWS_ENDPOINT_URL": moto.url,
        "GAS_AWS_ACCESS_KEY_ID": "bench",
        "GAS_AWS_SECRET_ACCESS_KEY": "bench",
        "GAS_LOG_LEVEL": "WARNING",
        "GAS_JOBS_PORT": str(port),
    }
    jobs = None
    try:

        async def bootstrap() -> tuple[JobRecord, JobRecord]:
            async with aws_clients(aws) as clients:
                await infra_up(clients, stack)
            with_copy = await put_result(
                aws, stack, uuid.uuid4().hex, {"result": result, "columnar": columnar}
            )
            without_copy = await put_result(aws, stack, uuid.uuid4().hex, {"result": result})
            return with_copy, without_copy

        with_copy, without_copy = asyncio.run(bootstrap())
        jobs = spawn([sys.executable, "-m", "gas_jobs"], env=env, stdout=sys.stderr.fileno())
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/readyz"), timeout=60, what="the jobs service")
        token = mint_internal_token(
            InternalIdentity(user_id=USER, tier=Tier.PREMIUM),
            stack.internal_jwt_secret,
            ttl_seconds=3600,
        )
        client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )
        measure(args, client, jobs.pid, with_copy, without_copy, columnar, columnar_seconds)
    finally:
        if jobs is not None:
            stop_process(jobs)
        moto.stop()


def measure(
    args: argparse.Namespace,
    client: httpx.Client,
    server_pid: int,
    with_copy: JobRecord,
    without_copy: JobRecord,
    columnar: Path,
    columnar_seconds: float,
) -> None:
    path = f"/jobs/{with_copy.job_id}/variants"
    print(f"\n{args.variants:,} variants; columnar copy {columnar.stat().st_size / 1e6:.1f} MB")
    print(f"{'annotator: write the columnar copy':<44} {columnar_seconds:7.2f} s")
    cold, _ = timed(1, lambda: client.get(path, params={"limit": 100}))
    print(f"{'first query, copy downloaded from S3':<44} {cold[0]:7.2f} s")
    rebuilt, _ = timed(1, lambda: client.get(f"/jobs/{without_copy.job_id}/variants"))
    print(f"{'first query, copy rebuilt from the VCF':<44} {rebuilt[0]:7.2f} s")

    first_page, page = timed(args.runs, lambda: client.get(path, params={"limit": 100}))
    assert page["count"] > 0
    table = VariantTable(columnar)
    genes = Counter(
        gene
        for row in table.table.column("gene").drop_null().to_pylist()[::50]
        for gene in row.split(",")
        if gene
    )
    gene = genes.most_common(1)[0][0]
    by_gene, gene_page = timed(args.runs, lambda: client.get(path, params={"gene": gene}))
    by_region, _ = timed(
        args.runs, lambda: client.get(path, params={"region": ["CDS", "UTR5", "UTR3"]})
    )
    sorted_by_gene, _ = timed(
        max(5, args.runs // 3), lambda: client.get(path, params={"sort": "gene", "offset": 5000})
    )
    in_process = []
    for _ in range(args.runs):
        started = time.perf_counter()
        table.page(VariantFilter(gene=gene), sort=SortKey.POSITION, limit=100, offset=0)
        in_process.append(time.perf_counter() - started)

    print(f"\nat the jobs API over HTTP, {args.runs} runs each (limit 100)")
    print(f"{'first page':<44} {p50_p95(first_page)}")
    gene_label = f"gene filter ({gene}, {gene_page['count']:,} rows)"
    print(f"{gene_label:<44} {p50_p95(by_gene)}")
    print(f"{'region filter (CDS, UTR5, UTR3)':<44} {p50_p95(by_region)}")
    print(f"{'sort by gene, page at offset 5000':<44} {p50_p95(sorted_by_gene)}")
    print(f"{'peer: gene filter in-process (no HTTP)':<44} {p50_p95(in_process)}")

    where, count = export_filter(client, path)
    print(f"\nexport of {where} ({count:,} rows), best of 3:")
    for fmt in ("vcf", "tsv", "json"):
        rates, server_rates, size = [], [], 0
        for _ in range(3):
            started, server_started = time.perf_counter(), cpu_seconds(server_pid)
            size = 0
            with client.stream(
                "GET", f"{path}/export", params={**where, "format": fmt}
            ) as response:
                response.raise_for_status()
                lines = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            rates.append(size / 1e6 / (time.perf_counter() - started))
            server_rates.append(size / 1e6 / (cpu_seconds(server_pid) - server_started))
        print(
            f"  {fmt:<5} {size / 1e6:7.1f} MB  {lines:,} lines   {max(rates):6.1f} MB/s   "
            f"({max(server_rates):6.1f} MB per CPU-second of the jobs service)"
        )
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

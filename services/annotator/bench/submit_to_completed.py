"""Submit → COMPLETED latency of a 1k-variant job on the local stack, and where the time goes.

Starts its own moto server, bootstraps a fresh stack, runs the real jobs service and one
annotator process, then submits the same 1,000-variant GRCh37 VCF (known dbSNP sites from
the reference bundle) N times, one after another, polling the job API every 20 ms:

    uv run --no-sync python services/annotator/bench/submit_to_completed.py [--runs 20]

The phases come from the job record (queued_at, started_at, completed_at) and the
annotator's own timings (download, annotate = engine child process, upload). The peer to
compare against is the engine without any queue or storage: a cold engine process per file
(what every job paid before the engines were kept warm) and a warm in-process call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.aws import aws_clients
from gas_core.infra import infra_up
from gas_core.settings import AwsSettings, Environment, StackSettings
from gas_core.tiers import Tier
from gas_testing.data import known_snps
from gas_testing.localstack import MotoServer, free_port, http_ok, spawn, stop_process, wait_until

VARIANTS = 1000


def workload(path: Path) -> bytes:
    lines = [
        "##fileformat=VCFv4.2\n##reference=GRCh37\n",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
    ]
    lines += [
        f"{snp.chrom}\t{snp.pos}\t.\t{snp.ref}\t{snp.alt}\t50\tPASS\t.\n"
        for snp in known_snps("GRCh37")[:VARIANTS]
    ]
    path.write_text("".join(lines))
    return path.read_bytes()


def seconds_between(earlier: str, later: str) -> float:
    def parse(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    return (parse(later) - parse(earlier)).total_seconds()


def one_job(client: httpx.Client, content: bytes) -> dict[str, float]:
    created = client.post("/jobs", json={"filename": "bench.vcf", "size_bytes": len(content)})
    created.raise_for_status()
    upload = created.json()["upload"]
    httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("bench.vcf", content)}
    ).raise_for_status()
    job_id = created.json()["job"]["id"]

    start = time.perf_counter()
    client.post(f"/jobs/{job_id}/submit").raise_for_status()
    submitted = time.perf_counter()
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.02)
    observed = time.perf_counter()
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"job failed: {job['error']}")

    worker = job["summary"]["timings_seconds"]
    claimed_to_completed = seconds_between(job["started_at"], job["completed_at"])
    return {
        "total": observed - start,
        "submit call (verify input, queue, publish)": submitted - start,
        "queue wait (SNS→SQS, receive, claim)": seconds_between(
            job["queued_at"], job["started_at"]
        ),
        "download input": worker["download"],
        "annotate (warm engine child)": worker["annotate"],
        "  of which anntools annotate_file": job["summary"]["seconds"],
        "upload result + log": worker["upload"],
        "record COMPLETED + rest": claimed_to_completed
        - worker["download"]
        - worker["annotate"]
        - worker["upload"],
        "seen by the poller after COMPLETED": max(
            0.0,
            (observed - start)
            - (submitted - start)
            - seconds_between(job["queued_at"], job["completed_at"]),
        ),
    }


def engine_peers(vcf: Path, out_dir: Path, runs: int) -> dict[str, float]:
    """The same file without queue or storage: a cold engine process, and a warm call."""
    from anntools import annotate_file, ensure_bundle

    request = {
        "input_path": str(vcf),
        "output_path": str(out_dir / "alone.vcf.gz"),
        "log_path": str(out_dir / "alone.log"),
        "build": "GRCh37",
    }
    cold = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gas_annotator.engine", "serve"],
            input=json.dumps(request).encode() + b"\n",
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - start)
    bundle = ensure_bundle("GRCh37")
    warm = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        annotate_file(vcf, out_dir / "warm.vcf.gz", build="GRCh37", bundle_dir=bundle)
        warm.append(time.perf_counter() - start)
    return {
        "peer: cold engine process, one file (old design)": statistics.median(cold),
        "peer: annotate_file in a warm process": statistics.median(warm[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from anntools import ensure_bundle

    print("reference bundle:", ensure_bundle("GRCh37"), flush=True)
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
    env = {
        **os.environ,
        "GAS_ENVIRONMENT": "test",
        "GAS_PREFIX": prefix,
        "GAS_INTERNAL_JWT_SECRET": secret,
        "GAS_AWS_ENDPOINT_URL": moto.url,
        "GAS_AWS_ACCESS_KEY_ID": "bench",
        "GAS_AWS_SECRET_ACCESS_KEY": "bench",
        "GAS_ANNOTATOR_BUNDLE_BUILDS": '["GRCh37"]',
        "GAS_LOG_LEVEL": "WARNING",
    }
    processes = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:

            async def bootstrap() -> None:
                async with aws_clients(aws) as clients:
                    await infra_up(clients, stack)

            asyncio.run(bootstrap())
            ports = {}
            for service in ("jobs", "annotator"):
                ports[service] = free_port()
                log = (folder / f"{service}.log").open("wb")
                processes.append(
                    spawn(
                        [sys.executable, "-m", f"gas_{service}"],
                        env={**env, f"GAS_{service.upper()}_PORT": str(ports[service])},
                        stdout=log.fileno(),
                    )
                )
            for service, port in ports.items():
                wait_until(
                    lambda port=port: http_ok(f"http://127.0.0.1:{port}/readyz"),
                    timeout=120,
                    what=service,
                )
            token = mint_internal_token(
                InternalIdentity(user_id="bench", tier=Tier.PREMIUM),
                stack.internal_jwt_secret,
                ttl_seconds=3600,
            )
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{ports['jobs']}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            vcf = folder / "bench.vcf"
            content = workload(vcf)
            one_job(client, content)  # warm-up: page cache, first connections
            samples = []
            for run in range(args.runs):
                samples.append(one_job(client, content))
                print(f"run {run + 1:2d}: {samples[-1]['total']:.3f} s", flush=True)
            peers = engine_peers(vcf, folder, 5)
        finally:
            for process in processes:
                stop_process(process)
            moto.stop()

    print(f"\n{VARIANTS} variants, {args.runs} runs, one annotator, local stack (moto)")
    print(f"{'phase':<50} {'median s':>9} {'p90 s':>7}")
    for phase in samples[0]:
        values = sorted(sample[phase] for sample in samples)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"{phase:<50} {statistics.median(values):9.3f} {p90:7.3f}")
    for peer, seconds in peers.items():
        print(f"{peer:<50} {seconds:9.3f}")


if __name__ == "__main__":
    main()

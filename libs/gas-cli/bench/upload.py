"""Benchmark: uploading a file in parts to the local S3 (a moto server process), with the
`gas` CLI's uploader (presigned part URLs, SHA-256 per part, ETag checked) at 1 and at N
parts in parallel, side by side with boto3's managed transfer (``upload_file``) at the same
concurrency and part size, the peer an operator would reach for; then the time to resume an
upload stopped halfway (list the parts S3 holds, send the rest) against starting it over.

Usage: python libs/gas-cli/bench/upload.py [--mib 256] [--part-mib 16] [--parallel 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from gas_cli.upload import Plan, missing_parts, upload_parts
from gas_testing.localstack import MotoServer

MiB = 1024**2
BUCKET = "bench-uploads"


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def gas_upload(
    s3: Any, path: Path, part_bytes: int, parallel: int, *, resume_at: float | None = None
) -> float:
    """Seconds to upload ``path`` in parts; with ``resume_at``, the parts up to that share
    are sent first (untimed) and the time is that of the resume: listing the parts S3 holds
    and sending the others."""
    key = f"gas-{parallel}"
    size = path.stat().st_size
    plan = Plan(part_bytes=part_bytes, part_count=-(-size // part_bytes))
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]

    def part_urls(parts: list[tuple[int, str]]) -> list[dict[str, Any]]:
        return [
            {
                "number": number,
                "url": s3.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": BUCKET,
                        "Key": key,
                        "UploadId": upload_id,
                        "PartNumber": number,
                        "ChecksumAlgorithm": "SHA256",
                        "ChecksumSHA256": sha256,
                    },
                ),
                "headers": {
                    "x-amz-checksum-sha256": sha256,
                    "x-amz-sdk-checksum-algorithm": "SHA256",
                },
            }
            for number, sha256 in parts
        ]

    numbers = list(range(1, plan.part_count + 1))
    if resume_at is not None:
        first = numbers[: int(len(numbers) * resume_at)]
        upload_parts(path, plan, first, part_urls=part_urls, parallel=parallel, on_part=print_no)
    started = time.perf_counter()
    if resume_at is not None:
        held = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id).get("Parts", [])
        numbers = missing_parts(
            plan, size, [{"number": p["PartNumber"], "size": p["Size"]} for p in held]
        )
    upload_parts(path, plan, numbers, part_urls=part_urls, parallel=parallel, on_part=print_no)
    elapsed = time.perf_counter() - started
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    return elapsed


def print_no(_: int) -> None:
    pass


def boto_upload(s3: Any, path: Path, part_bytes: int, parallel: int) -> float:
    config = TransferConfig(
        multipart_threshold=part_bytes, multipart_chunksize=part_bytes, max_concurrency=parallel
    )
    started = time.perf_counter()
    s3.upload_file(str(path), BUCKET, f"boto-{parallel}", Config=config)
    elapsed = time.perf_counter() - started
    s3.delete_object(Bucket=BUCKET, Key=f"boto-{parallel}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="file size")
    parser.add_argument("--part-mib", type=int, default=16, help="part size (GAS default 16)")
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    moto = MotoServer().start()
    try:
        s3 = s3_client(moto.url)
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "input.bin"
            with path.open("wb") as out:
                for _ in range(args.mib):
                    out.write(os.urandom(MiB))
            part = args.part_mib * MiB
            print(f"{args.mib} MiB file, {args.part_mib} MiB parts, moto server at {moto.url}")
            print(f"{'uploader':<28}{'parallel':>9}{'seconds':>9}{'MiB/s':>8}")
            for name, run in (
                ("gas CLI (presigned parts)", gas_upload),
                ("boto3 upload_file", boto_upload),
            ):
                times = {}
                for parallel in (1, args.parallel):
                    times[parallel] = run(s3, path, part, parallel)
                    seconds = times[parallel]
                    print(f"{name:<28}{parallel:>9}{seconds:>9.2f}{args.mib / seconds:>8.1f}")
                print(f"{'':<28}{'speed-up':>9}{times[1] / times[args.parallel]:>9.2f}x")
            whole = gas_upload(s3, path, part, args.parallel)
            resumed = gas_upload(s3, path, part, args.parallel, resume_at=0.5)
            print(
                f"resume after half the parts ({args.parallel} at once): {resumed:.2f} s, "
                f"against {whole:.2f} s to upload it all again ({whole / resumed:.2f}x)"
            )
    finally:
        moto.stop()


if __name__ == "__main__":
    main()

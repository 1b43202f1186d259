"""The viewer's caches of columnar copies: bounded on disk and in memory, and a missing copy
rebuilt from the VCF (and not left behind when the result was archived meanwhile)."""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from anntools.columnar import write_columnar
from gas_core.jobs import JobRecord, JobStatus, StorageState, columnar_key_for, utc_timestamp
from gas_core.tiers import Tier
from gas_jobs.results import ResultGone, ResultTables

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@dataclass
class FakeS3:
    """The four S3 calls the cache makes, over a dict of (bucket, key) → bytes."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)

    async def download_file(self, bucket: str, key: str, path: str) -> None:
        if (bucket, key) not in self.objects:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        self.downloads.append(key)
        await asyncio.to_thread(Path(path).write_bytes, self.objects[(bucket, key)])

    async def upload_file(self, path: str, bucket: str, key: str, **_: Any) -> None:
        self.objects[(bucket, key)] = await asyncio.to_thread(Path(path).read_bytes)

    async def delete_object(self, *, Bucket: str, Key: str) -> None:
        self.objects.pop((Bucket, Key), None)


def job(name: str) -> JobRecord:
    now = utc_timestamp()
    return JobRecord(
        job_id=name,
        user_id="u",
        tier=Tier.FREE,
        status=JobStatus.COMPLETED,
        storage=StorageState.AVAILABLE,
        submitted_at=now,
        created_at=now,
        input_filename="a.vcf",
        input_size_bytes=1,
        input_bucket="inputs",
        input_key=f"u/{name}/a.vcf",
        results_bucket="results",
        result_key=f"u/{name}/a.annot.vcf.gz",
    )


def vcf(records: int) -> bytes:
    body = "".join(f"1\t{100 + i}\t.\tA\tG\t.\tPASS\tGENE=G{i % 3}\n" for i in range(records))
    return gzip.compress((HEADER + body).encode())


def stored_result(s3: FakeS3, tmp_path: Path, name: str, *, with_copy: bool) -> JobRecord:
    record = job(name)
    assert record.result_key
    s3.objects[("results", record.result_key)] = vcf(50)
    if with_copy:
        source = tmp_path / f"{name}.vcf.gz"
        source.write_bytes(vcf(50))
        write_columnar(source, tmp_path / f"{name}.parquet")
        key = columnar_key_for(record.result_key)
        s3.objects[("results", key)] = (tmp_path / f"{name}.parquet").read_bytes()
    return record


async def hot() -> bool:
    return True


async def test_the_folder_keeps_to_its_size_and_reloads_what_it_dropped(tmp_path: Path) -> None:
    s3 = FakeS3()
    first = stored_result(s3, tmp_path, "first", with_copy=True)
    second = stored_result(s3, tmp_path, "second", with_copy=True)
    cache = tmp_path / "cache"
    tables = ResultTables(
        cast(Any, s3), cache_dir=cache, cache_bytes=1, tables_in_memory=1
    )  # room for one file

    assert (await tables.table(first, still_hot=hot)).table.num_rows == 50
    await tables.table(second, still_hot=hot)
    assert sorted(path.name for path in cache.iterdir()) == ["second.parquet"]
    await tables.table(second, still_hot=hot)
    await tables.table(first, still_hot=hot)
    assert s3.downloads == [
        "u/first/a.annot.parquet",
        "u/second/a.annot.parquet",
        "u/first/a.annot.parquet",
    ]


async def test_a_missing_copy_is_rebuilt_from_the_vcf_and_uploaded(tmp_path: Path) -> None:
    s3 = FakeS3()
    old = stored_result(s3, tmp_path, "old", with_copy=False)
    tables = ResultTables(
        cast(Any, s3), cache_dir=tmp_path / "cache", cache_bytes=10**9, tables_in_memory=2
    )
    table = await tables.table(old, still_hot=hot)
    assert table.table.num_rows == 50
    assert ("results", "u/old/a.annot.parquet") in s3.objects


async def test_a_copy_rebuilt_while_the_result_was_archived_is_not_left_behind(
    tmp_path: Path,
) -> None:
    s3 = FakeS3()
    old = stored_result(s3, tmp_path, "old", with_copy=False)
    tables = ResultTables(
        cast(Any, s3), cache_dir=tmp_path / "cache", cache_bytes=10**9, tables_in_memory=2
    )

    async def archived_meanwhile() -> bool:
        return False

    with pytest.raises(ResultGone):
        await tables.table(old, still_hot=archived_meanwhile)
    assert ("results", "u/old/a.annot.parquet") not in s3.objects
    assert list((tmp_path / "cache").iterdir()) == []

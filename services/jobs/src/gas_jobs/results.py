"""The results viewer's data: each result's columnar copy, fetched from S3 into a local
cache folder and kept loaded in memory for the next query.

A copy that is not in S3 (results made before the viewer existed, a copy the annotator could
not write, or one deleted when the result was archived and not rebuilt since its restore)
is rebuilt here from the result's VCF with ``anntools.columnar`` and uploaded back to the
same key, so the next replica (or this one after eviction) just downloads it.

Both caches are bounded: the folder by total size, least recently used file out first
(never a file whose table is loaded, which an export may be reading), and the loaded tables
by count.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from anntools.columnar import write_columnar
from gas_core.jobs import JobRecord, columnar_key_for
from gas_jobs.storage import NOT_FOUND
from gas_jobs.variants import VariantTable

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


class ResultGone(Exception):
    """The result's VCF is not in the results bucket (archived meanwhile)."""


class ResultTables:
    def __init__(
        self, s3: S3Client, *, cache_dir: Path, cache_bytes: int, tables_in_memory: int
    ) -> None:
        self._s3 = s3
        self._dir = cache_dir
        self._cache_bytes = cache_bytes
        self._tables_in_memory = tables_in_memory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._files: OrderedDict[str, int] = OrderedDict()
        self._tables: OrderedDict[str, VariantTable] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._adopt_existing_files()

    def _adopt_existing_files(self) -> None:
        """Keep what an earlier run of this process left (oldest first), drop partial files."""
        entries = []
        for path in self._dir.iterdir():
            if path.name.startswith("."):
                path.unlink(missing_ok=True)
            elif path.suffix == ".parquet" and path.is_file():
                stat = path.stat()
                entries.append((stat.st_mtime, path.name, stat.st_size))
        for _, name, size in sorted(entries):
            self._files[name] = size
        self._evict()

    async def table(
        self, job: JobRecord, *, still_hot: Callable[[], Awaitable[bool]]
    ) -> VariantTable:
        """The loaded columnar copy of ``job``'s result (a COMPLETED job with its result in
        the results bucket). ``still_hot`` re-reads the job after a rebuilt copy is uploaded:
        if the result was archived meanwhile, the upload is removed again."""
        name = f"{job.job_id}.parquet"
        table = self._loaded(name)
        if table is not None:
            return table
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            table = self._loaded(name)
            if table is None:
                path = self._dir / name
                if not path.exists():
                    await self._fetch(job, path, still_hot)
                try:
                    table = await asyncio.to_thread(VariantTable, path)
                except Exception:
                    # Unreadable (e.g. a disk error): fetched again next time, not served.
                    path.unlink(missing_ok=True)
                    self._files.pop(name, None)
                    raise
                self._tables[name] = table
                self._files[name] = path.stat().st_size
                self._files.move_to_end(name)
                while len(self._tables) > self._tables_in_memory:
                    self._tables.popitem(last=False)
                self._evict()
        self._locks.pop(name, None)
        return table

    def _loaded(self, name: str) -> VariantTable | None:
        table = self._tables.get(name)
        if table is not None:
            self._tables.move_to_end(name)
            self._files.move_to_end(name)
        return table

    async def _fetch(
        self, job: JobRecord, path: Path, still_hot: Callable[[], Awaitable[bool]]
    ) -> None:
        assert job.results_bucket and job.result_key
        key = job.columnar_key or columnar_key_for(job.result_key)
        partial = path.with_name(f".{uuid.uuid4().hex}.partial")
        try:
            try:
                await self._s3.download_file(job.results_bucket, key, str(partial))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in NOT_FOUND:
                    raise
                await self._rebuild(job, key, partial, still_hot)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    async def _rebuild(
        self, job: JobRecord, key: str, target: Path, still_hot: Callable[[], Awaitable[bool]]
    ) -> None:
        assert job.results_bucket and job.result_key
        with tempfile.TemporaryDirectory(prefix=".rebuild-", dir=self._dir) as tmp:
            vcf = Path(tmp) / "result.vcf.gz"
            try:
                await self._s3.download_file(job.results_bucket, job.result_key, str(vcf))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in NOT_FOUND:
                    raise ResultGone from error
                raise
            rows = await asyncio.to_thread(write_columnar, vcf, target)
        await self._s3.upload_file(
            str(target), job.results_bucket, key, ExtraArgs={"ContentType": PARQUET_CONTENT_TYPE}
        )
        if not await still_hot():
            # Archived while we rebuilt: the archiver may have deleted the copy before our
            # upload, so take it away again rather than leave a hot copy of an archived result.
            await self._s3.delete_object(Bucket=job.results_bucket, Key=key)
            raise ResultGone
        log.info("rebuilt the columnar copy %s from the VCF (%d records)", key, rows)

    def _evict(self) -> None:
        total = sum(self._files.values())
        for name in list(self._files):
            if total <= self._cache_bytes:
                return
            if name in self._tables:
                continue
            total -= self._files.pop(name)
            (self._dir / name).unlink(missing_ok=True)

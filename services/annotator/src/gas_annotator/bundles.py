"""Reference bundles on the worker's disk: fetched from S3 (production) or built locally.

With ``reference_uri`` set (``s3://bucket/prefix``), a bundle is the folder
``<prefix>/<build>-<format>/`` (as anntools lays it out in its cache); it is downloaded
into a staging folder, checked against its manifest's checksums and renamed into the cache
only then, so a crash or a damaged copy never leaves a bundle that looks usable. Without it, a
missing bundle is built on first use by ``builder``: a command that runs the ``anntools`` CLI
in the bundle builder's environment (``tools/bundle-builder``, which holds the reference-data
packages this worker's environment does not have), as a child process whose output is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import uuid
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from anntools.bundle import MANIFEST, bundle_dir_for, default_cache_root, verify_bundle

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)


class BundleUnavailable(Exception):
    pass


class Bundles:
    def __init__(
        self,
        *,
        s3: S3Client,
        cache_dir: Path | None,
        reference_uri: str | None,
        builds: tuple[str, ...],
        builder: str,
    ) -> None:
        self._s3 = s3
        self.cache_dir = cache_dir or default_cache_root()
        self._reference_uri = reference_uri
        self._builder = builder
        self._builds = builds
        self._locks: dict[str, asyncio.Lock] = {}

    async def prepare(self, stop: asyncio.Event) -> None:
        """Get every configured build ready before the first job needs it."""
        for build in self._builds:
            if stop.is_set():
                return
            try:
                await self.get(build)
            except Exception:
                log.exception("could not prepare the %s reference bundle", build)

    async def check(self) -> None:
        """Readiness: every configured build is on disk."""
        missing = [b for b in self._builds if not (self._target(b) / MANIFEST).exists()]
        if missing:
            raise BundleUnavailable(f"reference bundle not ready: {', '.join(missing)}")

    async def get(self, build: str) -> Path:
        target = self._target(build)
        async with self._locks.setdefault(build, asyncio.Lock()):
            if (target / MANIFEST).exists():
                return target
            if self._reference_uri:
                await self._fetch(build, target)
            else:
                await self._build(build)
            if not (target / MANIFEST).exists():
                raise BundleUnavailable(f"the {build} bundle is not at {target}")
            log.info("reference bundle %s ready at %s", build, target)
            return target

    def _target(self, build: str) -> Path:
        return bundle_dir_for(build, self.cache_dir)

    async def _build(self, build: str) -> None:
        """``<builder> bundle ensure``: the builder's own lock keeps two workers from both
        building; its output goes to this worker's log as it comes."""
        command = [
            *shlex.split(self._builder),
            *("bundle", "ensure", "--build", build, "--cache-dir", str(self.cache_dir)),
        ]
        log.info("building the %s reference bundle (first use): %s", build, shlex.join(command))
        # The builder has its own environment; ours (as `uv run` advertises it) must not leak in.
        environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        except OSError as error:
            raise BundleUnavailable(self._cannot_build(build, str(error))) from error
        assert process.stdout is not None
        tail: deque[str] = deque(maxlen=20)
        try:
            async for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip()
                tail.append(line)
                log.info("bundle builder: %s", line)
            code = await process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # uv and the build it started
            await process.wait()
            raise
        if code != 0:
            raise BundleUnavailable(self._cannot_build(build, f"exit {code}: " + "\n".join(tail)))

    def _cannot_build(self, build: str, reason: str) -> str:
        return (
            f"the {build} reference bundle is not in {self.cache_dir} and the bundle builder "
            f"`{self._builder}` could not build it ({reason}). Build the bundles with `make "
            "bundles` in the repository, point GAS_ANNOTATOR_BUNDLE_BUILDER at a command that "
            "runs anntools in the bundle builder's environment, or set "
            "GAS_ANNOTATOR_REFERENCE_URI to fetch prebuilt bundles from S3."
        )

    async def _fetch(self, build: str, target: Path) -> None:
        assert self._reference_uri
        bucket, _, prefix = self._reference_uri.removeprefix("s3://").partition("/")
        folder = f"{prefix.strip('/')}/{target.name}/".lstrip("/")
        staging = self.cache_dir / f".staging-{target.name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        log.info("fetching the %s reference bundle from s3://%s/%s", build, bucket, folder)
        try:
            fetched = 0
            paginator = self._s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=bucket, Prefix=folder):
                for entry in page.get("Contents", []):
                    destination = staging / entry["Key"][len(folder) :]
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    await self._s3.download_file(bucket, entry["Key"], str(destination))
                    fetched += 1
            if not (staging / MANIFEST).exists():
                raise BundleUnavailable(
                    f"s3://{bucket}/{folder} holds no bundle ({fetched} objects, no {MANIFEST})"
                )
            damaged = await asyncio.to_thread(verify_bundle, staging)
            if damaged:
                raise BundleUnavailable(
                    f"s3://{bucket}/{folder} does not match its manifest: {', '.join(damaged[:5])}"
                )
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

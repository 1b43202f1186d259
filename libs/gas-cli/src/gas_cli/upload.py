"""Uploads in parts: the file's parts go to S3 in parallel through presigned URLs, each with
its SHA-256; an interrupted upload is found again by the file's fingerprint and only the
parts S3 does not hold yet are sent."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

MiB = 1024**2
# Parts whose URLs are asked for in one request (and hashed ahead of their upload).
URL_BATCH = 8
ATTEMPTS = 3

# (number, base64 SHA-256) of parts → [{"number", "url", "headers"}]
PartUrls = Callable[[list[tuple[int, str]]], list[dict[str, Any]]]


class UploadFailed(Exception):
    pass


def fingerprint(path: Path) -> str:
    """Cheap and stable for one file: its size, modification time and the SHA-256 of its
    first and last MiB. A changed file gets a new fingerprint, so it is never resumed into
    an upload of its older self."""
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:".encode())
    with path.open("rb") as file:
        digest.update(file.read(MiB))
        if stat.st_size > MiB:
            file.seek(max(MiB, stat.st_size - MiB))
            digest.update(file.read(MiB))
    return f"v1:{digest.hexdigest()[:40]}"


@dataclass(frozen=True)
class Plan:
    part_bytes: int
    part_count: int

    def span(self, number: int, size: int) -> tuple[int, int]:
        """(offset, length) of part ``number`` in a file of ``size`` bytes."""
        offset = (number - 1) * self.part_bytes
        return offset, min(self.part_bytes, size - offset)


def read_part(path: Path, plan: Plan, number: int) -> bytes:
    offset, length = plan.span(number, path.stat().st_size)
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(length)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def missing_parts(plan: Plan, size: int, uploaded: Iterable[dict[str, Any]]) -> list[int]:
    """The part numbers still to send: those S3 lacks or holds with the wrong size."""
    held = {int(p["number"]): int(p["size"]) for p in uploaded}
    return [n for n in range(1, plan.part_count + 1) if held.get(n) != plan.span(n, size)[1]]


def upload_parts(
    path: Path,
    plan: Plan,
    numbers: list[int],
    *,
    part_urls: PartUrls,
    parallel: int,
    on_part: Callable[[int], None],
) -> None:
    """PUT parts ``numbers`` of ``path``, ``parallel`` at a time; ``on_part(bytes)`` after each.
    Each part is checked against the ETag S3 answers (its MD5), and retried on failure."""
    lock = threading.Lock()
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as http:

        def send(number: int, url: dict[str, Any]) -> int:
            for attempt in range(1, ATTEMPTS + 1):
                data = read_part(path, plan, number)
                try:
                    response = http.put(url["url"], content=data, headers=url["headers"])
                except httpx.HTTPError as error:
                    problem = str(error) or type(error).__name__
                else:
                    etag = response.headers.get("etag", "").strip('"')
                    if response.status_code == 200 and etag == hashlib.md5(data).hexdigest():
                        return len(data)
                    problem = f"S3 answered {response.status_code}: {response.text[:200]}"
                    if response.status_code == 200:
                        problem = "the stored part does not match what was sent"
                if attempt < ATTEMPTS:
                    with lock:  # a fresh URL: the first may have expired
                        url = part_urls([(number, sha256_b64(data))])[0]
            raise UploadFailed(f"part {number} failed {ATTEMPTS} times: {problem}")

        with ThreadPoolExecutor(max_workers=parallel) as pool:
            pending: set[Future[int]] = set()
            try:
                for batch in _batches(numbers, URL_BATCH):
                    checksums = [(n, sha256_b64(read_part(path, plan, n))) for n in batch]
                    with lock:
                        urls = part_urls(checksums)
                    for url in urls:
                        pending.add(pool.submit(send, int(url["number"]), url))
                    # Keep at most a batch waiting beyond the running parts, so URLs are
                    # used soon after they are issued.
                    while len(pending) > parallel + URL_BATCH:
                        pending = _drain(pending, on_part)
                while pending:
                    pending = _drain(pending, on_part)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise


def _drain(pending: set[Future[int]], on_part: Callable[[int], None]) -> set[Future[int]]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        on_part(future.result())
    return rest


def _batches(numbers: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(numbers), size):
        yield numbers[start : start + size]


class ResumeState:
    """Which job each file fingerprint is being uploaded into, kept beside the CLI's config
    so `gas submit` on the same file resumes it."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _read(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self._path.read_text()))
        except (OSError, ValueError):
            return {}

    def job_for(self, fingerprint: str) -> str | None:
        entry = self._read().get(fingerprint)
        return str(entry["job_id"]) if isinstance(entry, dict) and "job_id" in entry else None

    def remember(self, fingerprint: str, job_id: str, file: Path) -> None:
        state = self._read()
        state[fingerprint] = {"job_id": job_id, "file": str(file.resolve())}
        self._write(state)

    def forget(self, fingerprint: str) -> None:
        state = self._read()
        if state.pop(fingerprint, None) is not None:
            self._write(state)

    def _write(self, state: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        aside = self._path.with_suffix(".tmp")
        aside.write_text(json.dumps(state, indent=1))
        os.replace(aside, self._path)

"""The S3 side of uploads in parts, and how a file is cut into parts (S3's limits: at most
10,000 parts of 5 MiB to 5 GiB, the last one smaller)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gas_core.jobs import JobRecord

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

MiB = 1024**2
# S3's limits on multipart uploads.
MIN_PART_BYTES = 5 * MiB
MAX_PART_BYTES = 5 * 1024**3
MAX_PARTS = 10_000
# Most part URLs handed out in one call.
MAX_URLS_PER_BATCH = 100


@dataclass(frozen=True)
class UploadPolicy:
    """When an input is uploaded in parts, and how big the parts are."""

    threshold_bytes: int = 64 * MiB
    part_bytes: int = 16 * MiB


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    sha256: str | None


@dataclass(frozen=True)
class PartUrl:
    number: int
    url: str
    headers: dict[str, str]


def plan_parts(size_bytes: int, *, part_bytes: int) -> tuple[int, int]:
    """(part size, part count) for a file of ``size_bytes``: ``part_bytes`` (at least S3's
    5 MiB), grown in whole MiB when the file would need more than 10,000 parts."""
    size = max(part_bytes, MIN_PART_BYTES, math.ceil(size_bytes / MAX_PARTS))
    size = math.ceil(size / MiB) * MiB
    if size > MAX_PART_BYTES:
        raise ValueError(f"{size_bytes} bytes cannot be uploaded in {MAX_PARTS} parts of 5 GiB")
    return size, max(1, math.ceil(size_bytes / size))


def part_count(job: JobRecord) -> int:
    return plan_parts(job.input_size_bytes, part_bytes=job.upload_part_bytes or MIN_PART_BYTES)[1]


class MultipartStore:
    """The S3 side of multipart uploads. Parts carry their SHA-256 (S3 checks it on
    arrival; the URL is signed with it, so a part can only be the bytes it was declared)."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    async def start(self, *, bucket: str, key: str) -> str:
        created = await self._s3.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256"
        )
        return str(created["UploadId"])

    async def presign_part(
        self, *, bucket: str, key: str, upload_id: str, number: int, sha256: str, expires_in: int
    ) -> PartUrl:
        url = await self._s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": number,
                "ChecksumAlgorithm": "SHA256",
                "ChecksumSHA256": sha256,
            },
            ExpiresIn=expires_in,
        )
        headers = {"x-amz-checksum-sha256": sha256, "x-amz-sdk-checksum-algorithm": "SHA256"}
        return PartUrl(number=number, url=str(url), headers=headers)

    async def parts(self, *, bucket: str, key: str, upload_id: str) -> list[Part] | None:
        """The parts S3 holds, or None when the upload does not exist (any more)."""
        found: list[Part] = []
        marker = 0
        while True:
            try:
                page = await self._s3.list_parts(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in {"NoSuchUpload", "404"}:
                    return None
                raise
            for part in page.get("Parts", []):
                found.append(
                    Part(
                        number=int(part["PartNumber"]),
                        size=int(part["Size"]),
                        etag=str(part["ETag"]),
                        sha256=part.get("ChecksumSHA256"),
                    )
                )
            if not page.get("IsTruncated"):
                return found
            marker = int(page["NextPartNumberMarker"])

    async def complete(self, *, bucket: str, key: str, upload_id: str, parts: list[Part]) -> None:
        listed: list[Any] = [
            {
                "PartNumber": part.number,
                "ETag": part.etag,
                **({"ChecksumSHA256": part.sha256} if part.sha256 else {}),
            }
            for part in parts
        ]
        await self._s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
        )

    async def checksum(self, *, bucket: str, key: str) -> tuple[int, str]:
        """The object's size and its checksum as S3 reports it (SHA-256, or the ETag)."""
        head = await self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        sha256 = head.get("ChecksumSHA256")
        checksum = f"sha256:{sha256}" if sha256 else f"etag:{str(head['ETag']).strip(chr(34))}"
        return int(head["ContentLength"]), checksum

    async def abort(self, *, bucket: str, key: str, upload_id: str) -> None:
        try:
            await self._s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in {"NoSuchUpload", "404"}:
                raise

    async def uploads(self, *, bucket: str) -> list[tuple[str, str, datetime]]:
        """(key, upload id, initiated) of every multipart upload in progress in ``bucket``."""
        found: list[tuple[str, str, datetime]] = []
        request: dict[str, Any] = {"Bucket": bucket}
        while True:
            page = await self._s3.list_multipart_uploads(**request)
            found.extend(
                (str(u["Key"]), str(u["UploadId"]), u["Initiated"]) for u in page.get("Uploads", [])
            )
            if not page.get("IsTruncated"):
                return found
            request = {
                "Bucket": bucket,
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

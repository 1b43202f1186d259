"""The S3 side of archiving: hot results bucket, cold archive bucket, restore requests."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

CHUNK_BYTES = 1024 * 1024
# How fast S3 thaws a cold object (S3 calls it the retrieval "Tier"; that word means the
# user's plan everywhere else in GAS, see gas_core.tiers).
Retrieval = Literal["Expedited", "Standard", "Bulk"]


class RestoreState(StrEnum):
    NOT_REQUESTED = "not-requested"
    ONGOING = "ongoing"
    DONE = "done"


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    storage_class: str
    restore: RestoreState
    last_modified: datetime
    checksum_sha256: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class Content:
    """Size and base64 SHA-256 of an object's bytes, as S3 reports checksums."""

    size: int
    sha256: str


class CopyNotVerified(Exception):
    """A part of a multipart copy does not have its source's SHA-256."""


def copy_part_bytes(size: int, single_copy_limit: int) -> int:
    """Parts of a multipart copy: as large as one copy may be (at most S3's 5 GiB part,
    at least its 5 MiB), larger when the object would need more than 10,000 parts."""
    mib = 1024**2
    part = max(min(single_copy_limit, 5 * 1024**3), 5 * mib, -(-size // 10_000))
    return -(-part // mib) * mib


class ExpeditedRetrievalUnavailable(Exception):
    """S3 has no expedited capacity right now (``GlacierExpeditedRetrievalNotAvailable``)."""


class ObjectStore(Protocol):
    async def head(self, bucket: str, key: str) -> ObjectInfo | None: ...
    async def content(self, bucket: str, key: str) -> Content | None: ...
    async def copy(
        self,
        *,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        storage_class: str,
        metadata: dict[str, str] | None = None,
    ) -> str: ...
    async def delete(self, bucket: str, key: str) -> None: ...
    async def request_restore(
        self, bucket: str, key: str, *, days: int, retrieval: Retrieval
    ) -> None: ...


class S3ObjectStore:
    """:class:`ObjectStore` on S3 (or the moto server). Objects over ``single_copy_limit``
    bytes (S3's CopyObject stops at 5 GB) are copied in parts (UploadPartCopy)."""

    def __init__(self, s3: S3Client, *, single_copy_limit: int = 5 * 1000**3) -> None:
        self._s3 = s3
        self._single_copy_limit = single_copy_limit

    async def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            head = await self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if _code(error) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        # An object made in parts has a checksum of its parts' checksums, not of its bytes.
        whole = "-" not in str(head.get("ETag", ""))
        return ObjectInfo(
            size=int(head["ContentLength"]),
            storage_class=str(head.get("StorageClass") or "STANDARD"),
            restore=_restore_state(head.get("Restore")),
            last_modified=head["LastModified"],
            checksum_sha256=head.get("ChecksumSHA256") if whole else None,
            metadata={k.lower(): str(v) for k, v in head.get("Metadata", {}).items()},
        )

    async def content(self, bucket: str, key: str) -> Content | None:
        """Read the object through once; ``None`` if it does not exist."""
        try:
            response = await self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _code(error) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        digest = hashlib.sha256()
        size = 0
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
        finally:
            body.close()
        return Content(size=size, sha256=base64.b64encode(digest.digest()).decode())

    async def copy(
        self,
        *,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        storage_class: str,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Server-side copy; returns the SHA-256 (base64) of the new object's bytes."""
        source = await self._s3.head_object(Bucket=source_bucket, Key=source_key)
        size = int(source["ContentLength"])
        if size > self._single_copy_limit:
            return await self._copy_in_parts(
                source_bucket=source_bucket,
                source_key=source_key,
                size=size,
                bucket=bucket,
                key=key,
                storage_class=storage_class,
                metadata=dict(source.get("Metadata", {})) if metadata is None else metadata,
            )
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "CopySource": {"Bucket": source_bucket, "Key": source_key},
            "StorageClass": storage_class,
            "ChecksumAlgorithm": "SHA256",
        }
        if metadata is not None:
            kwargs["Metadata"] = metadata
            kwargs["MetadataDirective"] = "REPLACE"
        response = await self._s3.copy_object(**kwargs)
        return str(response["CopyObjectResult"].get("ChecksumSHA256", ""))

    async def _copy_in_parts(
        self,
        *,
        source_bucket: str,
        source_key: str,
        size: int,
        bucket: str,
        key: str,
        storage_class: str,
        metadata: dict[str, str],
    ) -> str:
        """Multipart copy. S3 reports each copied part's SHA-256; they are checked against
        the source's parts, read here once, whose bytes also give the whole object's SHA-256
        (which S3 does not compute for an object made in parts)."""
        part_bytes = copy_part_bytes(size, self._single_copy_limit)
        created = await self._s3.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            StorageClass=storage_class,  # type: ignore[arg-type]
            Metadata=metadata,
            ChecksumAlgorithm="SHA256",
        )
        upload_id = created["UploadId"]
        try:
            parts: list[Any] = []
            whole = hashlib.sha256()
            for number, start in enumerate(range(0, size, part_bytes), start=1):
                end = min(start + part_bytes, size) - 1
                copied = await self._s3.upload_part_copy(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": source_bucket, "Key": source_key},
                    CopySourceRange=f"bytes={start}-{end}",
                )
                result = copied["CopyPartResult"]
                part_digest = await self._range_sha256(source_bucket, source_key, start, end, whole)
                reported = result.get("ChecksumSHA256")
                if reported is not None and reported != part_digest:
                    raise CopyNotVerified(f"part {number} of {key}: SHA-256 differs")
                parts.append(
                    {"PartNumber": number, "ETag": result["ETag"], "ChecksumSHA256": part_digest}
                )
            await self._s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            await self._s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
        return base64.b64encode(whole.digest()).decode()

    async def _range_sha256(self, bucket: str, key: str, start: int, end: int, whole: Any) -> str:
        response = await self._s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
        digest = hashlib.sha256()
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(CHUNK_BYTES):
                digest.update(chunk)
                whole.update(chunk)
        finally:
            body.close()
        return base64.b64encode(digest.digest()).decode()

    async def delete(self, bucket: str, key: str) -> None:
        await self._s3.delete_object(Bucket=bucket, Key=key)

    async def request_restore(
        self, bucket: str, key: str, *, days: int, retrieval: Retrieval
    ) -> None:
        """Ask S3 to thaw an archived object; a restore already under way counts as asked."""
        try:
            await self._s3.restore_object(
                Bucket=bucket,
                Key=key,
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": retrieval}},
            )
        except ClientError as error:
            code = _code(error)
            if code == "GlacierExpeditedRetrievalNotAvailable":
                raise ExpeditedRetrievalUnavailable(str(error)) from error
            if code != "RestoreAlreadyInProgress":
                raise


_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"')


def _restore_state(header: str | None) -> RestoreState:
    match = _ONGOING.search(header or "")
    if match is None:
        return RestoreState.NOT_REQUESTED
    return RestoreState.ONGOING if match.group(1) == "true" else RestoreState.DONE


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))

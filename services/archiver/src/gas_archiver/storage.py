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
    """:class:`ObjectStore` on S3 (or the moto server)."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    async def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            head = await self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if _code(error) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return ObjectInfo(
            size=int(head["ContentLength"]),
            storage_class=str(head.get("StorageClass") or "STANDARD"),
            restore=_restore_state(head.get("Restore")),
            last_modified=head["LastModified"],
            checksum_sha256=head.get("ChecksumSHA256"),
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
        """Server-side copy; returns the SHA-256 (base64) S3 computed of the new object."""
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

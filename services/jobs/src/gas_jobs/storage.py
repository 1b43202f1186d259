"""The S3 adapter: presigned upload/download links, input checks, logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


class ObjectStore:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    async def presign_upload(
        self, *, bucket: str, key: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        post = await self._s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return PresignedPost(url=post["url"], fields=dict(post["fields"]))

    async def presign_download(
        self, *, bucket: str, key: str, filename: str, expires_in: int
    ) -> str:
        return str(
            await self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=expires_in,
            )
        )

    async def size(self, *, bucket: str, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""
        try:
            head = await self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND:
                return None
            raise
        return int(head["ContentLength"])

    async def read_start(self, *, bucket: str, key: str, length: int) -> bytes | None:
        """The object's first ``length`` bytes (all of an empty one: b""), or None when it
        does not exist (any more)."""
        try:
            response = await self._s3.get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}"
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in NOT_FOUND:
                return None
            if code == "InvalidRange":  # S3's answer for any range of an empty object
                return b""
            raise
        async with response["Body"] as body:
            return bytes(await body.read())

    async def read_text(self, *, bucket: str, key: str) -> str | None:
        try:
            response = await self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND:
                return None
            raise
        async with response["Body"] as body:
            return bytes(await body.read()).decode("utf-8", errors="replace")

    async def delete(self, *, bucket: str, key: str) -> None:
        await self._s3.delete_object(Bucket=bucket, Key=key)

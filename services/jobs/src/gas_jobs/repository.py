"""The jobs service's reads and writes of job records: creating a job, a user's list, queue
positions, and the transitions before a worker takes over (CREATED → QUEUED | FAILED).
The record itself is the contract in :mod:`gas_core.jobs`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gas_core.jobs import (
    ConditionalUpdate,
    JobRecord,
    JobStatus,
    JobTable,
    record_from_item,
    record_to_item,
    utc_timestamp,
)

CURSOR_KEYS = frozenset({"job_id", "user_id", "submitted_at"})


@dataclass(frozen=True)
class JobPage:
    items: list[JobRecord]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """The list cursor was not one this service issued."""


def _encode_cursor(key: Mapping[str, Any]) -> str:
    plain = {name: raw["S"] for name, raw in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("the cursor is not valid; start again without it") from error
    if not isinstance(plain, dict) or set(plain) != CURSOR_KEYS:
        raise InvalidCursor("the cursor is not valid; start again without it")
    return {name: {"S": str(value)} for name, value in plain.items()}


class JobRepository(JobTable):
    async def create(self, job: JobRecord) -> None:
        await self._dynamodb.put_item(
            TableName=self._table,
            Item=record_to_item(job),
            ConditionExpression="attribute_not_exists(job_id)",
        )

    async def list_for_user(
        self,
        *,
        user_id: str,
        status: JobStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> JobPage:
        """A user's jobs, newest first, ``limit`` at a time."""
        items: list[JobRecord] = []
        start = _decode_cursor(cursor) if cursor else None
        while True:
            kwargs = self._user_query(user_id=user_id, status=status)
            kwargs["Limit"] = limit - len(items)
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = await self._dynamodb.query(**kwargs)
            items.extend(record_from_item(item) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start or len(items) >= limit:
                break
        return JobPage(items=items, next_cursor=_encode_cursor(start) if start else None)

    async def count_for_user(self, *, user_id: str, status: JobStatus | None = None) -> int:
        request = {**self._user_query(user_id=user_id, status=status), "Select": "COUNT"}
        return sum(
            [int(page["Count"]) async for page in self._pages(self._dynamodb.query, request)]
        )

    async def waiting(self) -> list[tuple[str, str]]:
        """(user_id, queued_at) of every job (anyone's) that waits for a worker."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#status = :queued",
            "ProjectionExpression": "user_id, queued_at",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":queued": {"S": JobStatus.QUEUED.value}},
        }
        return [
            (item["user_id"]["S"], item["queued_at"]["S"])
            async for page in self._pages(self._dynamodb.scan, request)
            for item in page.get("Items", [])
            if "queued_at" in item
        ]

    async def queued_unpublished(self, *, queued_before: str) -> list[JobRecord]:
        """QUEUED jobs whose JobRequested was never recorded as published (the submit that
        queued them stopped in between) and that were queued before ``queued_before``."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": (
                "#status = :queued AND queued_at < :cutoff AND "
                "(attribute_not_exists(request_published) OR request_published = :no)"
            ),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":queued": {"S": JobStatus.QUEUED.value},
                ":cutoff": {"S": queued_before},
                ":no": {"BOOL": False},
            },
        }
        return [
            record_from_item(item)
            async for page in self._pages(self._dynamodb.scan, request)
            for item in page.get("Items", [])
        ]

    async def queue(self, *, job_id: str, input_size_bytes: int, queued_at: str) -> bool:
        """CREATED → QUEUED once the input is verified in S3."""
        update = ConditionalUpdate().set(
            {
                "status": JobStatus.QUEUED,
                "queued_at": queued_at,
                "input_size_bytes": input_size_bytes,
            }
        )
        return await self._apply(job_id, update, _status_in(update, JobStatus.CREATED))

    async def mark_request_published(self, *, job_id: str) -> None:
        update = ConditionalUpdate().set({"request_published": True})
        await self._apply(job_id, update, "attribute_exists(job_id)")

    async def fail_before_run(self, *, job_id: str, error: str, failed_at: str) -> bool:
        """CREATED | QUEUED → FAILED (refused input, or a request that could not be run)."""
        update = ConditionalUpdate().set(
            {"status": JobStatus.FAILED, "error": error, "completed_at": failed_at}
        )
        condition = _status_in(update, JobStatus.CREATED, JobStatus.QUEUED)
        return await self._apply(job_id, update, condition)

    async def finish_upload(
        self, *, job_id: str, upload_id: str, input_checksum: str | None, error: str | None
    ) -> bool:
        """The multipart upload ``upload_id`` is over: completed (its checksum recorded) or,
        with ``error``, refused, cancelled or abandoned (CREATED → FAILED)."""
        update = ConditionalUpdate().set({"upload_id": None, "input_checksum": input_checksum})
        if error:
            update.set(
                {"status": JobStatus.FAILED, "error": error, "completed_at": utc_timestamp()}
            )
        condition = f"{update.name('upload_id')} = {update.value(upload_id)}"
        return await self._apply(job_id, update, condition)


def _status_in(update: ConditionalUpdate, *states: JobStatus) -> str:
    status = update.name("status")
    return " OR ".join(f"{status} = {update.value(state)}" for state in states)

"""The job record and its DynamoDB repository, shared by jobs, annotator and archiver.

Job record contract (table ``stack.jobs_table``, partition key ``job_id``):

=====================  ================================================================
attribute              meaning
=====================  ================================================================
``job_id``             uuid4 hex
``user_id``            owner; GSI ``by-user`` hash key
``submitted_at``       ISO-8601 UTC, set at creation; GSI ``by-user`` range key, so a
                       user's list reads newest first
``status``             CREATED → QUEUED → RUNNING → COMPLETED | FAILED
``storage``            COMPLETED jobs only: AVAILABLE → ARCHIVING → ARCHIVED →
                       RESTORING → AVAILABLE (ARCHIVING → AVAILABLE cancels an archive)
``tier``               the user's tier when the job was created (``free``/``premium``)
``input_filename``     the sanitised name the user uploaded
``input_size_bytes``   declared size at creation; the real S3 size once submitted
``input_bucket``       inputs bucket
``input_key``          ``<user>/<job>/<filename>``
``build``              requested genome build (``GRCh37``/``GRCh38``) or absent = detect
``progress``           0-100, written by the annotator about once a second
``results_bucket``     results bucket (set on completion)
``result_key``         bgzipped annotated VCF in the results bucket
``log_key``            the run's text log in the results bucket (also for failed runs)
``created_at``         ISO-8601 UTC timestamps of each step …
``queued_at``
``started_at``         … of the latest claim
``completed_at``       set on COMPLETED and FAILED
``error``              readable reason for FAILED
``summary``            map: variant and region-class counts, % in dbSNP, throughput
``provenance``         map: the reference bundle (build, sources, versions)
``attempts``           how many times a worker claimed the job
``runner``             id of the worker run holding the job while RUNNING
``lease_expires_at``   epoch seconds; a RUNNING job whose lease has passed may be
                       re-claimed (its worker died), a live lease may not
``archiving_since``    when the latest archive started (ISO-8601 UTC), so an archive
                       whose worker or message was lost can be found and finished
``request_published``  JobRequested was published (submit retries re-publish until true)
``outcome_published``  JobCompleted/JobFailed was published (redeliveries re-publish
                       until true)
=====================  ================================================================

Every change of ``status`` or ``storage`` is a conditional update on the current state;
each repository method says whether the transition happened (``True``) or was refused
because the record was not in the expected state (``False``). DynamoDB numbers are
converted to ``int``/``float`` here, so callers never see ``Decimal``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from gas_core.events import Tier
from gas_core.infra import JOBS_BY_USER_INDEX


class JobStatus(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class StorageState(StrEnum):
    AVAILABLE = "AVAILABLE"
    ARCHIVING = "ARCHIVING"
    ARCHIVED = "ARCHIVED"
    RESTORING = "RESTORING"


def utc_timestamp(moment: datetime | None = None) -> str:
    """Fixed-width ISO-8601 UTC, so string order is time order (the GSI sorts on it)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JobRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str
    user_id: str
    tier: Tier
    status: JobStatus
    submitted_at: str
    created_at: str
    input_filename: str
    input_size_bytes: int
    input_bucket: str
    input_key: str
    build: str | None = None
    storage: StorageState | None = None
    progress: int = 0
    results_bucket: str | None = None
    result_key: str | None = None
    log_key: str | None = None
    queued_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    attempts: int = 0
    runner: str | None = None
    lease_expires_at: float | None = None
    request_published: bool = False
    outcome_published: bool = False
    archiving_since: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED)

    def lease_live(self, now: float | None = None) -> bool:
        return (
            self.status is JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at > (time.time() if now is None else now)
        )


@dataclass(frozen=True)
class JobPage:
    items: list[JobRecord]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """The list cursor was not one this service issued."""


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


def _serialize(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_to_dynamo(value)))


def _item_to_record(item: Mapping[str, Any]) -> JobRecord:
    plain = {key: _from_dynamo(_deserializer.deserialize(raw)) for key, raw in item.items()}
    return JobRecord.model_validate(plain)


def _encode_cursor(key: Mapping[str, Any]) -> str:
    plain = {name: _deserializer.deserialize(raw) for name, raw in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, default=str).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("the cursor is not valid; start again without it") from error
    if not isinstance(plain, dict) or set(plain) != {"job_id", "user_id", "submitted_at"}:
        raise InvalidCursor("the cursor is not valid; start again without it")
    return {name: _serialize(str(value)) for name, value in plain.items()}


class _Update:
    """Builds one conditional UpdateItem with placeholder names and values."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.adds: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f"#{attribute}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _serialize(value)
        return placeholder

    def set(self, attributes: Mapping[str, Any]) -> _Update:
        for attribute, value in attributes.items():
            if value is None:
                self.removes.append(self.name(attribute))
            else:
                self.sets.append(f"{self.name(attribute)} = {self.value(value)}")
        return self

    def remove(self, *attributes: str) -> _Update:
        self.removes.extend(self.name(attribute) for attribute in attributes)
        return self

    def add(self, attribute: str, amount: int) -> _Update:
        self.adds.append(f"{self.name(attribute)} {self.value(amount)}")
        return self

    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        return " ".join(parts)


def _claimable(update: _Update, now: float) -> str:
    """The job waits for a worker: QUEUED, or RUNNING whose lease has passed (its worker died)."""
    return (
        f"{update.name('status')} = {update.value(JobStatus.QUEUED)} OR "
        f"({update.name('status')} = {update.value(JobStatus.RUNNING)} AND "
        f"{update.name('lease_expires_at')} < {update.value(now)})"
    )


class JobRepository:
    """All reads and conditional writes of job records."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    async def create(self, job: JobRecord) -> None:
        item = {
            key: _serialize(value)
            for key, value in job.model_dump(mode="json").items()
            if value is not None
        }
        await self._dynamodb.put_item(
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(job_id)",
        )

    async def get(self, job_id: str) -> JobRecord | None:
        response = await self._dynamodb.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _item_to_record(item) if item else None

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
            items.extend(_item_to_record(item) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start or len(items) >= limit:
                break
        return JobPage(items=items, next_cursor=_encode_cursor(start) if start else None)

    async def count_for_user(self, *, user_id: str, status: JobStatus | None = None) -> int:
        request = {**self._user_query(user_id=user_id, status=status), "Select": "COUNT"}
        return sum(
            [int(page["Count"]) async for page in self._pages(self._dynamodb.query, request)]
        )

    def _user_query(self, *, user_id: str, status: JobStatus | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": JOBS_BY_USER_INDEX,
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ScanIndexForward": False,
        }
        if status:
            kwargs["FilterExpression"] = "#status = :status"
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
            kwargs["ExpressionAttributeValues"][":status"] = {"S": status.value}
        return kwargs

    async def count_queued_before(self, *, queued_at: str) -> int:
        """How many jobs (anyone's) were queued earlier and still wait for a worker."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Select": "COUNT",
            "FilterExpression": "#status = :queued AND queued_at < :mine",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":queued": {"S": JobStatus.QUEUED.value},
                ":mine": {"S": queued_at},
            },
        }
        return sum([int(page["Count"]) async for page in self._pages(self._dynamodb.scan, request)])

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
            _item_to_record(item)
            async for page in self._pages(self._dynamodb.scan, request)
            for item in page.get("Items", [])
        ]

    async def restoring_job_ids(self) -> list[str]:
        """Jobs whose result is being restored from cold storage."""
        return await self._scan_ids("#storage = :state", {":state": StorageState.RESTORING})

    async def stalled_archive_job_ids(self, *, started_before: str) -> list[str]:
        """Jobs still ARCHIVING although their archive started before ``started_before``."""
        return await self._scan_ids(
            "#storage = :state AND archiving_since < :cutoff",
            {":state": StorageState.ARCHIVING, ":cutoff": started_before},
        )

    async def _scan_ids(self, condition: str, values: Mapping[str, str]) -> list[str]:
        """A filtered scan: fine while such jobs are rare and the table is small; a sparse
        GSI on ``storage`` would make it a query."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "job_id",
            "FilterExpression": condition,
            "ExpressionAttributeNames": {"#storage": "storage"},
            "ExpressionAttributeValues": {key: {"S": str(v)} for key, v in values.items()},
        }
        return [
            str(item["job_id"]["S"])
            async for page in self._pages(self._dynamodb.scan, request)
            for item in page.get("Items", [])
        ]

    @staticmethod
    async def _pages(
        operation: Callable[..., Awaitable[dict[str, Any]]], request: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a query or scan, following ``LastEvaluatedKey``."""
        while True:
            response = await operation(**request)
            yield response
            start = response.get("LastEvaluatedKey")
            if not start:
                return
            request = {**request, "ExclusiveStartKey": start}

    # -- status transitions ---------------------------------------------------------------

    async def queue(self, *, job_id: str, input_size_bytes: int, queued_at: str) -> bool:
        """CREATED → QUEUED once the input is verified in S3."""
        update = _Update().set(
            {
                "status": JobStatus.QUEUED,
                "queued_at": queued_at,
                "input_size_bytes": input_size_bytes,
            }
        )
        return await self._transition(job_id, update, status_in=(JobStatus.CREATED,))

    async def mark_request_published(self, *, job_id: str) -> None:
        await self._set_flag(job_id, "request_published")

    async def fail_before_run(self, *, job_id: str, error: str, failed_at: str) -> bool:
        """CREATED | QUEUED → FAILED (refused input, or a request that could not be run)."""
        update = _Update().set(
            {"status": JobStatus.FAILED, "error": error, "completed_at": failed_at}
        )
        return await self._transition(
            job_id, update, status_in=(JobStatus.CREATED, JobStatus.QUEUED)
        )

    async def claim(
        self, *, job_id: str, runner: str, lease_seconds: float, now: float | None = None
    ) -> bool:
        """QUEUED (or RUNNING whose lease has expired: its worker died) → RUNNING by ``runner``.

        Two live workers can never both hold a job: the holder renews its lease with
        :meth:`renew` and every later write of the run is conditional on ``runner``.
        """
        now = time.time() if now is None else now
        update = (
            _Update()
            .set(
                {
                    "status": JobStatus.RUNNING,
                    "runner": runner,
                    "lease_expires_at": now + lease_seconds,
                    "started_at": utc_timestamp(datetime.fromtimestamp(now, UTC)),
                    "progress": 0,
                }
            )
            .add("attempts", 1)
        )
        return await self._update(job_id, update, _claimable(update, now))

    async def renew(
        self,
        *,
        job_id: str,
        runner: str,
        lease_seconds: float,
        progress: int | None = None,
        now: float | None = None,
    ) -> bool:
        """Extend ``runner``'s lease (and record progress); False means the job is no longer ours."""
        now = time.time() if now is None else now
        attributes: dict[str, Any] = {"lease_expires_at": now + lease_seconds}
        if progress is not None:
            attributes["progress"] = max(0, min(100, progress))
        return await self._held_by(job_id, runner, _Update().set(attributes))

    async def release(self, *, job_id: str, runner: str) -> bool:
        """RUNNING by ``runner`` → QUEUED, so another worker can take it at once."""
        update = _Update().set({"status": JobStatus.QUEUED, "progress": 0})
        update.remove("runner", "lease_expires_at")
        return await self._held_by(job_id, runner, update)

    async def complete(
        self,
        *,
        job_id: str,
        runner: str,
        results_bucket: str,
        result_key: str,
        log_key: str,
        summary: Mapping[str, Any],
        provenance: Mapping[str, Any] | None,
        completed_at: str,
    ) -> bool:
        """RUNNING by ``runner`` → COMPLETED with its result AVAILABLE."""
        update = _Update().set(
            {
                "status": JobStatus.COMPLETED,
                "storage": StorageState.AVAILABLE,
                "progress": 100,
                "results_bucket": results_bucket,
                "result_key": result_key,
                "log_key": log_key,
                "summary": dict(summary),
                "provenance": dict(provenance) if provenance else None,
                "completed_at": completed_at,
                "error": None,
            }
        )
        update.remove("lease_expires_at")
        return await self._held_by(job_id, runner, update)

    async def fail_run(
        self,
        *,
        job_id: str,
        runner: str,
        error: str,
        failed_at: str,
        results_bucket: str | None = None,
        log_key: str | None = None,
    ) -> bool:
        """RUNNING by ``runner`` → FAILED (the input was refused; retrying cannot help)."""
        update = _Update().set(
            {
                "status": JobStatus.FAILED,
                "error": error,
                "completed_at": failed_at,
                "results_bucket": results_bucket,
                "log_key": log_key,
            }
        )
        update.remove("lease_expires_at")
        return await self._held_by(job_id, runner, update)

    async def fail_abandoned(self, *, job_id: str, error: str, now: float | None = None) -> bool:
        """QUEUED, or RUNNING with an expired lease → FAILED (its request kept failing)."""
        now = time.time() if now is None else now
        update = _Update().set(
            {
                "status": JobStatus.FAILED,
                "error": error,
                "completed_at": utc_timestamp(datetime.fromtimestamp(now, UTC)),
            }
        )
        update.remove("lease_expires_at")
        return await self._update(job_id, update, _claimable(update, now))

    async def mark_outcome_published(self, *, job_id: str) -> None:
        await self._set_flag(job_id, "outcome_published")

    # -- storage transitions (COMPLETED jobs) -------------------------------------------

    async def start_archiving(self, *, job_id: str, since: str | None = None) -> bool:
        """AVAILABLE → ARCHIVING, stamped with when (``since``, default now)."""
        stamp = {"archiving_since": since or utc_timestamp()}
        return await self._storage(job_id, StorageState.AVAILABLE, StorageState.ARCHIVING, stamp)

    async def mark_archived(self, *, job_id: str, extra: Mapping[str, Any] | None = None) -> bool:
        """ARCHIVING → ARCHIVED (the cold copy is verified; the hot copy may now go)."""
        return await self._storage(job_id, StorageState.ARCHIVING, StorageState.ARCHIVED, extra)

    async def cancel_archiving(
        self, *, job_id: str, extra: Mapping[str, Any] | None = None
    ) -> bool:
        """ARCHIVING → AVAILABLE (the user upgraded before the archive was committed)."""
        return await self._storage(job_id, StorageState.ARCHIVING, StorageState.AVAILABLE, extra)

    async def start_restoring(self, *, job_id: str, extra: Mapping[str, Any] | None = None) -> bool:
        """ARCHIVED → RESTORING."""
        return await self._storage(job_id, StorageState.ARCHIVED, StorageState.RESTORING, extra)

    async def mark_restored(self, *, job_id: str, extra: Mapping[str, Any] | None = None) -> bool:
        """RESTORING → AVAILABLE."""
        return await self._storage(job_id, StorageState.RESTORING, StorageState.AVAILABLE, extra)

    # -- plumbing -------------------------------------------------------------------------

    async def _storage(
        self,
        job_id: str,
        current: StorageState,
        new: StorageState,
        extra: Mapping[str, Any] | None,
    ) -> bool:
        update = _Update().set({**(extra or {}), "storage": new})
        condition = (
            f"{update.name('status')} = {update.value(JobStatus.COMPLETED)} AND "
            f"{update.name('storage')} = {update.value(current)}"
        )
        return await self._update(job_id, update, condition)

    async def _transition(
        self, job_id: str, update: _Update, *, status_in: tuple[JobStatus, ...]
    ) -> bool:
        status = update.name("status")
        condition = " OR ".join(f"{status} = {update.value(state)}" for state in status_in)
        return await self._update(job_id, update, condition)

    async def _held_by(self, job_id: str, runner: str, update: _Update) -> bool:
        condition = (
            f"{update.name('status')} = {update.value(JobStatus.RUNNING)} AND "
            f"{update.name('runner')} = {update.value(runner)}"
        )
        return await self._update(job_id, update, condition)

    async def _set_flag(self, job_id: str, flag: str) -> None:
        update = _Update().set({flag: True})
        await self._update(job_id, update, "attribute_exists(job_id)")

    async def _update(self, job_id: str, update: _Update, condition: str) -> bool:
        try:
            await self._dynamodb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=update.expression(),
                ConditionExpression=f"attribute_exists(job_id) AND ({condition})",
                ExpressionAttributeNames=update.names,
                ExpressionAttributeValues=update.values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

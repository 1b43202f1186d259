"""The job record: the one contract the jobs, annotator and archiver services share.

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
``input_key``          ``<user>/<job>/<filename>`` (:func:`job_file_key`, like every
                       object of a job in every bucket)
``build``              requested genome build (``GRCh37``/``GRCh38``) or absent = detect
``progress``           0-100, written by the annotator about once a second
``results_bucket``     results bucket (set on completion, or with the first upload of a
                       running job's log)
``result_key``         bgzipped annotated VCF in the results bucket
``log_key``            the run's text log in the results bucket (also for failed runs;
                       the annotator uploads it every few seconds while the job runs)
``columnar_key``       the result's columnar copy for the results viewer (Parquet,
                       ``anntools.columnar``) at :func:`columnar_key_for` of the result;
                       absent when the annotator could not write it, and for results made
                       before the viewer: the jobs service then rebuilds it from the VCF
                       at that same key
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
``restore_tier``       the S3 retrieval tier of the latest restore (``Expedited`` or
                       ``Standard``), set with ARCHIVED → RESTORING so users see how long
                       the wait is
``request_published``  JobRequested was published (submit retries re-publish until true)
``outcome_published``  JobCompleted/JobFailed was published (redeliveries re-publish
                       until true)
``upload_id``          S3 multipart upload id while a large input is being uploaded in
                       parts (removed on completion or abort)
``upload_part_bytes``  the part size of that upload (every part but the last)
``upload_fingerprint`` the client's fingerprint of the file (size, mtime, hashes of its
                       ends), so an interrupted upload can be found and resumed
``input_checksum``     what S3 reports for the completed input (``sha256:<base64>[-N]``,
                       composite of the parts' SHA-256 for a multipart upload), shown in
                       the job's provenance
=====================  ================================================================

Each service writes only the transitions it performs, through its own repository built on
:class:`JobTable`: ``gas_jobs.repository`` (create, queue, fail before a run, request
published), ``gas_annotator.repository`` (claim, lease, complete, fail, outcome published)
and ``gas_archiver.repository`` (``storage``). Every change of ``status`` or ``storage`` is a
conditional update on the current state; each transition says whether it happened
(``True``) or was refused because the record was not in the expected state (``False``).
DynamoDB numbers are converted to ``int``/``float`` here, so callers never see ``Decimal``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from gas_core.infra import JOBS_BY_USER_INDEX
from gas_core.tiers import Tier

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


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


def job_file_key(*, user_id: str, job_id: str, filename: str) -> str:
    """The S3 key of one of a job's files, in whichever bucket holds it: the input, the
    result and the log, and the result's archived copy."""
    return f"{user_id}/{job_id}/{filename}"


def columnar_key_for(result_key: str) -> str:
    """Where a result's columnar copy lives: ``<stem>.annot.parquet`` beside
    ``<stem>.annot.vcf.gz`` (the annotator writes it; the jobs service rebuilds it there)."""
    return f"{result_key.removesuffix('.vcf.gz')}.parquet"


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
    columnar_key: str | None = None
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
    restore_tier: str | None = None
    upload_id: str | None = None
    upload_part_bytes: int | None = None
    upload_fingerprint: str | None = None
    input_checksum: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED)

    def lease_live(self, now: float | None = None) -> bool:
        return (
            self.status is JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at > (time.time() if now is None else now)
        )


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


def attribute_value(value: Any) -> dict[str, Any]:
    """``value`` as a DynamoDB attribute value (``{"S": ...}``, ``{"N": ...}``, ...)."""
    return dict(_serializer.serialize(_to_dynamo(value)))


def record_to_item(job: JobRecord) -> dict[str, Any]:
    """The DynamoDB item of a record; absent fields are left out, not stored as null."""
    return {
        key: attribute_value(value)
        for key, value in job.model_dump(mode="json").items()
        if value is not None
    }


def record_from_item(item: Mapping[str, Any]) -> JobRecord:
    plain = {key: _from_dynamo(_deserializer.deserialize(raw)) for key, raw in item.items()}
    return JobRecord.model_validate(plain)


class ConditionalUpdate:
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
        self.values[placeholder] = attribute_value(value)
        return placeholder

    def set(self, attributes: Mapping[str, Any]) -> ConditionalUpdate:
        for attribute, value in attributes.items():
            if value is None:
                self.removes.append(self.name(attribute))
            else:
                self.sets.append(f"{self.name(attribute)} = {self.value(value)}")
        return self

    def remove(self, *attributes: str) -> ConditionalUpdate:
        self.removes.extend(self.name(attribute) for attribute in attributes)
        return self

    def add(self, attribute: str, amount: int) -> ConditionalUpdate:
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


# A page of a query or scan (its output TypedDict).
Page = TypeVar("Page", bound=Mapping[str, Any])


class JobTable:
    """What every service's job repository does the same way: read a record, page through
    a query or scan, and apply a conditional update."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    async def get(self, job_id: str) -> JobRecord | None:
        response = await self._dynamodb.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return record_from_item(item) if item else None

    def _user_query(self, *, user_id: str, status: JobStatus | None) -> dict[str, Any]:
        """A query of one user's jobs, newest first (GSI ``by-user``), optionally of one status."""
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

    @staticmethod
    async def _pages(
        operation: Callable[..., Awaitable[Page]], request: dict[str, Any]
    ) -> AsyncIterator[Page]:
        """Every page of a query or scan, following ``LastEvaluatedKey``."""
        while True:
            response = await operation(**request)
            yield response
            start = response.get("LastEvaluatedKey")
            if not start:
                return
            request = {**request, "ExclusiveStartKey": start}

    async def _apply(self, job_id: str, update: ConditionalUpdate, condition: str) -> bool:
        """Apply ``update`` if the job exists and ``condition`` holds; False if it did not."""
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

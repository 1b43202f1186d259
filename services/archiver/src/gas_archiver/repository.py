"""The archiver's reads and writes of job records: the ``storage`` state of COMPLETED jobs
(AVAILABLE → ARCHIVING → ARCHIVED → RESTORING → AVAILABLE, ARCHIVING → AVAILABLE cancels an
archive) and the scans its periodic pass makes. The record itself is the contract in
:mod:`gas_core.jobs`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from gas_core.jobs import (
    ConditionalUpdate,
    JobRecord,
    JobStatus,
    JobTable,
    StorageState,
    record_from_item,
    utc_timestamp,
)

# Jobs read per page when going through all of a user's results.
USER_PAGE_SIZE = 100


class StorageRepository(JobTable):
    async def completed_for_user(self, user_id: str) -> AsyncIterator[JobRecord]:
        """Every COMPLETED job of the user, newest first."""
        request = {
            **self._user_query(user_id=user_id, status=JobStatus.COMPLETED),
            "Limit": USER_PAGE_SIZE,
        }
        async for page in self._pages(self._dynamodb.query, request):
            for item in page.get("Items", []):
                yield record_from_item(item)

    async def restoring_job_ids(self) -> list[str]:
        """Jobs whose result is being restored from cold storage."""
        return await self._scan_ids("#storage = :state", {":state": StorageState.RESTORING})

    async def stalled_archive_job_ids(self, *, started_before: str) -> list[str]:
        """Jobs still ARCHIVING although their archive started before ``started_before``."""
        return await self._scan_ids(
            "#storage = :state AND archiving_since < :cutoff",
            {":state": StorageState.ARCHIVING, ":cutoff": started_before},
        )

    async def start_archiving(self, *, job_id: str, since: str | None = None) -> bool:
        """AVAILABLE → ARCHIVING, stamped with when (``since``, default now)."""
        stamp = {"archiving_since": since or utc_timestamp()}
        return await self._storage(job_id, StorageState.AVAILABLE, StorageState.ARCHIVING, stamp)

    async def mark_archived(self, *, job_id: str) -> bool:
        """ARCHIVING → ARCHIVED (the cold copy is verified; the hot copy may now go)."""
        return await self._storage(job_id, StorageState.ARCHIVING, StorageState.ARCHIVED)

    async def cancel_archiving(self, *, job_id: str) -> bool:
        """ARCHIVING → AVAILABLE (the user upgraded before the archive was committed)."""
        return await self._storage(job_id, StorageState.ARCHIVING, StorageState.AVAILABLE)

    async def start_restoring(self, *, job_id: str, tier: str | None = None) -> bool:
        """ARCHIVED → RESTORING, noting the retrieval ``tier`` asked of S3 (when known)."""
        stamp = {"restore_tier": tier} if tier else None
        return await self._storage(job_id, StorageState.ARCHIVED, StorageState.RESTORING, stamp)

    async def mark_restored(self, *, job_id: str) -> bool:
        """RESTORING → AVAILABLE."""
        return await self._storage(job_id, StorageState.RESTORING, StorageState.AVAILABLE)

    async def _storage(
        self,
        job_id: str,
        current: StorageState,
        new: StorageState,
        extra: Mapping[str, Any] | None = None,
    ) -> bool:
        update = ConditionalUpdate().set({**(extra or {}), "storage": new})
        condition = (
            f"{update.name('status')} = {update.value(JobStatus.COMPLETED)} AND "
            f"{update.name('storage')} = {update.value(current)}"
        )
        return await self._apply(job_id, update, condition)

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

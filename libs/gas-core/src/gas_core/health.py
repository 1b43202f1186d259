"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(checks: Mapping[str, ReadinessCheck], *, timeout: float = 3.0) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        responses={
            200: {"description": "Every check passed: send traffic"},
            503: {"description": "A check failed: which, and its error"},
        },
    )
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(
            *(_run_check(check, timeout_seconds=timeout) for check in checks.values())
        )
        report = dict(zip(checks, results, strict=True))
        ready = all(result == "ok" for result in results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report},
            status_code=200 if ready else 503,
        )

    return router


async def _run_check(check: ReadinessCheck, *, timeout_seconds: float) -> str:
    try:
        async with asyncio.timeout(timeout_seconds):
            await check()
    except Exception as error:  # a readiness probe reports, it does not raise
        return f"error: {type(error).__name__}: {error}"[:300]
    return "ok"


def queue_check(sqs: SQSClient, queue_name: str) -> ReadinessCheck:
    async def check() -> object:
        return await sqs.get_queue_url(QueueName=queue_name)

    return check


def table_check(dynamodb: DynamoDBClient, table_name: str) -> ReadinessCheck:
    async def check() -> object:
        return await dynamodb.describe_table(TableName=table_name)

    return check


def bucket_check(s3: S3Client, bucket: str) -> ReadinessCheck:
    async def check() -> object:
        return await s3.head_bucket(Bucket=bucket)

    return check

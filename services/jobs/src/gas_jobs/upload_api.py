"""HTTP routes of uploads in parts (``/jobs/{id}/upload...``); see :mod:`gas_jobs.multipart`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from gas_jobs import multipart, service
from gas_jobs.api import NO_SUCH_JOB, NOT_JSON, Responses, answers
from gas_jobs.deps import CurrentUser, JobsDep
from gas_jobs.models import (
    JobPublic,
    MultipartPlan,
    PartUrlPublic,
    PartUrls,
    PartUrlsRequest,
    UploadedPart,
    UploadedParts,
)

router = APIRouter(
    prefix="/jobs/{job_id}/upload",
    tags=["uploads"],
    responses={401: answers("No valid internal token: call this API through the gateway")},
)

NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "No such job.")
NO_UPLOAD: Responses = {
    **NO_SUCH_JOB,
    409: answers("The job has no upload in parts in progress: why"),
}
# FastAPI's validation errors, or a part list that does not fit the upload's plan (why).
BAD_PARTS: dict[str, Any] = {
    "description": "The body is not valid, or its parts do not fit the upload: which and why",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/HTTPValidationError"},
                    {"$ref": "#/components/schemas/Problem"},
                ]
            }
        }
    },
}


@router.post(
    "/parts",
    summary="Presigned URLs for parts of the file",
    responses={**NO_UPLOAD, **NOT_JSON, 422: BAD_PARTS},
)
async def part_urls(
    job_id: str, body: PartUrlsRequest, user: CurrentUser, jobs: JobsDep
) -> PartUrls:
    try:
        urls = await multipart.part_urls(
            jobs,
            user=user,
            job_id=job_id,
            parts=[(part.number, part.sha256) for part in body.parts],
        )
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except multipart.UploadNotMultipart as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except multipart.BadPartRequest as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from error
    return PartUrls(
        parts=[PartUrlPublic(number=u.number, url=u.url, headers=u.headers) for u in urls],
        expires_in=jobs.upload_url_seconds,
    )


@router.get("/parts", summary="The parts S3 already holds", responses=NO_UPLOAD)
async def uploaded_parts(job_id: str, user: CurrentUser, jobs: JobsDep) -> UploadedParts:
    try:
        job, parts = await multipart.uploaded_parts(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except multipart.UploadNotMultipart as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    plan = MultipartPlan.of(job)
    assert plan is not None
    return UploadedParts(
        upload=plan,
        parts=[UploadedPart(number=p.number, size=p.size, sha256=p.sha256) for p in parts],
    )


@router.post(
    "/complete",
    summary="Join the uploaded parts into the input (then submit the job)",
    responses={
        **NO_UPLOAD,
        409: answers("Parts are missing (which), or no upload in progress"),
        413: answers("The file is over the tier's limit: it is deleted, the job failed"),
    },
)
async def complete_upload(job_id: str, user: CurrentUser, jobs: JobsDep) -> JobPublic:
    try:
        job = await multipart.complete_upload(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except (multipart.UploadNotMultipart, multipart.PartsMissing) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except service.InputTooLarge as error:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(error)) from error
    return JobPublic.from_record(job)


@router.delete("", summary="Cancel the upload (its parts are deleted)", responses=NO_UPLOAD)
async def abort_upload(job_id: str, user: CurrentUser, jobs: JobsDep) -> JobPublic:
    try:
        job = await multipart.abort_upload(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except multipart.UploadNotMultipart as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return JobPublic.from_record(job)

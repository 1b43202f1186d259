"""HTTP routes of the job API; the gateway forwards ``/api/jobs...`` here unchanged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import PlainTextResponse

from gas_core.jobs import JobStatus
from gas_jobs import service
from gas_jobs.deps import CurrentUser, JobsDep
from gas_jobs.models import JobCreate, JobCreated, JobPublic, JobsPublic, ResultLink, UploadForm
from gas_jobs.repository import InvalidCursor

router = APIRouter(prefix="/jobs", tags=["jobs"])

NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "No such job.")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_job(body: JobCreate, user: CurrentUser, jobs: JobsDep) -> JobCreated:
    try:
        job, upload = await service.create_job(
            jobs, user=user, filename=body.filename, size_bytes=body.size_bytes, build=body.build
        )
    except service.InputTooLarge as error:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(error)) from error
    return JobCreated(
        job=JobPublic.from_record(job),
        upload=UploadForm(url=upload.url, fields=upload.fields, expires_in=jobs.upload_url_seconds),
    )


@router.post("/{job_id}/submit")
async def submit_job(job_id: str, user: CurrentUser, jobs: JobsDep) -> JobPublic:
    try:
        job = await service.submit_job(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.InputTooLarge as error:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(error)) from error
    except service.InputMissing as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except service.InputNotVcf as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from error
    return JobPublic.from_record(job, queue_position=await service.queue_position(jobs, job=job))


@router.get("")
async def list_jobs(
    user: CurrentUser,
    jobs: JobsDep,
    job_status: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> JobsPublic:
    try:
        page, count = await service.list_jobs(
            jobs, user=user, status=job_status, limit=limit, cursor=cursor
        )
    except InvalidCursor as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    return JobsPublic(
        data=[JobPublic.from_record(job) for job in page.items],
        count=count,
        next=page.next_cursor,
    )


@router.get("/{job_id}")
async def get_job(job_id: str, user: CurrentUser, jobs: JobsDep) -> JobPublic:
    try:
        job = await service.get_job(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    return JobPublic.from_record(job, queue_position=await service.queue_position(jobs, job=job))


@router.get("/{job_id}/log", response_class=PlainTextResponse)
async def get_log(job_id: str, user: CurrentUser, jobs: JobsDep) -> str:
    try:
        return await service.job_log(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.LogUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error


@router.get("/{job_id}/result")
async def get_result(job_id: str, user: CurrentUser, jobs: JobsDep) -> ResultLink:
    try:
        url, filename = await service.result_link(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.ResultUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return ResultLink(url=url, expires_in=jobs.download_url_seconds, filename=filename)

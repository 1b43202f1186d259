"""HTTP routes of the job API; the gateway forwards ``/api/jobs...`` here unchanged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from gas_core.jobs import JobStatus
from gas_jobs import live, service
from gas_jobs.deps import CurrentUser, JobsDep, VariantQuery
from gas_jobs.models import (
    JobCreate,
    JobCreated,
    JobPublic,
    JobsPublic,
    Problem,
    ResultLink,
    UploadForm,
    VariantPublic,
    VariantsPublic,
)
from gas_jobs.repository import InvalidCursor
from gas_jobs.variants import ExportFormat, SortKey

NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "No such job.")

Responses = dict[int | str, dict[str, Any]]


def answers(description: str) -> dict[str, Any]:
    """A documented error answer: ``{"detail": <what was wrong and what to do>}``."""
    return {"description": description, "model": Problem}


PROBLEM_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
NO_SUCH_JOB: Responses = {404: answers("No such job (or not yours)")}
UNAVAILABLE: Responses = {
    **NO_SUCH_JOB,
    409: answers("No result to show now (not completed, archived or restoring): why"),
}
# FastAPI's own 422 answer (its HTTPValidationError), with the filters' cross-field rule added.
INVALID_FILTER: dict[str, Any] = {
    "description": "A parameter is not valid, or the range's start is after its end",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
NOT_JSON: Responses = {400: answers("The body is not JSON")}

router = APIRouter(
    prefix="/jobs",
    tags=["jobs"],
    responses={401: answers("No valid internal token: call this API through the gateway")},
)
EXPORT_MEDIA_TYPES = {
    ExportFormat.VCF: "text/plain; charset=utf-8",
    ExportFormat.TSV: "text/tab-separated-values; charset=utf-8",
    ExportFormat.JSON: "application/json",
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **NOT_JSON,
        413: answers("The file is over the account's size limit (free: offers the upgrade)"),
    },
)
async def create_job(body: JobCreate, user: CurrentUser, jobs: JobsDep) -> JobCreated:
    try:
        job, upload = await service.create_job(
            jobs,
            user=user,
            filename=body.filename,
            size_bytes=body.size_bytes,
            build=body.build,
            force_build=body.force_build,
            fingerprint=body.fingerprint,
        )
    except service.InputTooLarge as error:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(error)) from error
    return JobCreated(
        job=JobPublic.from_record(job),
        upload=(
            UploadForm(url=upload.url, fields=upload.fields, expires_in=jobs.upload_url_seconds)
            if upload
            else None
        ),
    )


@router.post(
    "/{job_id}/submit",
    responses={
        **NO_SUCH_JOB,
        409: answers("The file has not been uploaded yet: upload it, then submit again"),
        413: answers("The uploaded file is over the account's size limit"),
        422: answers(
            "The uploaded file is not a VCF, or its genome build is NCBI36, fits no build or "
            "contradicts the chosen one: what is wrong and what to do"
        ),
    },
)
async def submit_job(job_id: str, user: CurrentUser, jobs: JobsDep) -> JobPublic:
    try:
        job = await service.submit_job(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.InputTooLarge as error:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(error)) from error
    except service.InputMissing as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except (service.InputNotVcf, service.WrongBuild) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from error
    return JobPublic.from_record(job, queue_position=await service.queue_position(jobs, job=job))


@router.get("", responses={400: answers("The cursor is not one this API gave out")})
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


@router.get("/{job_id}", responses=NO_SUCH_JOB)
async def get_job(job_id: str, user: CurrentUser, jobs: JobsDep) -> JobPublic:
    try:
        job = await service.get_job(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    return JobPublic.from_record(job, queue_position=await service.queue_position(jobs, job=job))


@router.get(
    "/{job_id}/log",
    response_class=PlainTextResponse,
    # The log is text, its errors JSON: spelled out, as FastAPI gives a model the route's type.
    responses={
        401: {"description": "No valid internal token", "content": PROBLEM_JSON},
        404: {"description": "No such job (or not yours)", "content": PROBLEM_JSON},
        409: {"description": "No log yet: the run has not finished", "content": PROBLEM_JSON},
    },
)
async def get_log(job_id: str, user: CurrentUser, jobs: JobsDep) -> str:
    try:
        return await service.job_log(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.LogUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error


@router.get("/{job_id}/result", responses=UNAVAILABLE)
async def get_result(job_id: str, user: CurrentUser, jobs: JobsDep) -> ResultLink:
    try:
        url, filename = await service.result_link(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.ResultUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return ResultLink(url=url, expires_in=jobs.download_url_seconds, filename=filename)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    summary="Live status, progress and queue position (Server-Sent Events)",
    description=(
        "A `text/event-stream`: an `event: job` whose data is the job (as in GET /jobs/{id}) "
        "whenever its status, progress, queue position or storage changes, a `: ping` comment "
        "every ~15 s while nothing does, and the end of the stream once the job has finished."
    ),
    responses={
        200: {
            "description": "The event stream",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "description": "One event of the stream: its data is the job as JSON",
                        "type": "object",
                        "properties": {
                            "event": {"const": "job"},
                            "data": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "contentSchema": {"$ref": "#/components/schemas/JobPublic"},
                            },
                        },
                    }
                }
            },
        },
        **NO_SUCH_JOB,
    },
)
async def job_events(job_id: str, user: CurrentUser, jobs: JobsDep) -> StreamingResponse:
    try:
        job = await service.get_job(jobs, user=user, job_id=job_id)
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    return StreamingResponse(
        live.job_events(jobs, job),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{job_id}/variants",
    summary="The result's annotated variants: filtered, sorted, one page",
    responses={**UNAVAILABLE, 422: INVALID_FILTER},
)
async def list_variants(
    job_id: str,
    user: CurrentUser,
    jobs: JobsDep,
    where: VariantQuery,
    sort: SortKey = SortKey.POSITION,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> VariantsPublic:
    try:
        page = await service.variants_page(
            jobs, user=user, job_id=job_id, where=where, sort=sort, limit=limit, offset=offset
        )
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.ResultUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return VariantsPublic(
        data=[VariantPublic.model_validate(row) for row in page.rows], count=page.count
    )


@router.get(
    "/{job_id}/variants/export",
    response_class=StreamingResponse,
    summary="Download the variants that match the filters (VCF, TSV or JSON)",
    description=(
        "Every matching variant (no paging), streamed. VCF: the header and the matching "
        "records exactly as in the annotated VCF, in file order; TSV and JSON: the columns "
        "of GET /variants, in the requested sort order."
    ),
    responses={
        200: {
            "description": "The file (Content-Disposition names it)",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "text/tab-separated-values": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/VariantPublic"},
                    }
                },
            },
        },
        **UNAVAILABLE,
        422: INVALID_FILTER,
    },
)
async def export_variants(
    job_id: str,
    user: CurrentUser,
    jobs: JobsDep,
    where: VariantQuery,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.VCF,
    sort: SortKey = SortKey.POSITION,
) -> StreamingResponse:
    try:
        filename, pieces = await service.variants_export(
            jobs, user=user, job_id=job_id, where=where, sort=sort, fmt=fmt
        )
    except service.JobNotFound as error:
        raise NOT_FOUND from error
    except service.ResultUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return StreamingResponse(
        pieces,
        media_type=EXPORT_MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

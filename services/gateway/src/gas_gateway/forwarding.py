"""Forwarding ``/api/jobs...`` to the jobs service, streaming both ways."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gas_core.tracing import inject

log = logging.getLogger(__name__)

REQUEST_HEADERS = ("accept", "accept-encoding", "content-type", "content-length", "x-request-id")
RESPONSE_HEADERS = (
    "allow",  # a 405's list of the methods the path takes
    "content-type",
    "content-encoding",
    "content-length",
    "content-disposition",
    "cache-control",
    "etag",
    "last-modified",
    "retry-after",
    "x-request-id",
)


def upstream_path(path: str) -> str | None:
    """``path`` with each segment escaped; None if it tries to leave ``/jobs``."""
    segments = [segment for segment in path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        return None
    return "".join(f"/{quote(segment, safe='')}" for segment in segments)


async def forward_to_jobs(
    request: Request, *, http: httpx.AsyncClient, jobs_url: str, path: str, internal_token: str
) -> Response:
    suffix = upstream_path(path)
    if suffix is None:
        return JSONResponse({"detail": "no such job path"}, status_code=404)
    headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
    headers["authorization"] = f"Bearer {internal_token}"
    inject(headers)  # the jobs service continues this request's trace
    # The body is relayed as the jobs service encoded it, so only ask for what the client takes.
    headers.setdefault("accept-encoding", "identity")
    has_body = "content-length" in headers or "transfer-encoding" in request.headers
    upstream_request = http.build_request(
        request.method,
        f"{jobs_url.rstrip('/')}/jobs{suffix}",
        params=request.url.query,
        headers=headers,
        content=request.stream() if has_body else None,
    )
    try:
        upstream = await http.send(upstream_request, stream=True)
    except httpx.HTTPError as error:
        log.warning("jobs service unreachable: %s", error)
        return JSONResponse(
            {"detail": "the jobs service is not answering; try again in a minute"},
            status_code=502,
        )
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers={
            name: upstream.headers[name] for name in RESPONSE_HEADERS if name in upstream.headers
        },
        background=BackgroundTask(upstream.aclose),
    )

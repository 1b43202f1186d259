"""The public OpenAPI document: the gateway's own routes plus the jobs service's, as the
gateway publishes them under ``/api``.

The gateway forwards ``/api/jobs...`` to the jobs service through two catch-all routes, so
its own schema knows nothing of the jobs API's bodies and answers. Rather than repeat
those schemas here (two sources that would drift), the gateway fetches the jobs service's
``/openapi.json`` (at start and then every minute) and merges it in: each ``/jobs...`` path
becomes ``/api/jobs...`` with the gateway's security (session cookie or API token) and its
401, the jobs schemas join the components (renamed ``Jobs<Name>`` only if a name clashes),
and the catch-alls leave the document. While the jobs service has not answered yet, the
catch-alls stay, so the document is never missing the jobs routes altogether.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

log = logging.getLogger(__name__)

CATCH_ALL_PATHS = ("/api/jobs", "/api/jobs/{path}")
REFRESH_SECONDS = 60.0
SCHEMA_REF = "#/components/schemas/"
UNAUTHORIZED = {"description": "Not signed in: no valid session cookie or API token"}


class JobsOpenApi:
    """The latest OpenAPI document the jobs service served (None until it answers)."""

    def __init__(self, http: httpx.AsyncClient, jobs_url: str) -> None:
        self._http = http
        self._url = f"{jobs_url.rstrip('/')}/openapi.json"
        self.document: dict[str, Any] | None = None

    async def refresh(self) -> None:
        try:
            response = await self._http.get(self._url, timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError as error:
            log.warning("the jobs service's OpenAPI is not available (%s); keeping the last", error)
            return
        self.document = response.json()


def public_openapi(app: FastAPI, jobs: JobsOpenApi) -> Callable[[], dict[str, Any]]:
    """What ``app.openapi`` should be: the gateway's document merged with the jobs API's,
    recomputed only when the jobs document changed."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        document = jobs.document
        if cache.get("source") is not document or "merged" not in cache:
            own = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            cache["merged"] = merge(own, document) if document else own
            cache["source"] = document
        merged: dict[str, Any] = cache["merged"]
        return merged

    return openapi


def merge(gateway: dict[str, Any], jobs: dict[str, Any]) -> dict[str, Any]:
    """``gateway``'s document with ``jobs``'s ``/jobs...`` paths published under ``/api``."""
    merged = copy.deepcopy(gateway)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    forwarded = paths.get(CATCH_ALL_PATHS[0], {})
    security = next((op["security"] for op in forwarded.values() if op.get("security")), None)
    for path in CATCH_ALL_PATHS:
        paths.pop(path, None)

    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    theirs: dict[str, Any] = jobs.get("components", {}).get("schemas", {})
    renames = {
        name: f"Jobs{name}"
        for name, schema in theirs.items()
        if schemas.get(name, schema) != schema
    }
    jobs = _with_refs_renamed(jobs, renames)
    for name, schema in jobs.get("components", {}).get("schemas", {}).items():
        schemas[renames.get(name, name)] = schema

    for path, item in jobs.get("paths", {}).items():
        if not (path == "/jobs" or path.startswith("/jobs/")):
            continue
        published = {}
        for method, operation in item.items():
            operation = dict(operation)
            if security:
                operation["security"] = security
            operation["responses"] = {"401": UNAUTHORIZED, **operation.get("responses", {})}
            published[method] = operation
        paths[f"/api{path}"] = published
    return merged


def _with_refs_renamed(document: Any, renames: dict[str, str]) -> Any:
    if not renames:
        return document
    if isinstance(document, dict):
        renamed = {key: _with_refs_renamed(value, renames) for key, value in document.items()}
        ref = renamed.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            name = ref.removeprefix(SCHEMA_REF)
            renamed["$ref"] = SCHEMA_REF + renames.get(name, name)
        return renamed
    if isinstance(document, list):
        return [_with_refs_renamed(value, renames) for value in document]
    return document

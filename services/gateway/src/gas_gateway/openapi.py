"""The public OpenAPI document: the gateway's own routes plus the jobs service's, as the
gateway publishes them under ``/api``, with what the gateway itself may answer on each.

The gateway forwards ``/api/jobs...`` to the jobs service through two catch-all routes (left
out of the document), so its own schema knows nothing of the jobs API's bodies and answers.
Rather than repeat those schemas here (two sources that would drift), the gateway fetches the
jobs service's ``/openapi.json`` (at start and then every minute; at once when the document is
asked for before the jobs service has answered) and merges it in: each ``/jobs...`` path
becomes ``/api/jobs...`` with the gateway's security (session cookie or API token), and the
jobs schemas join the components (renamed ``Jobs<Name>`` only if a name clashes).

Every operation then gets the answers the edge and the gateway add in front of any route:
``429`` (rate limit, with ``Retry-After``) under ``/api`` and ``/auth``; ``401`` where a caller
must be signed in; ``503`` (the account database is down) there and under ``/auth``; ``502``
where the gateway forwards to the jobs service.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

log = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0
SCHEMA_REF = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RATE_LIMITED_PREFIXES = ("/api/", "/auth/")
PROBLEM_SCHEMA = {
    "title": "Problem",
    "description": "An error answer: what was wrong and what to do.",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "title": "Detail"}},
}
PROBLEM = {"application/json": {"schema": {"$ref": f"{SCHEMA_REF}Problem"}}}
TOO_MANY_REQUESTS = {
    "description": "Over the rate limit of this token, session or address: wait Retry-After s",
    "headers": {
        "Retry-After": {
            "description": "seconds until the next window",
            "required": True,
            "schema": {"type": "integer"},
        }
    },
    "content": PROBLEM,
}
UNAUTHORIZED = {
    "description": "Not signed in: no valid session cookie or API token",
    "content": PROBLEM,
}
DATABASE_DOWN = {
    "description": "The account database is not answering: try again in a minute",
    "headers": {"Retry-After": {"required": True, "schema": {"type": "integer"}}},
    "content": PROBLEM,
}
JOBS_DOWN = {
    "description": "The jobs service is not answering: try again in a minute",
    "content": PROBLEM,
}


class JobsOpenApi:
    """The latest OpenAPI document the jobs service served (None until it answers)."""

    def __init__(self, http: httpx.AsyncClient, jobs_url: str) -> None:
        self._http = http
        self._url = f"{jobs_url.rstrip('/')}/openapi.json"
        self.document: dict[str, Any] | None = None
        self._pending: asyncio.Task[None] | None = None

    def refresh_soon(self) -> None:
        """Ask for the document in the background (from a request, which cannot wait)."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self.refresh())

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
        if document is None:
            jobs.refresh_soon()
        if cache.get("source") is not document or "merged" not in cache:
            own = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            cache["merged"] = with_edge_answers(merge(own, document) if document else own)
            cache["source"] = document
        merged: dict[str, Any] = cache["merged"]
        return merged

    return openapi


def merge(gateway: dict[str, Any], jobs: dict[str, Any]) -> dict[str, Any]:
    """``gateway``'s document with ``jobs``'s ``/jobs...`` paths published under ``/api``."""
    merged = copy.deepcopy(gateway)
    paths: dict[str, Any] = merged.setdefault("paths", {})
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
        if path == "/jobs" or path.startswith("/jobs/"):
            paths[f"/api{path}"] = {
                method: {**operation, "x-gas-forwarded": True} for method, operation in item.items()
            }
    return merged


def with_edge_answers(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the answers the gateway gives before (or instead of) any route's."""
    signed_in: list[dict[str, list[str]]] = [
        {name: []} for name in document.get("components", {}).get("securitySchemes", {})
    ]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            forwarded = operation.pop("x-gas-forwarded", False)
            if forwarded:
                # The caller signs in at the gateway, never with the jobs service's own token.
                responses.pop("401", None)
                if signed_in:
                    operation["security"] = signed_in
            if path.startswith(RATE_LIMITED_PREFIXES):
                responses.setdefault("429", TOO_MANY_REQUESTS)
            if operation.get("security"):
                responses.setdefault("401", UNAUTHORIZED)
            if operation.get("security") or path.startswith("/auth/"):
                responses.setdefault("503", DATABASE_DOWN)
            if forwarded:
                responses.setdefault("502", JOBS_DOWN)
    return document


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

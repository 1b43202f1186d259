"""``405 Method Not Allowed`` with an ``Allow`` header that lists every method the path takes.

Starlette answers a method a path does not take with the methods of the first route whose path
matched, but FastAPI declares one route per operation: ``GET /jobs`` and ``POST /jobs`` are two
routes, so its ``Allow`` named only one of them. RFC 9110 (and clients that retry with an
allowed method) want them all.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """The methods for which some route takes the request's path."""
    scope = {key: value for key, value in request.scope.items() if key != "fastapi"}

    def taken(method: str) -> bool:
        return any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )

    return [method for method in METHODS if taken(method)]


async def method_not_allowed(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if methods := allowed_methods(request):
        headers["Allow"] = ", ".join(methods)
    return JSONResponse({"detail": error.detail}, status_code=405, headers=headers)


def install_allow(app: FastAPI) -> None:
    app.add_exception_handler(405, method_not_allowed)

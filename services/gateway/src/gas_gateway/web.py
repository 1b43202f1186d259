"""The web app: the built SPA (services/web/dist) served at ``/`` with its security headers,
``GET /api/config``, what the app needs to know about this deployment before it asks for a job,
and ``/api/docs`` with Swagger UI's files from the same build (no CDN).

Every GET or HEAD outside the backend's prefixes is the app's: a file of the build when one
exists, otherwise ``index.html``, so the app's own routes (``/jobs/<id>`` from the mails,
``/account`` ...) open on a reload or a fresh tab, signed in or not. This runs as a middleware,
ahead of routing, so it answers the same whatever order the routers are included in.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gas_gateway.deps import SettingsDep
from gas_gateway.settings import Settings

BACKEND_PREFIXES = ("/api/", "/auth/", "/internal/")
BACKEND_PATHS = frozenset({"/api", "/auth", "/internal", "/healthz", "/readyz", "/metrics"})
ASSET_CACHE = "public, max-age=31536000, immutable"  # Vite puts a content hash in each name

config_router = APIRouter(prefix="/api", tags=["web app"])


class WebConfig(BaseModel):
    free_size_limit_bytes: int = Field(description="largest input a free account may upload")
    free_window_seconds: int = Field(
        description="how long a free result stays downloadable before it moves to cold storage"
    )


@config_router.get("/config", summary="Limits the web app shows before an upload")
async def web_config(settings: SettingsDep) -> WebConfig:
    return WebConfig(
        free_size_limit_bytes=settings.stack.free_size_limit_bytes,
        free_window_seconds=settings.stack.free_window_seconds,
    )


docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/api/docs")
async def api_docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="GAS API",
        swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/favicon.svg",
    )


def upload_origins(settings: Settings) -> list[str]:
    """Where the browser POSTs uploads (the presigned S3 form): the only other origin it calls."""
    if settings.web_upload_origins is not None:
        return settings.web_upload_origins
    if settings.aws.endpoint_url:
        parts = urlsplit(settings.aws.endpoint_url)
        return [f"{parts.scheme}://{parts.netloc}"]
    region = settings.aws.region
    return [f"https://s3.{region}.amazonaws.com", f"https://*.s3.{region}.amazonaws.com"]


def security_headers(settings: Settings) -> dict[str, str]:
    """Only the app's own files run or style the page; nothing may frame it."""
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src " + " ".join(["'self'", *upload_origins(settings)]),
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def is_backend_path(path: str) -> bool:
    return path in BACKEND_PATHS or path.startswith(BACKEND_PREFIXES)


class WebApp:
    """ASGI middleware answering the SPA's GETs from ``dist``; everything else goes on."""

    def __init__(self, app: ASGIApp, *, dist: Path, headers: dict[str, str]) -> None:
        self.app = app
        self.dist = dist.resolve()
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or is_backend_path(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        response = self.page(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        await response(scope, receive, send_with_headers)

    def page(self, path: str) -> Response:
        index = self.dist / "index.html"
        if not index.is_file():
            return HTMLResponse(
                "<!DOCTYPE html><title>GAS</title><h1>The web app is not built</h1>"
                "<p>Run <code>npm run build</code> in services/web (<code>make bootstrap</code> "
                "installs its packages), or use the API at <a href='/api/docs'>/api/docs</a>.</p>",
                status_code=503,
            )
        wanted = (self.dist / path.lstrip("/")).resolve()
        if wanted != self.dist and wanted.is_relative_to(self.dist) and wanted.is_file():
            cache = ASSET_CACHE if wanted.parent.name == "assets" else "no-cache"
            media_type = mimetypes.guess_type(wanted.name)[0] or "application/octet-stream"
            return FileResponse(wanted, media_type=media_type, headers={"Cache-Control": cache})
        if Path(path).suffix:  # a missing file, not a page of the app
            return PlainTextResponse("Not found", status_code=404)
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the web app, its config route and the API docs on ``app`` (created with
    ``docs_url=None``)."""
    app.include_router(config_router)
    app.include_router(docs_router)
    app.add_middleware(WebApp, dist=settings.web_dist, headers=security_headers(settings))

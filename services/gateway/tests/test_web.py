"""The gateway serving the web app: which paths are the app's, its headers, its config route.
Runs the real gateway app in-process on a small build folder (no database is touched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gas_core.service import add_operations
from gas_gateway.main import create_app
from gas_gateway.settings import Settings

INDEX = "<!doctype html><title>GAS</title><div id=root></div>"


def client_for(dist: Path, **settings: object) -> TestClient:
    app = create_app(
        Settings(web_dist=dist, **settings),  # type: ignore[arg-type]
        pool=None,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        outbox=None,  # type: ignore[arg-type]
    )
    add_operations(app, {})  # as run_service does: /healthz, /readyz, /metrics
    return TestClient(app)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('app')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs/0123abcd", "/account", "/submit"])
def test_every_route_of_the_app_opens_the_app_with_its_security_headers(
    dist: Path, path: str
) -> None:
    response = client_for(dist).get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_uploads_to_the_storage_endpoint_are_allowed_and_nothing_else(dist: Path) -> None:
    client = client_for(dist, aws={"endpoint_url": "http://127.0.0.1:4566/"})
    policy = client.get("/jobs").headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:4566;" in policy


def test_built_files_are_served_and_hashed_assets_cached_for_good(dist: Path) -> None:
    client = client_for(dist)
    script = client.get("/assets/index-abc123.js")
    assert script.status_code == 200 and script.text == "console.log('app')"
    assert "javascript" in script.headers["content-type"]
    assert "immutable" in script.headers["cache-control"]
    assert client.get("/favicon.svg").headers["content-type"].startswith("image/svg")


@pytest.mark.parametrize(
    "path", ["/assets/missing.js", "/..%2fsecret.txt", "/assets/../../secret.txt"]
)
def test_missing_files_and_paths_out_of_the_build_are_not_found(dist: Path, path: str) -> None:
    response = client_for(dist).get(path)
    assert response.status_code == 404
    assert "not for the web" not in response.text


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/nothing-here", 404), ("/auth/nothing-here", 404), ("/healthz", 200), ("/readyz", 200)],
)
def test_the_backend_paths_are_left_to_the_backend(dist: Path, path: str, status: int) -> None:
    response = client_for(dist).get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    # the edge's CSP for JSON answers, not the web app's page policy
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


def test_without_a_build_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    response = client_for(tmp_path / "missing").get("/jobs")
    assert response.status_code == 503
    assert "npm run build" in response.text


def test_the_app_learns_the_free_limit_and_window(dist: Path) -> None:
    response = client_for(dist).get("/api/config")
    assert response.json() == {"free_size_limit_bytes": 150 * 1024, "free_window_seconds": 600}


def test_the_api_docs_load_swagger_ui_from_the_gateway_itself(dist: Path) -> None:
    page = client_for(dist).get("/api/docs").text
    assert '"/swagger-ui/swagger-ui-bundle.js"' in page
    assert '"/swagger-ui/swagger-ui.css"' in page
    assert "cdn" not in page.lower()

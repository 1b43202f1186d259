"""The GAS public API over HTTP, authenticated with a personal API token."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gas_cli.config import Config

Progress = Callable[[int], None]
CHUNK_BYTES = 256 * 1024


class ApiError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class _ReportingFile(io.FileIO):
    """A file that reports every chunk read, so an upload can show its progress."""

    def __init__(self, path: Path, on_read: Progress) -> None:
        super().__init__(path, "rb")
        self._on_read = on_read

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if data:
            self._on_read(len(data))
        return data or b""


def _explain(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text.strip()
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) for item in detail)
    hints = {
        401: " (check your API token: `gas configure --token ...` or GAS_TOKEN)",
        404: " (no such job for this account)",
    }
    return f"{detail or response.reason_phrase}{hints.get(response.status_code, '')}"


class GasClient:
    def __init__(self, config: Config, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(
            base_url=config.url,
            headers={"Authorization": f"Bearer {config.token}", "User-Agent": "gas-cli"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(0, f"cannot reach GAS at {self._http.base_url}: {error}") from error
        if response.status_code >= 400:
            raise ApiError(response.status_code, _explain(response))
        return response

    def me(self) -> dict[str, Any]:
        return dict(self._call("GET", "/api/me").json())

    def create_job(
        self,
        *,
        filename: str,
        size_bytes: int,
        build: str | None,
        fingerprint: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"filename": filename, "size_bytes": size_bytes}
        if build:
            body["build"] = build
        if fingerprint:
            body["fingerprint"] = fingerprint
        return dict(self._call("POST", "/api/jobs", json=body).json())

    def part_urls(self, job_id: str, parts: list[tuple[int, str]]) -> list[dict[str, Any]]:
        body = {"parts": [{"number": number, "sha256": sha256} for number, sha256 in parts]}
        answer = self._call("POST", f"/api/jobs/{job_id}/upload/parts", json=body).json()
        return list(answer["parts"])

    def uploaded_parts(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/api/jobs/{job_id}/upload/parts").json())

    def complete_upload(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/api/jobs/{job_id}/upload/complete").json())

    def upload(self, upload: dict[str, Any], path: Path, on_progress: Progress) -> None:
        with _ReportingFile(path, on_progress) as file:
            try:
                response = httpx.post(
                    upload["url"],
                    data=upload["fields"],
                    files={"file": (path.name, file)},
                    timeout=None,
                )
            except httpx.HTTPError as error:
                raise ApiError(0, f"upload failed: {error}") from error
        if response.status_code >= 300:
            raise ApiError(response.status_code, f"upload refused: {response.text[:300]}")

    def submit(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/api/jobs/{job_id}/submit").json())

    def jobs(self, *, status: str | None, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return dict(self._call("GET", "/api/jobs", params=params).json())

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/api/jobs/{job_id}").json())

    def log(self, job_id: str) -> str:
        return self._call("GET", f"/api/jobs/{job_id}/log").text

    def result(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/api/jobs/{job_id}/result").json())

    def download(
        self, url: str, destination: Path, on_progress: Callable[[int, int], None]
    ) -> None:
        partial = destination.with_name(destination.name + ".part")
        try:
            with httpx.stream("GET", url, timeout=None) as response:
                if response.status_code >= 300:
                    raise ApiError(
                        response.status_code, f"download refused: {response.read()[:300]!r}"
                    )
                total = int(response.headers.get("content-length", 0))
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        out.write(chunk)
                        on_progress(len(chunk), total)
        except httpx.HTTPError as error:
            partial.unlink(missing_ok=True)
            raise ApiError(0, f"download failed: {error}") from error
        partial.replace(destination)

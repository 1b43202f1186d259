"""A 405 names every method the path takes, not only the first route's."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from gas_core.routing import install_allow


def test_a_method_the_path_does_not_take_gets_405_with_all_its_methods_in_allow() -> None:
    router = APIRouter(prefix="/jobs")

    @router.post("")
    async def create() -> dict[str, str]:
        return {}

    @router.get("")
    async def listing() -> dict[str, str]:
        return {}

    @router.delete("/{job_id}")
    async def delete(job_id: str) -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    install_allow(app)
    client = TestClient(app)

    refused = client.put("/jobs")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"
    assert refused.json() == {"detail": "Method Not Allowed"}
    assert client.get("/jobs/7").headers["allow"] == "DELETE"
    assert client.get("/jobs").status_code == 200

"""The published document: the jobs API merged under /api with the gateway's sign-in and the
answers the edge gives in front of every route (the live check is
tests/integration/test_contract.py)."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.utils import get_openapi

from gas_gateway.main import create_app
from gas_gateway.openapi import merge, with_edge_answers
from gas_gateway.settings import Settings

JOBS: dict[str, Any] = {
    "paths": {
        "/jobs/{job_id}": {
            "get": {
                "operationId": "get_job",
                "security": [{"Internal token": []}],
                "responses": {
                    "200": {"description": "the job"},
                    "401": {"description": "No valid internal token"},
                    "404": {"description": "No such job"},
                },
            }
        },
        "/healthz": {"get": {"operationId": "healthz", "responses": {}}},
    },
    "components": {"schemas": {"JobPublic": {"type": "object"}}},
}


def published() -> dict[str, Any]:
    app = create_app(Settings(), pool=None, http=None, outbox=None)  # type: ignore[arg-type]
    own = get_openapi(title=app.title, version=app.version, routes=app.routes)
    return with_edge_answers(merge(own, JOBS))


def test_the_jobs_routes_are_published_under_api_with_the_gateways_sign_in() -> None:
    document = published()
    paths = document["paths"]
    assert "/api/jobs/{path}" not in paths and "/healthz" not in paths
    operation = paths["/api/jobs/{job_id}"]["get"]
    assert operation["security"] == [{"API token": []}, {"Browser session": []}]
    assert operation["responses"]["401"]["description"].startswith("Not signed in")
    assert {"200", "404", "429", "502", "503"} <= set(operation["responses"])
    assert "JobPublic" in document["components"]["schemas"]


def test_every_operation_lists_what_the_edge_answers_in_front_of_it() -> None:
    paths = published()["paths"]
    me = paths["/api/me"]["get"]["responses"]
    assert me["429"]["headers"]["Retry-After"]["required"] is True
    assert {"401", "503"} <= set(me)
    config = paths["/api/config"]["get"]["responses"]
    assert "429" in config and "401" not in config  # public, no database
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))

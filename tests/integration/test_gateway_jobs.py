from __future__ import annotations

import httpx
import pytest

from gas_core.tiers import Tier
from gas_testing.gateway import provision_user
from gas_testing.plugin import ServiceProcess

pytestmark = pytest.mark.integration

VCF = (
    b"##fileformat=VCFv4.2\n"
    b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"1\t69511\t.\tA\tG\t50\tPASS\t.\n"
)


def client(gateway: ServiceProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def test_users_never_see_or_touch_each_others_jobs(
    gateway: ServiceProcess, gateway_database: str
) -> None:
    _, alice_token = provision_user(gateway_database, email="a@example.org", tier=Tier.FREE)
    _, bob_token = provision_user(gateway_database, email="b@example.org", tier=Tier.FREE)
    alice, bob = client(gateway, alice_token), client(gateway, bob_token)

    created = alice.post("/api/jobs", json={"filename": "a.vcf", "size_bytes": len(VCF)})
    assert created.status_code == 201, created.text
    job_id = created.json()["job"]["id"]
    upload = created.json()["upload"]
    posted = httpx.post(upload["url"], data=upload["fields"], files={"file": ("a.vcf", VCF)})
    assert posted.status_code in (200, 204)
    submitted = alice.post(f"/api/jobs/{job_id}/submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "QUEUED"
    assert alice.get(f"/api/jobs/{job_id}").json()["id"] == job_id
    assert [job["id"] for job in alice.get("/api/jobs").json()["data"]] == [job_id]

    for method, path in [
        ("GET", f"/api/jobs/{job_id}"),
        ("GET", f"/api/jobs/{job_id}/log"),
        ("GET", f"/api/jobs/{job_id}/result"),
        ("POST", f"/api/jobs/{job_id}/submit"),
    ]:
        answer = bob.request(method, path)
        assert answer.status_code == 404, (method, path, answer.text)
    assert bob.get("/api/jobs").json()["count"] == 0


def test_a_free_users_oversized_file_is_refused_with_the_upgrade_offer(
    gateway: ServiceProcess, gateway_database: str
) -> None:
    _, free_token = provision_user(gateway_database, email="f@example.org", tier=Tier.FREE)
    _, premium_token = provision_user(gateway_database, email="p@example.org", tier=Tier.PREMIUM)
    big = {"filename": "big.vcf", "size_bytes": 2 * 1024 * 1024}

    refused = client(gateway, free_token).post("/api/jobs", json=big)
    assert refused.status_code == 413
    assert "Upgrade to premium" in refused.json()["detail"]

    accepted = client(gateway, premium_token).post("/api/jobs", json=big)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["job"]["tier"] == "premium"


def test_the_api_is_documented_and_needs_a_signed_in_caller(gateway: ServiceProcess) -> None:
    anonymous = httpx.get(f"{gateway.url}/api/jobs")
    assert anonymous.status_code == 401
    assert "log in" in anonymous.json()["detail"]

    assert httpx.get(f"{gateway.url}/api/docs").status_code == 200
    document = httpx.get(f"{gateway.url}/api/openapi.json").json()
    published = document["paths"]
    assert {"/api/me", "/api/me/upgrade", "/api/tokens", "/api/jobs"} <= set(published)
    assert not any(path.startswith("/internal") for path in published)

    # The jobs routes with the jobs service's own schemas, not catch-all proxies.
    assert "/api/jobs/{path}" not in published
    variants = published["/api/jobs/{job_id}/variants"]["get"]
    answer = variants["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/VariantsPublic"}
    assert set(document["components"]["schemas"]["VariantsPublic"]["properties"]) == {
        "data",
        "count",
    }
    assert {"limit", "sort", "gene", "region"} <= {p["name"] for p in variants["parameters"]}
    assert "401" in variants["responses"] and variants["security"]
    created = published["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert created["schema"] == {"$ref": "#/components/schemas/JobCreate"}
    assert (
        "text/event-stream"
        in (published["/api/jobs/{job_id}/events"]["get"]["responses"]["200"]["content"])
    )

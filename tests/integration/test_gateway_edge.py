"""The public edge as an attacker and a bad day meet it: security headers on every answer,
uncached API answers, a rate limit per token with 429 and Retry-After, and a database outage
answered as a readable 503 that heals without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gas_core.tiers import Tier
from gas_testing.gateway import DevIdp, provision_user, start_gateway
from gas_testing.localstack import PrivatePostgres, wait_until
from gas_testing.plugin import ServiceProcess, Stack, StartService

pytestmark = pytest.mark.integration


def api(gateway: ServiceProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def test_every_answer_carries_the_security_headers_and_api_answers_are_not_cached(
    accounts_gateway: ServiceProcess, gateway_database: str
) -> None:
    _, token = provision_user(gateway_database, email="h@example.org", tier=Tier.FREE)
    answers = {
        "signed-in API": api(accounts_gateway, token).get("/api/me"),
        "refused API": httpx.get(f"{accounts_gateway.url}/api/me"),
        "page": httpx.get(f"{accounts_gateway.url}/jobs"),
        "probe": httpx.get(f"{accounts_gateway.url}/healthz"),
        "sign-in": httpx.get(f"{accounts_gateway.url}/auth/login"),
    }
    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin", name
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], name
    for name in ("signed-in API", "refused API", "sign-in"):
        assert answers[name].headers["cache-control"] == "no-store", name
    assert (
        answers["signed-in API"].headers["content-security-policy"].startswith("default-src 'none'")
    )
    assert "script-src 'self'" in answers["page"].headers["content-security-policy"]


def test_a_token_over_its_limit_gets_429_with_retry_after_and_others_are_not_affected(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> None:
    gateway = start_gateway(
        start_service,
        stack,
        idp=dev_idp,
        database_url=gateway_database,
        GAS_GATEWAY_RATE_LIMIT_PER_CREDENTIAL="40",
    )
    _, greedy = provision_user(gateway_database, email="greedy@example.org", tier=Tier.FREE)
    _, patient = provision_user(gateway_database, email="patient@example.org", tier=Tier.FREE)
    client = api(gateway, greedy)

    statuses = [client.get("/api/me").status_code for _ in range(60)]

    assert statuses[:40] == [200] * 40
    assert set(statuses[40:]) == {429}
    refused = client.get("/api/me")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "limit is 40 a minute" in refused.json()["detail"]
    assert api(gateway, patient).get("/api/me").status_code == 200


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres(tmp_path / "pg").start()
    yield cluster
    cluster.stop()
    cluster.discard()


def test_a_database_outage_is_a_readable_503_and_heals_without_a_restart(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, own_database: PrivatePostgres
) -> None:
    gateway = start_gateway(start_service, stack, idp=dev_idp, database_url=own_database.url)
    _, token = provision_user(own_database.url, email="o@example.org", tier=Tier.FREE)
    client = api(gateway, token)
    assert client.get("/api/me").status_code == 200

    own_database.stop()
    down = client.get("/api/me")
    assert down.status_code == 503, down.text
    assert "database is not answering" in down.json()["detail"]
    assert down.headers["retry-after"] == "30"

    own_database.start()
    wait_until(lambda: client.get("/api/me").status_code == 200, timeout=30, what="recovery")
    assert gateway.process.poll() is None  # the same process, never restarted

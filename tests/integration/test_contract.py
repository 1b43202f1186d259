"""The published API contract, checked against the real stack with schemathesis.

The gateway (real PostgreSQL, the dev IdP) forwarding to a real jobs service (moto server) is
driven through every operation of its published OpenAPI document — the gateway's own routes
and the jobs API merged in — signed in with an API token, by schemathesis's CLI with all of its
checks: any 5xx, any status code, header, content type or body the document does not declare,
a valid request refused, a documented method answering 405 or an undocumented one answered
without 405 and ``Allow`` fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gas_core.tiers import Tier
from gas_testing.gateway import DevIdp, provision_user, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def contract_gateway(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> ServiceProcess:
    jobs = start_service("jobs", stack)
    # schemathesis sends a few thousand requests a minute with one token: the rate limit (whose
    # 429 the document declares) would otherwise answer most of them.
    return start_gateway(
        start_service,
        stack,
        idp=dev_idp,
        database_url=gateway_database,
        jobs_url=jobs.url,
        GAS_GATEWAY_RATE_LIMIT_PER_CREDENTIAL="1000000",
        GAS_GATEWAY_RATE_LIMIT_PER_IP="1000000",
    )


def run_schemathesis(schema_url: str, *, token: str, report_dir: Path) -> str:
    """Run every check over every operation; the summary, or a failure with schemathesis's
    report of each problem and the curl command that reproduces it."""
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={CONFIG}",
        "--no-color",
        "run",
        schema_url,
        f"--header=Authorization: Bearer {token}",
        "--report=ndjson",
        f"--report-dir={report_dir}",
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        cwd=report_dir,  # where it keeps its cache of failures to replay
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"schemathesis found problems:\n{result.stdout}{result.stderr}"
    return result.stdout


def requests_made(report_dir: Path) -> tuple[int, int]:
    """(requests sent, operations tested) from schemathesis's event report."""
    requests = 0
    operations: set[str] = set()
    for report in report_dir.glob("*.ndjson"):
        for line in report.read_text().splitlines():
            recorder = (json.loads(line).get("ScenarioFinished") or {}).get("recorder") or {}
            requests += len(recorder.get("interactions", {}))
            if (label := recorder.get("label")) and label != "Stateful tests":
                operations.add(label)
    return requests, len(operations)


def test_the_gateway_answers_as_its_published_openapi_says(
    contract_gateway: ServiceProcess, gateway_database: str, tmp_path: Path
) -> None:
    schema_url = f"{contract_gateway.url}/api/openapi.json"
    document = httpx.get(schema_url).json()
    operation_ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(operation_ids) == len(set(operation_ids)), "duplicate operation ids"
    assert "/api/jobs/{job_id}/variants" in document["paths"], "the jobs API is not merged in"

    _, token = provision_user(gateway_database, email="st@example.org", tier=Tier.PREMIUM)
    summary = run_schemathesis(schema_url, token=token, report_dir=tmp_path)
    requests, operations = requests_made(tmp_path)
    print(f"schemathesis: {requests} requests over {operations} operations, no failure")
    print(summary[summary.find("SUMMARY") :])

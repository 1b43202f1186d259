"""The published API contract, checked against the real stack with schemathesis.

The gateway (real PostgreSQL, the dev IdP) forwarding to a real jobs service (moto server) is
driven through every operation of its published OpenAPI document — the gateway's own routes
and the jobs API merged in — signed in with an API token, by schemathesis's CLI with all of its
checks (half the job ids it sends are a job the real annotator completed, so results and
variants are checked too): any 5xx, any status code, header, content type or body the document does not declare,
a valid request refused, a documented method answering 405 or an undocumented one answered
without 405 and ``Allow`` fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gas_core.tiers import Tier
from gas_testing.data import KnownSnp
from gas_testing.gateway import DevIdp, provision_user, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG = Path(__file__).with_name("schemathesis.toml")
FINISHED = ("COMPLETED", "FAILED")
JOB_PATHS = r"^/api/jobs/\{job_id\}"


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


def completed_job(api: httpx.Client, snps: list[KnownSnp]) -> str:
    """A job run to the end by the real annotator, so that its log, result, variants and
    export answer 200 with bodies to check, not only 404 and 409."""
    vcf = (
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(f"{s.chrom}\t{s.pos}\t.\t{s.ref}\t{s.alt}\t50\tPASS\t.\n" for s in snps[::500])
    ).encode()
    created = api.post("/api/jobs", json={"filename": "contract.vcf", "size_bytes": len(vcf)})
    assert created.status_code == 201, created.text
    job_id: str = created.json()["job"]["id"]
    upload = created.json()["upload"]
    posted = httpx.post(upload["url"], data=upload["fields"], files={"file": ("c.vcf", vcf)})
    assert posted.status_code in (200, 204), posted.text
    assert api.post(f"/api/jobs/{job_id}/submit").status_code == 200
    deadline = time.monotonic() + 120
    while (status := api.get(f"/api/jobs/{job_id}").json()["status"]) not in FINISHED:
        assert time.monotonic() < deadline, f"the job is still {status}"
        time.sleep(0.5)
    assert status == "COMPLETED"
    return job_id


def config_with_job(config: Path, job_id: str) -> Path:
    """The settings, plus: half the generated job ids are the completed job's."""
    text = CONFIG.read_text() + (
        f"\n[dictionaries.completed_job]\nvalues = [{json.dumps(job_id)}]\n"
        f"\n[[operations]]\ninclude-path-regex = {json.dumps(JOB_PATHS)}\n"
        'parameters = { "path.job_id" = { dictionary = "completed_job", probability = 0.5 } }\n'
    )
    config.write_text(text)
    return config


def run_schemathesis(schema_url: str, *, token: str, config: Path, report_dir: Path) -> str:
    """Run every check over every operation; the summary, or a failure with schemathesis's
    report of each problem and the curl command that reproduces it."""
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={config}",
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
    contract_gateway: ServiceProcess,
    gateway_database: str,
    start_annotator: Callable[..., ServiceProcess],
    common_snps: list[KnownSnp],
    tmp_path: Path,
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
    start_annotator()
    with httpx.Client(
        base_url=contract_gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    ) as api:
        job_id = completed_job(api, common_snps)
    reports = tmp_path / "reports"
    reports.mkdir()
    summary = run_schemathesis(
        schema_url,
        token=token,
        config=config_with_job(tmp_path / "schemathesis.toml", job_id),
        report_dir=reports,
    )
    requests, operations = requests_made(reports)
    print(f"schemathesis: {requests} requests over {operations} operations, no failure")
    print(summary[summary.find("SUMMARY") :])

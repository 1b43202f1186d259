"""With tracing on, one job's path through the gateway, the jobs service, the annotator and
the notifier is one trace, carried over HTTP headers and SNS/SQS message attributes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gas_core.tiers import Tier
from gas_testing.gateway import GatewayProcess, provision_user
from gas_testing.localstack import wait_until
from gas_testing.plugin import Stack, StartService

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t69511\t.\tA\tG\t50\tPASS\t.\n"


@pytest.fixture
def spans_dir(stack: Stack, tmp_path: Path) -> Path:
    """Every service started after this writes its spans under the returned folder."""
    folder = tmp_path / "spans"
    stack.env["GAS_TRACING_EXPORTER"] = f"jsonl:{folder}"
    return folder


def read_spans(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def service_of(span: dict[str, Any]) -> str:
    return str(span["resource"]["attributes"]["service.name"])


def test_one_job_is_one_trace_across_four_services(
    spans_dir: Path,
    stack: Stack,
    start_service: StartService,
    gateway: GatewayProcess,
    gateway_database: str,
) -> None:
    start_service("annotator", stack)
    start_service("notifier", stack, GAS_NOTIFIER_GATEWAY_URL=gateway.internal_url)
    _, token = provision_user(gateway_database, email="traced@example.org", tier=Tier.PREMIUM)
    api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    created = api.post("/api/jobs", json={"filename": "t.vcf", "size_bytes": len(VCF)}).json()
    upload = created["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": ("t.vcf", VCF)}, timeout=30)
    job_id = created["job"]["id"]
    assert api.post(f"/api/jobs/{job_id}/submit").status_code == 200

    def mailed_span() -> dict[str, Any] | None:
        for span in read_spans(spans_dir):
            attributes = span.get("attributes", {})
            if (
                span["name"] == "handle job.completed"
                and attributes.get("gas.job_id") == job_id
                and service_of(span) == "gas-notifier"
            ):
                return span
        return None

    notified = wait_until(mailed_span, timeout=120, what="the notifier's span for the job")
    trace_id = notified["context"]["trace_id"]
    in_trace = [span for span in read_spans(spans_dir) if span["context"]["trace_id"] == trace_id]
    services = {service_of(span) for span in in_trace}
    names = {span["name"] for span in in_trace}

    assert {"gas-gateway", "gas-jobs", "gas-annotator", "gas-notifier"} <= services
    assert {
        "POST /jobs/{job_id}/submit",
        "publish job.requested",
        "handle job.requested",
        "publish job.completed",
        "handle job.completed",
    } <= names
    created_span = next(span for span in read_spans(spans_dir) if span["name"] == "POST /jobs")
    assert created_span["context"]["trace_id"] != trace_id  # each request starts its own trace

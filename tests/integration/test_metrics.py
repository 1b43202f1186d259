"""Every service answers /metrics, and a job moves the counters an operator would watch."""

from __future__ import annotations

import re

import httpx
import pytest

from gas_core.auth import InternalIdentity, mint_internal_token
from gas_core.tiers import Tier
from gas_testing.gateway import GatewayProcess
from gas_testing.localstack import wait_until
from gas_testing.plugin import ServiceProcess, Stack, StartService

pytestmark = pytest.mark.integration

VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t69511\t.\tA\tG\t50\tPASS\t.\n"


def metric(service: ServiceProcess, name: str, **labels: str) -> float:
    """The value of one series on the service's /metrics page (0 when it is not there yet)."""
    text = httpx.get(f"{service.url}/metrics", timeout=5).text
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


def test_a_job_shows_on_the_metrics_of_every_service(
    stack: Stack, start_service: StartService, gateway: GatewayProcess
) -> None:
    annotator = start_service("annotator", stack)
    notifier = start_service("notifier", stack, GAS_NOTIFIER_GATEWAY_URL=gateway.internal_url)
    archiver = start_service("archiver", stack, GAS_ARCHIVER_GATEWAY_URL=gateway.internal_url)
    jobs = start_service("jobs", stack)
    services = {"gateway": gateway, "jobs": jobs, "annotator": annotator}
    services |= {"notifier": notifier, "archiver": archiver}
    for name, service in services.items():
        page = httpx.get(f"{service.url}/metrics", timeout=5)
        assert page.status_code == 200, name
        assert page.headers["content-type"].startswith("text/plain"), name
        assert "gas_http_requests_total" in page.text, name
    annotator_queue = stack.settings.annotator_queue
    assert metric(annotator, "gas_queue_messages", queue=annotator_queue, state="visible") == 0

    token = mint_internal_token(
        InternalIdentity(user_id="metrics-user", tier=Tier.PREMIUM),
        stack.settings.internal_jwt_secret,
    )
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{jobs.url}/jobs", json={"filename": "a.vcf", "size_bytes": len(VCF)}, headers=headers
    ).json()
    upload = created["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": ("a.vcf", VCF)}, timeout=30)
    job_id = created["job"]["id"]
    assert httpx.post(f"{jobs.url}/jobs/{job_id}/submit", headers=headers).status_code == 200

    wait_until(
        lambda: (
            metric(
                annotator, "gas_queue_messages_handled_total", queue=annotator_queue, outcome="done"
            )
            >= 1
        ),
        timeout=90,
        what="the annotator to count the job's request as done",
    )
    wait_until(
        lambda: (
            metric(
                notifier, "gas_queue_messages_handled_total", queue=stack.settings.notifier_queue
            )
            >= 1
        ),
        timeout=60,
        what="the notifier to count the job's outcome",
    )
    assert metric(jobs, "gas_http_requests_total", route="/jobs/{job_id}/submit", status="200") == 1
    assert metric(jobs, "gas_http_request_seconds_count", route="/jobs/{job_id}/submit") == 1

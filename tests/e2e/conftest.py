"""Browser tests: Debian's Chromium, driven by Playwright, against the gateway serving the built
web app, with the dev IdP, the jobs service and an annotator as real processes.

Everything this folder takes from the test-support package (gas_testing, whose plugins give
the stack, the dev IdP and a fresh gateway database) is imported here, in one place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gas_core.aws import aws_clients
from gas_core.infra import infra_up
from gas_testing.data import known_snps
from gas_testing.gateway import DevIdp, GatewayProcess, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService
from tests.e2e.browser import Pages, browser_on


@pytest.fixture(scope="session")
def bundle_cache() -> Path:
    from anntools import ensure_bundle

    return ensure_bundle("GRCh37").parent


@pytest.fixture
def web_stack(
    stack: Stack,
    start_service: StartService,
    dev_idp: DevIdp,
    gateway_database: str,
    bundle_cache: Path,
) -> ServiceProcess:
    """The gateway serving the app, a jobs service and one annotator; returns the gateway."""
    jobs = start_service("jobs", stack)
    start_service(
        "annotator",
        stack,
        GAS_ANNOTATOR_BUNDLE_CACHE_DIR=str(bundle_cache),
        GAS_ANNOTATOR_BUNDLE_BUILDS=json.dumps(["GRCh37"]),
        GAS_ANNOTATOR_RECEIVE_WAIT_SECONDS="1",
    )
    gateway = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    allow_uploads_from(stack, gateway.url)
    return gateway


def allow_uploads_from(stack: Stack, origin: str) -> None:
    """The inputs bucket's CORS rule for this gateway's port (Chromium preflights the upload)."""

    async def update() -> None:
        async with aws_clients(stack.aws) as clients:
            await infra_up(clients, stack.settings, cors_origins=(origin,))

    asyncio.run(update())


@pytest.fixture
def web_app(web_stack: ServiceProcess) -> Iterator[Pages]:
    with browser_on(web_stack.url) as pages:
        yield pages


@pytest.fixture
def accounts_stack(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> ServiceProcess:
    """The gateway serving the app, with a jobs service but no annotator."""
    jobs = start_service("jobs", stack)
    gateway = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    allow_uploads_from(stack, gateway.url)
    return gateway


@pytest.fixture
def accounts_app(accounts_stack: ServiceProcess) -> Iterator[Pages]:
    with browser_on(accounts_stack.url) as pages:
        yield pages


@pytest.fixture
def archive_stack(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> GatewayProcess:
    """The gateway serving the app, the jobs service, the notifier and an archiver with a
    two-second free window; returns the gateway."""
    jobs = start_service("jobs", stack)
    gateway = start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )
    start_service(
        "notifier",
        stack,
        GAS_FREE_WINDOW_SECONDS="2",
        GAS_NOTIFIER_GATEWAY_URL=gateway.internal_url,
        GAS_NOTIFIER_PUBLIC_URL=gateway.url,
        GAS_NOTIFIER_RECEIVE_WAIT_SECONDS="1",
    )
    start_service(
        "archiver",
        stack,
        GAS_FREE_WINDOW_SECONDS="2",
        GAS_ARCHIVER_GATEWAY_URL=gateway.internal_url,
        GAS_ARCHIVER_RECONCILE_INTERVAL_SECONDS="0.5",
        GAS_ARCHIVER_VISIBILITY_SECONDS="3",
        GAS_ARCHIVER_RECEIVE_WAIT_SECONDS="1",
    )
    return gateway


@pytest.fixture(scope="session")
def known_snps_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, real GRCh37 VCF: known SNPs from the bundle's dbSNP track, so the summary
    has dbSNP hits."""
    lines = [
        f"{snp.chrom}\t{snp.pos}\t.\t{snp.ref}\t{snp.alt}\t50\tPASS\t.\tGT\t0/1\n"
        for snp in known_snps("GRCh37")[:300]
    ]
    path = tmp_path_factory.mktemp("vcf") / "known-snps.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh37\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA12878\n" + "".join(lines)
    )
    return path

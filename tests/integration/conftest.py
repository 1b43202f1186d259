"""Fixtures for the cross-service tests: a gateway wired to a real jobs service, a gateway
alone for accounts and login (the dev IdP and the fresh database come from
gas_testing.gateway), annotator workers on the GRCh37 bundle and known SNPs to feed them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gas_testing.data import KnownSnp, known_snps
from gas_testing.gateway import DevIdp, GatewayProcess, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService


@pytest.fixture
def gateway(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> GatewayProcess:
    jobs = start_service("jobs", stack)
    return start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )


@pytest.fixture
def accounts_gateway(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> GatewayProcess:
    """The gateway without a jobs service: enough for login, accounts and tokens."""
    return start_gateway(start_service, stack, idp=dev_idp, database_url=gateway_database)


@pytest.fixture(scope="session")
def bundle_cache() -> Path:
    """One GRCh37 bundle for the whole session, built on first use into the shared cache."""
    from anntools import ensure_bundle

    return ensure_bundle("GRCh37").parent


@pytest.fixture(scope="session")
def common_snps() -> list[KnownSnp]:
    """The GRCh37 bundle's dbSNP common SNPs with an rsID, in genome order."""
    return known_snps("GRCh37")


@pytest.fixture
def start_annotator(
    stack: Stack, start_service: StartService, bundle_cache: Path
) -> Callable[..., ServiceProcess]:
    def start(**env: str) -> ServiceProcess:
        settings = {
            "GAS_ANNOTATOR_BUNDLE_CACHE_DIR": str(bundle_cache),
            "GAS_ANNOTATOR_BUNDLE_BUILDS": '["GRCh37"]',
            "GAS_ANNOTATOR_VISIBILITY_SECONDS": "4",
            "GAS_ANNOTATOR_LEASE_SECONDS": "3",
            "GAS_ANNOTATOR_STOP_GRACE_SECONDS": "5",
            "GAS_ANNOTATOR_RECEIVE_WAIT_SECONDS": "1",
            **env,
        }
        return start_service("annotator", stack, **settings)

    return start

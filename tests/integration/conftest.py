"""Fixtures for the cross-service tests: the gateway's own (the dev IdP, a fresh database per
test), a gateway wired to a real jobs service, and a gateway alone for accounts and login."""

from __future__ import annotations

import pytest

from gas_core.testing import ServiceProcess, Stack, StartService
from gas_gateway.testing import DevIdp, dev_idp, gateway_database, start_gateway

# Re-exported so that pytest finds the imported fixtures for every test module here.
__all__ = ["accounts_gateway", "dev_idp", "gateway", "gateway_database"]


@pytest.fixture
def gateway(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> ServiceProcess:
    jobs = start_service("jobs", stack)
    return start_gateway(
        start_service, stack, idp=dev_idp, database_url=gateway_database, jobs_url=jobs.url
    )


@pytest.fixture
def accounts_gateway(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> ServiceProcess:
    """The gateway without a jobs service: enough for login, accounts and tokens."""
    return start_gateway(start_service, stack, idp=dev_idp, database_url=gateway_database)

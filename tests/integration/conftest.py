"""Fixtures for the cross-service tests: a gateway wired to a real jobs service, and a gateway
alone for accounts and login (the dev IdP and the fresh database come from gas_testing.gateway)."""

from __future__ import annotations

import pytest

from gas_testing.gateway import DevIdp, start_gateway
from gas_testing.plugin import ServiceProcess, Stack, StartService


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

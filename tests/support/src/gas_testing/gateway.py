"""pytest plugin for tests that run the gateway for real (loaded by the root conftest): the dev
IdP as a node process (``dev_idp``), a fresh PostgreSQL database per test
(``gateway_database``), the gateway started against both, a browser-like login over HTTP and
accounts provisioned as an operator would. The gateway serves its internal API on a second
free port (``GatewayProcess.internal_url``).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from gas_core.tiers import Tier
from gas_gateway import accounts
from gas_testing.localstack import free_port, http_ok, spawn, stop_process, wait_until
from gas_testing.plugin import ServiceProcess, Stack, StartService

IDP_DIR = Path(__file__).resolve().parents[4] / "services" / "idp"
CLIENT_SECRET = "gas-test-client-secret"


@dataclass(frozen=True)
class DevIdp:
    url: str

    def gateway_env(self) -> dict[str, str]:
        return {
            "GAS_GATEWAY_OIDC_ISSUER": self.url,
            "GAS_GATEWAY_OIDC_CLIENT_ID": "gas-gateway",
            "GAS_GATEWAY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }


def start_idp(data_dir: Path, log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    node = shutil.which("node")
    if node is None or not (IDP_DIR / "node_modules").exists():
        pytest.skip("the dev IdP needs node and `npm ci` in services/idp (make bootstrap)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": "/usr/bin:/bin",
        "GAS_IDP_PORT": str(port),
        "GAS_IDP_DATA_DIR": str(data_dir),
        "GAS_IDP_CLIENT_SECRET": CLIENT_SECRET,
        "GAS_IDP_REDIRECT_URIS": "http://127.0.0.1:8000/auth/callback",
        "GAS_IDP_POST_LOGOUT_REDIRECT_URIS": "http://127.0.0.1:8000/",
    }
    with log_path.open("ab") as log_file:
        process = spawn([node, str(IDP_DIR / "server.js")], env=env, stdout=log_file.fileno())
    wait_until(
        lambda: http_ok(f"{url}/.well-known/openid-configuration"), timeout=30, what="dev IdP"
    )
    return url, process


@pytest.fixture(scope="session")
def dev_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIdp]:
    folder = tmp_path_factory.mktemp("idp")
    url, process = start_idp(folder / "data", folder / "idp.log")
    yield DevIdp(url=url)
    stop_process(process)


@pytest.fixture
async def gateway_database(database_url: str) -> AsyncIterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"gw_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class GatewayProcess(ServiceProcess):
    """The gateway: ``url`` is its public port, ``internal_url`` the internal API's port (what
    the notifier and archiver are given as their GATEWAY_URL)."""

    internal_url: str = ""


def start_gateway(
    start_service: StartService,
    stack: Stack,
    *,
    idp: DevIdp,
    database_url: str,
    jobs_url: str = "http://127.0.0.1:9",
    **env: str,
) -> GatewayProcess:
    internal_port = free_port()
    service = start_service(
        "gateway",
        stack,
        DATABASE_URL=database_url,
        GAS_GATEWAY_JOBS_URL=jobs_url,
        GAS_GATEWAY_INTERNAL_PORT=str(internal_port),
        GAS_GATEWAY_OUTBOX_INTERVAL_SECONDS="0.5",
        GAS_GATEWAY_PAYMENT_PROVIDER="test",
        **idp.gateway_env(),
        **env,
    )
    return GatewayProcess(
        name=service.name,
        url=service.url,
        process=service.process,
        log_path=service.log_path,
        internal_url=f"http://127.0.0.1:{internal_port}",
    )


LOGIN_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*id="login"')


def browser_login(
    client: httpx.Client, gateway_url: str, *, login: str, password: str
) -> httpx.Response:
    """Sign in like a browser: follow the redirects and post the IdP's login form."""
    page = client.get(f"{gateway_url}/auth/login", follow_redirects=True)
    form = LOGIN_FORM.search(page.text)
    assert form, f"no login form at {page.url}: {page.status_code} {page.text[:500]}"
    return client.post(
        urljoin(str(page.url), form.group(1)),
        data={"login": login, "password": password},
        follow_redirects=True,
    )


def provision_user(database_url: str, *, email: str, tier: Tier) -> tuple[str, str]:
    """An account with an API token, as an operator would create it; returns (user id, token).
    The gateway must have migrated the database (start it first)."""

    async def provision() -> tuple[str, str]:
        connection = await asyncpg.connect(database_url)
        try:
            user = await accounts.insert_user(connection, email=email, name=email, tier=tier)
            _, token = await accounts.insert_token(connection, user_id=user.id, name="test")
        finally:
            await connection.close()
        return user.id, token

    return asyncio.run(provision())

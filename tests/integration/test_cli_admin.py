"""``gas-admin db|users|tokens`` as an operator runs them, against PostgreSQL and moto."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from gas_core.events import AccountTierChanged
from gas_core.tiers import Tier
from gas_testing.gateway import DevIdp, browser_login, start_gateway
from gas_testing.plugin import Stack, StartService, received_events

pytestmark = pytest.mark.integration


def admin(stack: Stack, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gas_core.admin", *args],
        env=stack.process_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_operators_manage_accounts_and_tokens(
    stack: Stack, start_service: StartService, dev_idp: DevIdp, gateway_database: str
) -> None:
    migrated = admin(stack, gateway_database, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "applied 0001_accounts" in migrated.stdout
    assert "up to date" in admin(stack, gateway_database, "db", "migrate").stdout

    created = admin(
        stack,
        gateway_database,
        "users",
        "create",
        "--email",
        "premium@example.org",
        "--tier",
        "premium",
    )
    assert created.returncode == 0, created.stderr
    assert "premium" in created.stdout and "not signed in yet" in created.stdout
    duplicate = admin(stack, gateway_database, "users", "create", "--email", "PREMIUM@example.org")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    issued = admin(stack, gateway_database, "tokens", "create", "--email", "premium@example.org")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    unknown = admin(stack, gateway_database, "tokens", "create", "--email", "nobody@example.org")
    assert unknown.returncode == 1 and "no user with email" in unknown.stderr

    gateway = start_gateway(start_service, stack, idp=dev_idp, database_url=gateway_database)
    me = httpx.get(f"{gateway.url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["tier"] == "premium"

    # The pre-created account is bound to the person's first login (verified email).
    with httpx.Client() as browser:
        browser_login(browser, gateway.url, login="premium", password="premium")
        signed_in = browser.get(f"{gateway.url}/api/me").json()
    assert signed_in["id"] == me.json()["id"] and signed_in["tier"] == "premium"

    downgraded = admin(
        stack,
        gateway_database,
        "users",
        "set-tier",
        "--email",
        "premium@example.org",
        "--tier",
        "free",
    )
    assert downgraded.returncode == 0, downgraded.stderr
    assert (
        httpx.get(f"{gateway.url}/api/me", headers={"Authorization": f"Bearer {token}"}).json()[
            "tier"
        ]
        == "free"
    )
    [event] = received_events(stack, stack.settings.archiver_queue, wait_seconds=5)
    assert isinstance(event, AccountTierChanged)
    assert (event.payload.old_tier, event.payload.new_tier) == (Tier.PREMIUM, Tier.FREE)

    listed = admin(stack, gateway_database, "users", "list")
    assert "premium@example.org" in listed.stdout and "dev-premium-0001" in listed.stdout

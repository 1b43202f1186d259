from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from gas_core.accounts import UNKNOWN_USER, AccountLookupFailed, GatewayAccounts
from gas_core.auth import InternalIdentity, mint_internal_token, mint_service_token
from gas_core.events import AccountTierChanged, TierChangedPayload
from gas_core.tiers import Tier
from gas_gateway.outbox import enqueue
from gas_gateway.payments import TEST_CARD_ACCEPTED, TEST_CARD_DECLINED
from gas_testing.gateway import GatewayProcess, browser_login, provision_user
from gas_testing.plugin import ServiceProcess, Stack, received_events

pytestmark = pytest.mark.integration


def test_upgrade_with_the_test_card_makes_the_user_premium_and_tells_the_archiver(
    accounts_gateway: ServiceProcess, stack: Stack
) -> None:
    with httpx.Client(base_url=accounts_gateway.url) as browser:
        browser_login(browser, accounts_gateway.url, login="free", password="free")
        csrf = {"X-CSRF-Token": browser.cookies["gas_csrf"]}
        user_id = browser.get("/api/me").json()["id"]

        declined = browser.post(
            "/api/me/upgrade", json={"card_number": TEST_CARD_DECLINED}, headers=csrf
        )
        assert declined.status_code == 402
        assert "declined" in declined.json()["detail"]
        assert browser.get("/api/me").json()["tier"] == "free"
        assert received_events(stack, stack.settings.archiver_queue, wait_seconds=1) == []

        upgraded = browser.post(
            "/api/me/upgrade", json={"card_number": TEST_CARD_ACCEPTED}, headers=csrf
        )
        assert upgraded.status_code == 200, upgraded.text
        assert upgraded.json()["tier"] == "premium"
        assert upgraded.json()["upgraded_at"]
        assert browser.get("/api/me").json()["tier"] == "premium"

        again = browser.post(
            "/api/me/upgrade", json={"card_number": TEST_CARD_ACCEPTED}, headers=csrf
        )
        assert again.status_code == 409

    events = received_events(stack, stack.settings.archiver_queue, wait_seconds=5)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, AccountTierChanged)
    assert event.user_id == user_id
    assert (event.payload.old_tier, event.payload.new_tier) == (Tier.FREE, Tier.PREMIUM)


def test_services_look_up_users_on_the_internal_port_with_a_service_token_only(
    accounts_gateway: GatewayProcess, stack: Stack, gateway_database: str
) -> None:
    user_id, _ = provision_user(gateway_database, email="n@example.org", tier=Tier.PREMIUM)
    secret = stack.settings.internal_jwt_secret
    service = {"Authorization": f"Bearer {mint_service_token('notifier', secret)}"}
    internal = accounts_gateway.internal_url

    found = httpx.get(f"{internal}/internal/users/{user_id}", headers=service)
    assert found.status_code == 200
    assert found.json() == {
        "id": user_id,
        "email": "n@example.org",
        "name": "n@example.org",
        "tier": "premium",
    }
    missing = httpx.get(
        f"{internal}/internal/users/00000000-0000-0000-0000-000000000000", headers=service
    )
    assert missing.status_code == 404
    assert missing.json() == {"detail": UNKNOWN_USER}

    user_token = mint_internal_token(InternalIdentity(user_id=user_id, tier=Tier.PREMIUM), secret)
    for headers in ({}, {"Authorization": f"Bearer {user_token}"}):
        refused = httpx.get(f"{internal}/internal/users/{user_id}", headers=headers)
        assert refused.status_code == 401

    # The public port has no internal API at all, whatever the caller holds.
    for path in (f"/internal/users/{user_id}", "/internal/users", "/internal"):
        public = httpx.get(f"{accounts_gateway.url}{path}", headers=service)
        assert public.status_code == 404, path
        assert public.json() != {"detail": UNKNOWN_USER}
        assert "n@example.org" not in public.text
    # The internal port serves nothing else: no web app, no public API, no sign-in.
    for path in ("/", "/api/me", "/auth/login", "/api/openapi.json"):
        assert httpx.get(f"{internal}{path}", headers=service).status_code == 404, path
    # ... but answers probes like every GAS port.
    assert httpx.get(f"{internal}/readyz").status_code == 200


def test_a_worker_pointed_at_the_public_port_is_told_so_instead_of_skipping_the_user(
    accounts_gateway: GatewayProcess, stack: Stack, gateway_database: str
) -> None:
    user_id, _ = provision_user(gateway_database, email="w@example.org", tier=Tier.FREE)
    secret = stack.settings.internal_jwt_secret

    async def look_up() -> None:
        async with httpx.AsyncClient() as http:
            right = GatewayAccounts(
                http, gateway_url=accounts_gateway.internal_url, service="notifier", secret=secret
            )
            account = await right.get(user_id)
            assert account is not None and account.email == "w@example.org"
            assert await right.get("00000000-0000-0000-0000-000000000000") is None

            wrong = GatewayAccounts(
                http, gateway_url=accounts_gateway.url, service="notifier", secret=secret
            )
            with pytest.raises(AccountLookupFailed, match="GAS_NOTIFIER_GATEWAY_URL"):
                await wrong.get(user_id)

    asyncio.run(look_up())


def test_the_outbox_publishes_what_sns_missed(
    accounts_gateway: ServiceProcess, stack: Stack, gateway_database: str
) -> None:
    """An upgrade committed while SNS was unreachable still reaches the archiver."""
    user_id, _ = provision_user(gateway_database, email="o@example.org", tier=Tier.FREE)
    event = AccountTierChanged(
        user_id=user_id, payload=TierChangedPayload(old_tier=Tier.FREE, new_tier=Tier.PREMIUM)
    )

    async def record_unpublished_event() -> None:
        connection = await asyncpg.connect(gateway_database)
        try:
            await enqueue(connection, topic=stack.settings.account_events_topic, event=event)
        finally:
            await connection.close()

    asyncio.run(record_unpublished_event())
    events = received_events(stack, stack.settings.archiver_queue, wait_seconds=5)
    assert [received.event_id for received in events] == [event.event_id]

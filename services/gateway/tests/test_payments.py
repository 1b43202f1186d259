"""Which payment provider the gateway uses is a setting; test mode never reaches production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gas_gateway.payments import TEST_CARD_ACCEPTED, PaymentProviderName, payment_provider
from gas_gateway.settings import Settings

PRODUCTION = {
    "GAS_ENVIRONMENT": "production",
    "GAS_INTERNAL_JWT_SECRET": "a-real-secret-0123456789abcdef0123456789",
    "GAS_GATEWAY_PUBLIC_URL": "https://gas.example.org",
    "GAS_GATEWAY_OIDC_CLIENT_SECRET": "a-real-client-secret-0123456789",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*PRODUCTION, "GAS_GATEWAY_PAYMENT_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_development_takes_the_test_card(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("GAS_ENVIRONMENT", "development")
    provider = payment_provider(Settings().payment_provider)
    result = await provider.charge_upgrade(user_id="u1", card_number=TEST_CARD_ACCEPTED)
    assert result.accepted


async def test_elsewhere_upgrades_are_for_operators_unless_a_provider_is_named(
    environment: pytest.MonkeyPatch,
) -> None:
    for name, value in PRODUCTION.items():
        environment.setenv(name, value)
    settings = Settings()
    assert settings.payment_provider is PaymentProviderName.NONE
    result = await payment_provider(settings.payment_provider).charge_upgrade(
        user_id="u1", card_number=TEST_CARD_ACCEPTED
    )
    assert not result.accepted
    assert "ask its operators" in result.message


def test_test_mode_is_refused_in_production(environment: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        environment.setenv(name, value)
    environment.setenv("GAS_GATEWAY_PAYMENT_PROVIDER", "test")
    with pytest.raises(ValidationError, match="GAS_GATEWAY_PAYMENT_PROVIDER=test"):
        Settings()


def test_tests_name_the_test_provider(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("GAS_ENVIRONMENT", "test")
    environment.setenv("GAS_INTERNAL_JWT_SECRET", PRODUCTION["GAS_INTERNAL_JWT_SECRET"])
    environment.setenv("GAS_GATEWAY_PAYMENT_PROVIDER", "test")
    assert Settings().payment_provider is PaymentProviderName.TEST

"""Taking payment for an upgrade, by the provider the settings name: a test mode with
documented cards (development and tests only), or none (upgrades are an operator's job)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

TEST_CARD_ACCEPTED = "4242 4242 4242 4242"
TEST_CARD_DECLINED = "4000 0000 0000 0002"


@dataclass(frozen=True)
class PaymentResult:
    accepted: bool
    reference: str
    message: str


class PaymentProvider(Protocol):
    async def charge_upgrade(self, *, user_id: str, card_number: str) -> PaymentResult: ...


class TestModePayments:
    """Accepts the test card 4242 4242 4242 4242 and declines 4000 0000 0000 0002 (and
    anything else), without talking to anyone."""

    async def charge_upgrade(self, *, user_id: str, card_number: str) -> PaymentResult:
        digits = "".join(ch for ch in card_number if ch.isdigit())
        if digits == TEST_CARD_ACCEPTED.replace(" ", ""):
            return PaymentResult(True, f"test-{user_id}", "payment accepted (test mode)")
        if digits == TEST_CARD_DECLINED.replace(" ", ""):
            return PaymentResult(False, "", "the card was declined; use another card")
        return PaymentResult(
            False,
            "",
            f"test mode accepts only the test card {TEST_CARD_ACCEPTED}; no real card is charged",
        )


class UpgradesByOperator:
    """No online payment: every upgrade request is refused with what to do instead."""

    async def charge_upgrade(self, *, user_id: str, card_number: str) -> PaymentResult:
        return PaymentResult(
            False,
            "",
            "online upgrades are not enabled on this GAS deployment; ask its operators to "
            "upgrade your account",
        )


class PaymentProviderName(StrEnum):
    TEST = "test"
    NONE = "none"


def payment_provider(name: PaymentProviderName) -> PaymentProvider:
    if name is PaymentProviderName.TEST:
        return TestModePayments()
    return UpgradesByOperator()

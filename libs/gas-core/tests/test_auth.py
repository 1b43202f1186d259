import pytest
from pydantic import SecretStr

from gas_core.auth import (
    InternalIdentity,
    InvalidInternalToken,
    mint_internal_token,
    mint_service_token,
    verify_internal_token,
    verify_service_token,
)
from gas_core.tiers import Tier

SECRET = SecretStr("a" * 32)


def test_a_minted_token_verifies_to_the_same_identity() -> None:
    identity = InternalIdentity(user_id="u-1", tier=Tier.PREMIUM, email="a@example.org")
    assert verify_internal_token(mint_internal_token(identity, SECRET), SECRET) == identity


def test_forged_or_expired_tokens_are_refused() -> None:
    identity = InternalIdentity(user_id="u-1", tier=Tier.FREE)
    forged = mint_internal_token(identity, SecretStr("b" * 32))
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(forged, SECRET)
    expired = mint_internal_token(identity, SECRET, ttl_seconds=-60)
    with pytest.raises(InvalidInternalToken, match="expired"):
        verify_internal_token(expired, SECRET)


def test_a_service_token_names_its_service_and_is_not_a_user_token() -> None:
    token = mint_service_token("notifier", SECRET)
    assert verify_service_token(token, SECRET) == "notifier"
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(token, SECRET)
    user_token = mint_internal_token(InternalIdentity(user_id="u-1", tier=Tier.FREE), SECRET)
    with pytest.raises(InvalidInternalToken):
        verify_service_token(user_token, SECRET)
    with pytest.raises(InvalidInternalToken):
        verify_service_token(mint_service_token("notifier", SecretStr("b" * 32)), SECRET)

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gas_gateway.settings import Settings


def test_the_internal_api_never_shares_the_public_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAS_GATEWAY_PORT", "9000")
    monkeypatch.setenv("GAS_GATEWAY_INTERNAL_PORT", "9000")
    with pytest.raises(ValidationError, match=r"GAS_GATEWAY_INTERNAL_PORT \(9000\) must differ"):
        Settings()
    monkeypatch.setenv("GAS_GATEWAY_INTERNAL_PORT", "9005")
    assert (Settings().port, Settings().internal_port) == (9000, 9005)

import json

import pytest
from pydantic import ValidationError

from gas_core.events import AccountTierChanged, JobRequested, TierChangedPayload, parse_event
from gas_core.tiers import Tier


def make_request() -> JobRequested:
    return JobRequested.model_validate(
        {
            "job_id": "j-1",
            "user_id": "u-1",
            "payload": {
                "tier": "free",
                "input_bucket": "in",
                "input_key": "u-1/j-1/sample.vcf",
                "filename": "sample.vcf",
                "size_bytes": 1200,
            },
        }
    )


def test_an_event_survives_the_wire_with_its_type_and_correlation_id() -> None:
    event = make_request()
    parsed = parse_event(event.model_dump_json())
    assert isinstance(parsed, JobRequested)
    assert parsed == event
    assert parsed.job_id == "j-1"


def test_attributes_carry_type_tier_and_job_for_filter_policies() -> None:
    assert make_request().attributes() == {"type": "job.requested", "job_id": "j-1", "tier": "free"}
    upgrade = AccountTierChanged(
        user_id="u-1", payload=TierChangedPayload(old_tier=Tier.FREE, new_tier=Tier.PREMIUM)
    )
    assert upgrade.attributes() == {"type": "account.tier_changed", "tier": "premium"}


def test_unknown_type_or_future_version_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_event('{"type": "job.exploded", "user_id": "u-1", "payload": {}}')
    from_the_future = make_request().model_dump(mode="json") | {"version": 2}
    with pytest.raises(ValidationError):
        parse_event(json.dumps(from_the_future))

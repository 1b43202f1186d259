import pytest
from pydantic import ValidationError

from gas_core.settings import Environment, StackSettings


def test_placeholder_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="GAS_INTERNAL_JWT_SECRET is a placeholder"):
        StackSettings(environment=Environment.PRODUCTION, internal_jwt_secret="changeme")  # type: ignore[arg-type]


def test_development_runs_on_the_embedded_default() -> None:
    assert StackSettings(environment=Environment.DEVELOPMENT).internal_jwt_secret


def test_every_resource_name_carries_the_environment_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAS_PREFIX", "gas-staging")
    stack = StackSettings()
    names = [
        stack.inputs_bucket,
        stack.results_bucket,
        stack.archive_bucket,
        stack.jobs_table,
        stack.job_requests_topic,
        stack.annotator_queue,
    ]
    assert all(name.startswith("gas-staging-") for name in names)
    assert len(set(names)) == len(names)


def test_production_does_not_start_on_the_development_default_secret() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        StackSettings(environment=Environment.PRODUCTION)

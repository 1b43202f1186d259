"""The chart and the services cannot drift apart: every GAS_* variable the rendered chart sets is
a setting the service reads, each service's Settings loads from exactly the rendered environment
(its validators, production's included, accept it), and no setting is left at a default that
only works on one machine (127.0.0.1 addresses)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from k8s_chart import (
    CI_VALUES,
    SECRET_VALUES,
    Manifest,
    containers,
    environment,
    rendered,
    service_of,
)
from pydantic_settings import BaseSettings

from gas_core.settings import AwsSettings, StackSettings

SERVICES = ("gateway", "jobs", "annotator", "notifier", "archiver")


def settings_class(service: str) -> type[BaseSettings]:
    return importlib.import_module(f"gas_{service}.settings").Settings  # type: ignore[no-any-return]


def env_names(cls: type[BaseSettings], prefix: str, skip: frozenset[str] = frozenset()) -> set[str]:
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        if name in skip:
            continue
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.update(str(c).upper() for c in choices)
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def readable(service: str) -> set[str]:
    cls = settings_class(service)
    prefix = str(cls.model_config.get("env_prefix", ""))
    return (
        env_names(cls, prefix, frozenset({"aws", "stack"}))
        | env_names(AwsSettings, "GAS_AWS_")
        | env_names(StackSettings, "GAS_")
    )


def cases() -> list[Any]:
    found = []
    for values in CI_VALUES:
        for workload, container in containers(rendered(values)):
            name = f"{values.stem}:{workload['kind']}/{workload['metadata']['name']}"
            found.append(pytest.param(workload, container, id=name))
    return found


def test_every_service_is_covered() -> None:
    for values in CI_VALUES:
        assert {service_of(c) for _, c in containers(rendered(values))} == set(SERVICES)


@pytest.mark.parametrize(("workload", "container"), cases())
def test_the_service_reads_every_variable_the_chart_sets(
    workload: Manifest, container: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_of(container)
    env = environment(container)
    unknown = {
        name for name in env if (name.startswith("GAS_") or name == "DATABASE_URL")
    } - readable(service)
    assert unknown == set(), f"gas-{service} reads no such setting"

    for name in list(os.environ):
        if name.startswith("GAS_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings: Any = settings_class(service)()  # validators included: nothing missing or invalid

    assert settings.host == "0.0.0.0"
    if workload["kind"] == "Deployment":
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        expected = {"http": settings.port}
        if service == "gateway":
            expected["internal"] = settings.internal_port
        assert ports == expected
    local_only = [
        name
        for name, value in settings.model_dump().items()
        if isinstance(value, str) and "127.0.0.1" in value
    ]
    assert local_only == [], "left at a default that only works on one machine"
    assert (
        settings.stack.internal_jwt_secret.get_secret_value()
        == SECRET_VALUES["internal-jwt-secret"]
    )
    if service == "gateway":
        assert settings.database_url == SECRET_VALUES["database-url"]
        assert settings.oidc_client_secret.get_secret_value() == SECRET_VALUES["oidc-client-secret"]


def test_production_values_run_in_production_mode() -> None:
    for _, container in containers(
        rendered(Path(CI_VALUES[0]).parent / "eks-production-values.yaml")
    ):
        assert environment(container)["GAS_ENVIRONMENT"] == "production"

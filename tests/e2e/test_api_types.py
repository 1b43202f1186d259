"""The web app's TypeScript types are generated from the services' OpenAPI schemas
(`npm run api-types` in services/web); these tests fail when the committed copies fall behind."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.browser import WEB

API = WEB / "src" / "api"


def schema_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_openapi", WEB / "scripts" / "openapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("service", ["gateway", "jobs"])
def test_the_committed_schema_is_what_the_service_publishes(service: str) -> None:
    script = schema_script()
    committed = (API / "openapi" / f"{service}.json").read_text()
    assert committed == script.render(script.schemas()[service]), (
        f"the {service} API changed: run `npm run api-types` in services/web and commit the result"
    )


@pytest.mark.parametrize("service", ["gateway", "jobs"])
def test_the_typescript_types_are_generated_from_the_committed_schema(
    service: str, tmp_path: Path
) -> None:
    generator = WEB / "node_modules" / ".bin" / "openapi-typescript"
    if not generator.exists() or shutil.which("node") is None:
        pytest.skip("needs `npm ci` in services/web (make bootstrap)")
    output = tmp_path / f"{service}.ts"
    subprocess.run(
        [str(generator), str(API / "openapi" / f"{service}.json"), "-o", str(output)],
        check=True,
        capture_output=True,
    )
    assert (API / "generated" / f"{service}.ts").read_text() == output.read_text(), (
        "run `npm run api-types` in services/web and commit the result"
    )

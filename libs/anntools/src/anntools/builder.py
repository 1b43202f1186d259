"""Bundle build: read each configured track's sources and write its arrays."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from anntools.bundle import InfoHeader, Log, save_strings, to_axis
from anntools.config import BundleConfig, TrackSpec
from anntools.errors import BundleError
from anntools.fields import GENE_MODEL_FIELDS, info_escape
from anntools.genemodel import (
    GeneModelTables,
    Segmentation,
    build_gene_model,
    normalise_gene_table,
    place,
)
from anntools.genome import Genome
from anntools.segments import combine, label_sets, unique_rows
from anntools.sources import SourceResolver, SourceUnavailable, read_table


def write_tracks(
    config: BundleConfig, genome: Genome, staging: Path, log: Log
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[str]]:
    resolver = SourceResolver(staging / ".sources")
    (staging / ".sources").mkdir()
    entries: list[dict[str, Any]] = []
    interval_tracks: list[tuple[dict[str, Any], Segmentation]] = []
    notes: list[str] = list(config.notes)
    for spec in config.tracks:
        started = time.monotonic()
        directory = staging / "tracks" / spec.name
        directory.mkdir(parents=True)
        try:
            if spec.kind == "gene_model":
                entry = _gene_model_track(spec, genome, resolver, directory, notes)
            elif spec.kind == "intervals":
                entry, segmentation = _interval_track(spec, genome, resolver, directory)
                interval_tracks.append((entry, segmentation))
            else:
                entry = _known_variant_track(spec, genome, resolver, directory)
        except SourceUnavailable as error:
            if not spec.optional:
                raise
            notes.append(f"track {spec.name} skipped: {error}")
            log(f"skipped track {spec.name}: {error}")
            shutil.rmtree(directory)
            continue
        entry.update(name=spec.name, kind=spec.kind, description=spec.description)
        entries.append(entry)
        log(
            f"track {spec.name}: {entry.get('segments', entry.get('variants'))} rows "
            f"in {time.monotonic() - started:.1f}s"
        )
    if interval_tracks:
        _write_combined_intervals(staging, interval_tracks)
    sources = [provenance.as_dict() for provenance in resolver.provenance.values()]
    shutil.rmtree(staging / ".sources")
    return entries, sources, notes


def _read(spec: TrackSpec, key: str, resolver: SourceResolver) -> pd.DataFrame:
    source = spec.sources[key]
    return read_table(source, resolver.local_path(source))


def _gene_model_track(
    spec: TrackSpec, genome: Genome, resolver: SourceResolver, directory: Path, notes: list[str]
) -> dict[str, Any]:
    def gencode(key: str) -> pd.DataFrame | None:
        if key not in spec.sources:
            return None
        frame = normalise_gene_table(_read(spec, key, resolver))
        return place(
            frame,
            genome,
            chrom="_labels",
            start="_starts",
            end="_ends",
            coordinates=spec.sources[key].coordinates,
        )

    canonical = None
    if "canonical_exons" in spec.sources:
        raw = _read(spec, "canonical_exons", resolver)
        canonical = place(
            raw,
            genome,
            chrom="contig",
            start="start",
            end="end",
            coordinates=spec.sources["canonical_exons"].coordinates,
        )
    tables = GeneModelTables(
        genes=_required(gencode("genes")),
        transcripts=_required(gencode("transcripts")),
        exons=_required(gencode("exons")),
        cds=_required(gencode("cds")),
        start_codons=gencode("start_codons"),
        stop_codons=_required(gencode("stop_codons")),
        utrs=gencode("utrs"),
        utr5=gencode("utr5"),
        utr3=gencode("utr3"),
        canonical_exons=canonical,
        # Another build's MANE exons: only their lengths are used, so they are not placed.
        mane_exons=_read(spec, "mane_exons", resolver) if "mane_exons" in spec.sources else None,
        hgnc=_read(spec, "hgnc", resolver) if "hgnc" in spec.sources else None,
    )
    model = build_gene_model(tables, genome, spec.promoter_bp)
    notes.extend(f"{spec.name}: {note}" for note in model.notes)
    headers = {entry[0]: InfoHeader(*entry).__dict__ for entry in GENE_MODEL_FIELDS}
    _write_segmentation(directory / "genes", model.genes)
    _write_segmentation(directory / "regions", model.regions)
    _write_intervals(directory / "genes", model.gene_starts, model.gene_ends, model.gene_names)
    extra: dict[str, Any] = {}
    if model.transcripts is not None:
        models, texts = model.transcripts
        models.save(directory / "transcripts", texts)
        extra = {"transcripts_dir": f"tracks/{spec.name}/transcripts"}
    return {
        **extra,
        "segments": len(model.regions.boundaries),
        "genes": len(model.gene_names),
        "segmentations": [
            {
                "dir": f"tracks/{spec.name}/genes",
                "info": [headers[field] for field in ("GENE", "STRAND", "HGNC_NAME")],
            },
            {
                "dir": f"tracks/{spec.name}/regions",
                "info": [headers[field] for field in ("REGION", "EXON")],
            },
        ],
        "intervals_dir": f"tracks/{spec.name}/genes",
        "sources": sorted(spec.sources),
    }


def _write_segmentation(directory: Path, segmentation: Segmentation) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "boundaries.npy", to_axis(segmentation.boundaries))
    np.save(directory / "label_ids.npy", segmentation.label_ids.astype(np.int32))
    save_strings(directory, "labels", segmentation.labels)
    if segmentation.region_codes is not None:
        np.save(directory / "region_codes.npy", segmentation.region_codes)


def _write_intervals(
    directory: Path, starts: NDArray[Any], ends: NDArray[Any], names: list[str]
) -> None:
    """The raw intervals, for exporting the track to peer tools."""
    np.save(directory / "intervals.start.npy", to_axis(starts))
    np.save(directory / "intervals.end.npy", to_axis(ends))
    save_strings(directory, "intervals.name", names)


def _required(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        raise BundleError("gene model source missing")
    return frame


def _interval_track(
    spec: TrackSpec, genome: Genome, resolver: SourceResolver, directory: Path
) -> tuple[dict[str, Any], Segmentation]:
    columns = spec.columns
    frame = place(
        _read(spec, "source", resolver),
        genome,
        chrom=columns["chrom"],
        start=columns["start"],
        end=columns["end"],
        coordinates=spec.sources["source"].coordinates,
    )
    starts = frame["gstart"].to_numpy(np.int64)
    ends = frame["gend"].to_numpy(np.int64)
    field = str(spec.info_field)
    if spec.info_type == "Flag":
        names = ["1"] * len(frame)
        codes = np.zeros(len(frame), dtype=np.int64)
        vocabulary = [field]
    else:
        names = [str(label) for label in frame[columns["label"]]]
        if spec.label_prefix == "chromosome":
            names = [
                f"{chromosome}{label}"
                for chromosome, label in zip(frame["chromosome"], names, strict=True)
            ]
        vocabulary = list(dict.fromkeys(names))
        lookup = {label: code for code, label in enumerate(vocabulary)}
        codes = np.asarray([lookup[label] for label in names], dtype=np.int64)
    boundaries, sets = label_sets(starts, ends, codes)
    rendered: dict[tuple[int, ...], int] = {(): 0}
    labels: list[str | None] = [None]
    label_ids = np.empty(len(sets), dtype=np.int32)
    for index, active in enumerate(sets):
        if active not in rendered:
            rendered[active] = len(labels)
            labels.append(
                field
                if spec.info_type == "Flag"
                else f"{field}=" + ",".join(info_escape(vocabulary[c]) for c in active)
            )
        label_ids[index] = rendered[active]
    _write_intervals(directory, starts, ends, names)
    number = "0" if spec.info_type == "Flag" else "."
    header = InfoHeader(field, number, spec.info_type, spec.description).__dict__
    entry: dict[str, Any] = {
        "segments": len(boundaries),
        "intervals": len(frame),
        "info": [header],
        "intervals_dir": f"tracks/{spec.name}",
    }
    return entry, Segmentation(boundaries, label_ids, labels)


def _write_combined_intervals(
    staging: Path, tracks: list[tuple[dict[str, Any], Segmentation]]
) -> None:
    """All interval tracks in one segmentation, stored with the first of them: annotating
    then costs one lookup for them all instead of one per track."""
    boundaries, matrix = combine(
        [(segmentation.boundaries, segmentation.label_ids) for _, segmentation in tracks]
    )
    distinct, label_ids = unique_rows(matrix)
    labels: list[str | None] = []
    for row in distinct.tolist():
        parts = [
            segmentation.labels[label_id]
            for (_, segmentation), label_id in zip(tracks, row, strict=True)
            if segmentation.labels[label_id] is not None
        ]
        labels.append(";".join(part for part in parts if part) or None)
    first_entry = tracks[0][0]
    directory = staging / first_entry["intervals_dir"] / "combined"
    _write_segmentation(directory, Segmentation(boundaries, label_ids.astype(np.int32), labels))
    first_entry["segmentations"] = [
        {
            "dir": f"{first_entry['intervals_dir']}/combined",
            "info": [header for entry, _ in tracks for header in entry["info"]],
        }
    ]
    for entry, _ in tracks[1:]:
        entry["segmentations"] = []
        entry["stored_with"] = first_entry["intervals_dir"]


def _known_variant_track(
    spec: TrackSpec, genome: Genome, resolver: SourceResolver, directory: Path
) -> dict[str, Any]:
    columns = spec.columns
    raw = _read(spec, "source", resolver)
    chromosome_index = np.asarray([genome.index_of(str(c)) for c in raw[columns["chrom"]]])
    position = raw[columns["start"]].astype(np.int64).to_numpy()
    if spec.sources["source"].coordinates == "bed":
        position = position + 1
    lengths = np.asarray((*genome.lengths, 0), dtype=np.int64)[chromosome_index]
    keep = (chromosome_index >= 0) & (position >= 1) & (position <= lengths)
    frame = raw.loc[keep].assign(chrom_index=chromosome_index[keep], pos=position[keep])
    frame = frame.assign(alt_allele=frame[columns["alt"]].astype(str).str.split(",")).explode(
        "alt_allele"
    )
    frame["ref_allele"] = frame[columns["ref"]].astype(str).str.upper()
    frame["alt_allele"] = frame["alt_allele"].astype(str).str.upper()
    frame["global"] = genome.offsets[frame["chrom_index"].to_numpy(np.int64)] + frame["pos"] - 1
    frame = frame.sort_values(["global", "ref_allele", "alt_allele"], kind="stable")
    frame = frame.drop_duplicates(["global", "ref_allele", "alt_allele"])
    id_column = columns.get("id")
    ids: list[str | None] = (
        [str(value) if str(value) not in ("", ".", "nan") else None for value in frame[id_column]]
        if spec.set_id and id_column
        else [None] * len(frame)
    )
    info_values: list[str | None] = []
    info_columns = [
        (info.field, frame[info.column].astype(str).tolist()) for info in spec.info_columns
    ]
    for row in range(len(frame)):
        parts = [spec.flag] if spec.flag else []
        parts += [
            f"{name}={info_escape(values[row])}"
            for name, values in info_columns
            if values[row] not in ("", ".")
        ]
        info_values.append(";".join(parts) or None)
    positions = frame["global"].to_numpy(np.int64)
    np.save(directory / "positions.npy", to_axis(positions))
    save_strings(
        directory,
        "alleles",
        [
            f"{ref}\t{alt}"
            for ref, alt in zip(frame["ref_allele"], frame["alt_allele"], strict=True)
        ],
    )
    save_strings(directory, "ids", ids)
    save_strings(directory, "info", info_values)
    _, counts = np.unique(positions, return_counts=True)
    headers = []
    if spec.flag:
        headers.append(InfoHeader(spec.flag, "0", "Flag", spec.description).__dict__)
    headers += [
        InfoHeader(info.field, ".", "String", info.description).__dict__
        for info in spec.info_columns
    ]
    return {
        "dir": f"tracks/{spec.name}",
        "variants": len(frame),
        "set_id": spec.set_id,
        "max_per_position": int(counts.max()) if len(counts) else 0,
        "info": headers,
    }

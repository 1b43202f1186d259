"""annotate_file: stream a VCF through a bundle's tracks, chunk by chunk, without per-line loops.

Each chunk of lines is split into columns with numpy, every track is looked up with one
``searchsorted`` over all the chunk's variants, and the output lines are assembled by Arrow
``take`` over slices of the input buffer, so no Python code runs per variant except for rare
cases (multi-allelic known-variant matches, variants spanning several segments).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anntools.bgzf import BgzfWriter
from anntools.bundle import Bundle, KnownVariantTrack, SegmentTrack, ensure_bundle, load_bundle
from anntools.errors import BuildMismatchError, BundleError
from anntools.fields import REGION_CLASSES
from anntools.genome import BuildEvidence, build_fitting_position, detect_build_from_header
from anntools.vcf import CHUNK_BYTES, ChunkColumns, Header, VcfReader, split_columns

DEFAULT_BUILD = "GRCh37"
ALIGNED_GENE_FIELDS = ("GENE", "STRAND", "HGNC_NAME")
Progress = Callable[[float], None]


class RunLog:
    """Timestamped lines for the job log (a file, and/or a callback such as stderr)."""

    def __init__(self, path: Path | None, echo: Callable[[str], None] | None) -> None:
        self._handle = open(path, "w") if path else None  # noqa: SIM115 - closed in close()
        self._echo = echo

    def __call__(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        if self._handle:
            self._handle.write(line + "\n")
            self._handle.flush()
        if self._echo:
            self._echo(line)

    def close(self) -> None:
        if self._handle:
            self._handle.close()


@dataclass
class Tally:
    records: int = 0
    regions: Counter[str] = field(default_factory=Counter)
    known_matches: Counter[str] = field(default_factory=Counter)
    in_dbsnp: int = 0
    unknown_contigs: Counter[str] = field(default_factory=Counter)


def annotate_file(
    input_path: str | Path,
    output_path: str | Path,
    build: str | None = None,
    bundle_dir: str | Path | None = None,
    log_path: str | Path | None = None,
    progress: Progress | None = None,
    *,
    cache_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[str, Any]:
    """Annotate ``input_path`` (VCF or VCF.gz) into ``output_path`` (BGZF when it ends in .gz).

    Raises ``InputError`` (with ``.line``) for a bad input and ``BuildMismatchError`` when the
    input's build is not the bundle's. Returns a JSON-serialisable summary.
    """
    started = time.monotonic()
    output = Path(output_path)
    log = RunLog(Path(log_path) if log_path else None, echo)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        with VcfReader(input_path, chunk_bytes) as reader:
            evidence = detect_build_from_header(reader.header.meta_lines)
            bundle = _choose_bundle(build, bundle_dir, cache_dir, evidence, log)
            log(
                f"input {input_path}: {reader.header.sample_count} samples, "
                f"{'compressed' if reader.compressed else 'plain text'}"
            )
            _check_build(evidence, bundle, log)
            annotator = ChunkAnnotator(bundle, reader.header)
            tally = Tally()
            with _open_output(temporary) as sink:
                sink.write(annotator.header_text(input_path).encode())
                for text, first_line in reader.chunks():
                    sink.write(annotator.annotate(text, first_line, tally))
                    if progress:
                        progress(reader.fraction_read)
        temporary.replace(output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        log.close()
        raise
    seconds = time.monotonic() - started
    summary = _summary(input_path, output, bundle, evidence, tally, seconds)
    for line in _summary_lines(summary):
        log(line)
    log.close()
    if progress:
        progress(1.0)
    return summary


def _choose_bundle(
    build: str | None,
    bundle_dir: str | Path | None,
    cache_dir: str | Path | None,
    evidence: BuildEvidence,
    log: RunLog,
) -> Bundle:
    if bundle_dir is not None:
        bundle = load_bundle(bundle_dir)
        if build is not None and build != bundle.build:
            raise BundleError(
                f"--build {build} conflicts with the {bundle.build} bundle at {bundle_dir}"
            )
        return bundle
    if build is None:
        if evidence.build:
            build = evidence.build
            log(f"build {build} detected from the header ({evidence.reason})")
        else:
            build = DEFAULT_BUILD
            log(f"build not identifiable from the header ({evidence.reason}); using {build}")
    path = ensure_bundle(build, cache_dir, log=log)
    return load_bundle(path)


def _check_build(evidence: BuildEvidence, bundle: Bundle, log: RunLog) -> None:
    if evidence.build and evidence.build != bundle.build:
        raise BuildMismatchError(
            f"the input is {evidence.build} ({evidence.reason}) but the reference bundle is "
            f"{bundle.build}; annotate it with --build {evidence.build}",
            detected_build=evidence.build,
            bundle_build=bundle.build,
        )
    if evidence.build:
        log(f"input build {evidence.build} matches the bundle ({evidence.reason})")
    else:
        log(
            f"input build not stated in the header ({evidence.reason}); annotating as "
            f"{bundle.build} and checking positions against its chromosome lengths"
        )
    log(
        f"bundle {bundle.path}: {bundle.build}, created {bundle.manifest['created_at']}, "
        + ", ".join(f"{s['package']} {s['version']}" for s in _distinct_sources(bundle))
    )


def _distinct_sources(bundle: Bundle) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for source in bundle.manifest["sources"]:
        seen.setdefault(source["package"], source)
    return list(seen.values())


class _PlainSink:
    def __init__(self, path: Path) -> None:
        self._handle: BinaryIO = open(path, "wb", buffering=1 << 20)  # noqa: SIM115

    def write(self, data: bytes | memoryview) -> None:
        self._handle.write(data)

    def close(self) -> None:
        self._handle.close()


class _SinkContext:
    def __init__(self, sink: _PlainSink | BgzfWriter) -> None:
        self.sink = sink

    def __enter__(self) -> _PlainSink | BgzfWriter:
        return self.sink

    def __exit__(self, *_exc: object) -> None:
        self.sink.close()


def _open_output(temporary: Path) -> _SinkContext:
    if temporary.name.endswith(".gz.partial") or ".gz." in temporary.name:
        return _SinkContext(BgzfWriter(open(temporary, "wb")))
    return _SinkContext(_PlainSink(temporary))


class ChunkAnnotator:
    """Annotates chunks of VCF lines against one bundle."""

    def __init__(self, bundle: Bundle, header: Header) -> None:
        self.bundle = bundle
        self.header = header
        self.genome = bundle.genome
        self._chromosome_cache: dict[bytes, int] = {}
        self._lengths = np.asarray((*self.genome.lengths, 0), dtype=np.int64)
        self._offsets = np.append(self.genome.offsets, self.genome.total_length)
        self._dbsnp_tracks = {track.name for track in bundle.known_tracks if track.set_id}

    def header_text(self, input_path: str | Path) -> str:
        ours = self.bundle.info_headers()
        our_ids = {header.id for header in ours}
        kept = [
            line
            for line in self.header.meta_lines
            if not any(line.startswith(f"##INFO=<ID={i},") for i in our_ids)
        ]
        lines = kept + [header.header_line() for header in ours]
        lines.append(
            f"##anntools_bundle=<Build={self.bundle.build},"
            f"Created={self.bundle.manifest['created_at']},"
            f"Format={self.bundle.manifest['format_version']}>"
        )
        lines.append(self.header.column_line)
        return "\n".join(lines) + "\n"

    def annotate(self, text: bytes, first_line: int, tally: Tally) -> memoryview:
        columns = split_columns(text, first_line, self.header.column_count)
        count = columns.count
        tabs = columns.tabs
        chromosomes = self._chromosome_indexes(columns, tally)
        self._check_positions(columns, chromosomes, first_line)
        # Unknown contigs map past the genome's end, where every track is empty.
        queries = self._offsets[chromosomes] + columns.positions - 1
        ref_lengths = np.maximum(tabs[:, 3] - tabs[:, 2] - 1, 1)
        query_ends = np.where(chromosomes >= 0, queries + ref_lengths - 1, queries)

        pieces = _pieces(text, columns)
        ids = pieces.take(pa.array(np.arange(1, 5 * count, 5)))
        infos = pieces.take(pa.array(np.arange(3, 5 * count, 5)))
        allele_pairs = _slices(text, tabs[:, 2] + 1, tabs[:, 4])
        multi_allelic = _contains_comma(columns.data, tabs[:, 3], tabs[:, 4])

        info_parts: list[pa.Array] = [
            pc.if_else(pc.equal(infos, "."), pa.scalar(None, pa.string()), infos)
        ]
        new_ids: list[pa.Array] = []
        in_dbsnp = np.zeros(count, dtype=bool)
        for known in self.bundle.known_tracks:
            matched, found_ids, found_info = _match_known(
                known, queries, allele_pairs, multi_allelic
            )
            tally.known_matches[known.name] += int(matched.sum())
            if known.name in self._dbsnp_tracks:
                in_dbsnp |= matched
            if known.set_id:
                new_ids.append(found_ids)
            info_parts.append(found_info)
        tally.in_dbsnp += int(in_dbsnp.sum())

        region_codes = np.full(count, -1, dtype=np.int8)
        for track in self.bundle.segment_tracks:
            labels, codes = _lookup_segments(track, queries, query_ends)
            info_parts.append(labels)
            if codes is not None:
                region_codes = codes
        self._count_regions(region_codes, tally)
        tally.records += count

        new_info = pc.fill_null(_join_skipping_nulls(info_parts), ".")
        new_id = _merge_ids(ids, new_ids)
        parts = pa.concat_arrays([pieces, new_id, new_info])
        line = np.arange(count, dtype=np.int64)
        order = np.stack(
            [5 * line, 5 * count + line, 5 * line + 2, 6 * count + line, 5 * line + 4], axis=1
        ).reshape(-1)
        joined = parts.take(pa.array(order))
        _, offsets, data = joined.buffers()
        end = int(np.frombuffer(offsets, dtype=np.int32)[joined.offset + len(joined)])
        start = int(np.frombuffer(offsets, dtype=np.int32)[joined.offset])
        return memoryview(data)[start:end]

    def _chromosome_indexes(self, columns: ChunkColumns, tally: Tally) -> np.ndarray:
        data = columns.data
        starts = columns.line_starts
        lengths = columns.tabs[:, 0] - starts
        if int(lengths.max()) <= 8 and int(lengths.min()) >= 1:
            index = starts[:, None] + np.arange(8)
            packed = np.where(
                np.arange(8) < lengths[:, None], data[np.minimum(index, len(data) - 1)], 0
            ).astype(np.uint8)
            keys = np.ascontiguousarray(packed).view("<u8").reshape(-1)
            if keys[0] == keys[-1] and np.all(keys == keys[0]):
                distinct, inverse = keys[:1], np.zeros(len(keys), dtype=np.int64)
            else:
                distinct, inverse = np.unique(keys, return_inverse=True)
            names = [key.tobytes().rstrip(b"\0") for key in distinct]
        else:
            raw = [
                bytes(data[a:b])
                for a, b in zip(starts.tolist(), columns.tabs[:, 0].tolist(), strict=True)
            ]
            names = list(dict.fromkeys(raw))
            position = {name: i for i, name in enumerate(names)}
            inverse = np.asarray([position[name] for name in raw], dtype=np.int64)
        codes = np.asarray([self._chromosome_code(name) for name in names], dtype=np.int64)
        result = codes[inverse]
        unknown = result < 0
        if np.any(unknown):
            for name_index in np.unique(inverse[unknown]).tolist():
                label = names[name_index].decode("utf-8", "replace")
                tally.unknown_contigs[label] += int(np.sum(inverse == name_index))
        return np.where(result < 0, len(self.genome.names), result)

    def _chromosome_code(self, name: bytes) -> int:
        if name not in self._chromosome_cache:
            self._chromosome_cache[name] = self.genome.index_of(name.decode("utf-8", "replace"))
        return self._chromosome_cache[name]

    def _check_positions(
        self, columns: ChunkColumns, chromosomes: np.ndarray, first_line: int
    ) -> None:
        beyond = columns.positions > self._lengths[chromosomes]
        beyond &= chromosomes < len(self.genome.names)
        if not np.any(beyond):
            return
        row = int(np.flatnonzero(beyond)[0])
        chromosome = self.genome.names[int(chromosomes[row])]
        position = int(columns.positions[row])
        other = build_fitting_position(chromosome, position)
        detected = other if other and other != self.bundle.build else None
        hint = (
            f"; the input looks like {detected}, annotate it with --build {detected}"
            if detected
            else "; check that the input is a human GRCh37/GRCh38 VCF"
        )
        raise BuildMismatchError(
            f"position {chromosome}:{position} is beyond the end of chromosome {chromosome} in "
            f"{self.bundle.build} ({self._lengths[chromosomes[row]]} bp){hint}",
            detected_build=detected,
            bundle_build=self.bundle.build,
            line=first_line + row,
        )

    def _count_regions(self, region_codes: np.ndarray, tally: Tally) -> None:
        if self.bundle.gene_model is None:
            return
        counts = np.bincount(region_codes.astype(np.int64) + 1, minlength=len(REGION_CLASSES) + 1)
        if counts[0]:
            tally.regions["unknown_contig"] += int(counts[0])
        for code, name in enumerate(REGION_CLASSES):
            if counts[code + 1]:
                tally.regions[name] += int(counts[code + 1])


def _pieces(text: bytes, columns: ChunkColumns) -> pa.Array:
    """The chunk cut, without copying, into five strings per line that tile it:
    ``CHROM\\tPOS\\t`` | ID | ``\\tREF\\tALT\\tQUAL\\tFILTER\\t`` | INFO | rest with the newline."""
    count = columns.count
    tabs = columns.tabs
    offsets = np.empty(5 * count + 1, dtype=np.int32)
    offsets[0:-1:5] = columns.line_starts
    offsets[1:-1:5] = tabs[:, 1] + 1
    offsets[2:-1:5] = tabs[:, 2]
    offsets[3:-1:5] = tabs[:, 6] + 1
    offsets[4:-1:5] = tabs[:, 7]
    offsets[-1] = len(text)
    return pa.Array.from_buffers(
        pa.string(), 5 * count, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


def _slices(text: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Strings text[start:end] (the gaps between them become ignored odd elements)."""
    count = len(starts)
    offsets = np.empty(2 * count + 1, dtype=np.int32)
    offsets[0:-1:2] = starts
    offsets[1:-1:2] = ends
    offsets[-1] = len(text)
    both = pa.Array.from_buffers(
        pa.string(), 2 * count, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )
    return both.take(pa.array(np.arange(0, 2 * count, 2)))


def _contains_comma(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    commas = np.flatnonzero(data == ord(","))
    return np.searchsorted(commas, ends) > np.searchsorted(commas, starts)


def _match_known(
    track: KnownVariantTrack, queries: np.ndarray, allele_pairs: pa.Array, multi_allelic: np.ndarray
) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Known entries with the same position, REF and ALT (each ALT of a multi-allelic record)."""
    count = len(queries)
    low = np.searchsorted(track.positions, queries, side="left")
    high = np.searchsorted(track.positions, queries, side="right")
    candidates = np.flatnonzero(high > low)
    matched_row = np.full(count, -1, dtype=np.int64)
    simple = candidates[~multi_allelic[candidates]]
    if len(simple):
        wanted = pc.utf8_upper(allele_pairs.take(pa.array(simple)))
        for step in range(track.max_per_position):
            open_rows = (low[simple] + step < high[simple]) & (matched_row[simple] < 0)
            rows = np.flatnonzero(open_rows)
            if not len(rows):
                break
            known = track.alleles.take(pa.array(low[simple[rows]] + step))
            equal = pc.equal(wanted.take(pa.array(rows)), known).to_numpy(zero_copy_only=False)
            hits = simple[rows[equal]]
            matched_row[hits] = low[hits] + step
    mask = matched_row < 0
    indices = pa.array(np.maximum(matched_row, 0), mask=mask)
    ids = track.ids.take(indices)
    info = track.info_values.take(indices)
    matched = ~mask
    multi = candidates[multi_allelic[candidates]]
    if len(multi):
        multi_ids, multi_info, multi_hit = _match_multi_allelic(
            track, multi, low, high, allele_pairs
        )
        if multi_hit.any():
            rows = multi[multi_hit]
            replace = np.zeros(count, dtype=bool)
            replace[rows] = True
            ids = pc.replace_with_mask(
                ids,
                pa.array(replace),
                pa.array([multi_ids[i] for i in np.flatnonzero(multi_hit)], pa.string()),
            )
            info = pc.replace_with_mask(
                info,
                pa.array(replace),
                pa.array([multi_info[i] for i in np.flatnonzero(multi_hit)], pa.string()),
            )
            matched[rows] = True
    return matched, ids, info


def _match_multi_allelic(
    track: KnownVariantTrack,
    rows: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    allele_pairs: pa.Array,
) -> tuple[list[str | None], list[str | None], np.ndarray]:
    pairs = allele_pairs.take(pa.array(rows)).to_pylist()
    ids: list[str | None] = []
    infos: list[str | None] = []
    hit = np.zeros(len(rows), dtype=bool)
    for index, (row, pair) in enumerate(zip(rows.tolist(), pairs, strict=True)):
        ref, _, alts = pair.upper().partition("\t")
        wanted = {f"{ref}\t{alt}" for alt in alts.split(",")}
        found = [
            j for j in range(int(low[row]), int(high[row])) if track.alleles[j].as_py() in wanted
        ]
        found_ids = [track.ids[j].as_py() for j in found if track.ids[j].is_valid]
        found_info = _merge_labels(
            [track.info_values[j].as_py() for j in found if track.info_values[j].is_valid]
        )
        ids.append(";".join(dict.fromkeys(found_ids)) or None)
        infos.append(found_info)
        hit[index] = bool(found)
    return ids, infos, hit


def _join_skipping_nulls(parts: list[pa.Array]) -> pa.Array:
    """Join with ';' leaving out nulls, null where all are null. (pyarrow 11's
    ``null_handling="skip"`` drops all-null rows instead, shortening the array.)"""
    joined = parts[0]
    for part in parts[1:]:
        joined = pc.coalesce(pc.binary_join_element_wise(joined, part, ";"), joined, part)
    return joined


def _merge_ids(existing: pa.Array, found: list[pa.Array]) -> pa.Array:
    if not found:
        return existing
    matched = _join_skipping_nulls(found)
    missing = pc.equal(existing, ".")
    combined = pc.if_else(
        missing,
        matched,
        pc.if_else(
            pc.equal(existing, matched),
            existing,
            pc.binary_join_element_wise(existing, matched, ";"),
        ),
    )
    return pc.coalesce(combined, existing)


def _lookup_segments(
    track: SegmentTrack, starts: np.ndarray, ends: np.ndarray
) -> tuple[pa.Array, np.ndarray | None]:
    first = np.searchsorted(track.boundaries, starts, side="right") - 1
    last = np.searchsorted(track.boundaries, ends, side="right") - 1
    label_ids = np.asarray(track.label_ids[first])
    labels = track.labels.take(pa.array(label_ids))
    codes = None if track.region_codes is None else np.asarray(track.region_codes[first])
    spanning = np.flatnonzero(last != first)
    if len(spanning):
        merged: list[str | None] = []
        for row in spanning.tolist():
            segment_ids = np.unique(np.asarray(track.label_ids[first[row] : last[row] + 1]))
            merged.append(
                _merge_labels(
                    [
                        track.labels[int(i)].as_py()
                        for i in segment_ids
                        if track.labels[int(i)].is_valid
                    ]
                )
            )
            if codes is not None:
                region = np.asarray(track.region_codes[first[row] : last[row] + 1])
                region = region[region >= 0]
                codes[row] = region.min() if len(region) else -1
        replace = np.zeros(len(starts), dtype=bool)
        replace[spanning] = True
        labels = pc.replace_with_mask(labels, pa.array(replace), pa.array(merged, pa.string()))
    return labels, codes


def _merge_labels(labels: list[str]) -> str | None:
    """Union of INFO snippets from several segments (a variant whose REF spans them)."""
    if not labels:
        return None
    values: dict[str, list[str]] = {}
    flags: list[str] = []
    genes: list[tuple[str, ...]] = []
    for label in labels:
        parsed: dict[str, list[str]] = {}
        for item in label.split(";"):
            key, has_value, value = item.partition("=")
            if has_value:
                parsed[key] = value.split(",")
            else:
                flags.append(key)
        gene_names = parsed.get("GENE")
        if gene_names:
            aligned = [parsed.pop(key, ["."] * len(gene_names)) for key in ALIGNED_GENE_FIELDS]
            genes += list(zip(*aligned, strict=True))
        for key, items in parsed.items():
            values.setdefault(key, []).extend(items)
    unique_genes = list(dict.fromkeys(genes))
    merged: dict[str, list[str]] = {}
    if unique_genes:
        merged["GENE"] = [gene[0] for gene in unique_genes]
    for key, items in values.items():
        if key == "REGION":
            merged[key] = [min(items, key=REGION_CLASSES.index)]
        else:
            merged[key] = list(dict.fromkeys(items))
    if unique_genes:
        merged["STRAND"] = [gene[1] for gene in unique_genes]
        merged["HGNC_NAME"] = [gene[2] for gene in unique_genes]
    parts = [f"{key}={','.join(items)}" for key, items in merged.items()]
    return ";".join(parts + list(dict.fromkeys(flags)))


def _summary(
    input_path: str | Path,
    output: Path,
    bundle: Bundle,
    evidence: BuildEvidence,
    tally: Tally,
    seconds: float,
) -> dict[str, Any]:
    records = tally.records
    return {
        "input": str(input_path),
        "output": str(output),
        "build": bundle.build,
        "build_detection": {"detected": evidence.build, "reason": evidence.reason},
        "variants": records,
        "region_counts": {
            name: tally.regions.get(name, 0) for name in (*REGION_CLASSES, "unknown_contig")
        },
        "in_dbsnp": tally.in_dbsnp,
        "pct_in_dbsnp": round(100.0 * tally.in_dbsnp / records, 3) if records else 0.0,
        "known_variant_matches": dict(tally.known_matches),
        "unknown_contigs": dict(tally.unknown_contigs),
        "seconds": round(seconds, 3),
        "variants_per_second": round(records / seconds, 1) if seconds > 0 else 0.0,
        "provenance": bundle.provenance(),
    }


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"annotated {summary['variants']} variants in {summary['seconds']} s "
        f"({summary['variants_per_second']:.0f} variants/s)",
        f"in dbSNP: {summary['in_dbsnp']} ({summary['pct_in_dbsnp']}%)",
    ]
    lines += [f"region {name}: {count}" for name, count in summary["region_counts"].items()]
    if summary["unknown_contigs"]:
        lines.append(f"contigs outside the bundle (not annotated): {summary['unknown_contigs']}")
    lines.append("provenance: " + json.dumps(summary["provenance"]["sources"]))
    return lines

"""annotate_file: stream a VCF through a bundle, chunk by chunk, into a new VCF and a summary."""

from __future__ import annotations

import gc
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from anntools.arrow import use_lean_memory_pool
from anntools.bgzf import BgzfWriter
from anntools.buildcheck import resolve_build
from anntools.bundle import Bundle
from anntools.consequences import TERM_NAMES
from anntools.engine import ChunkAnnotator, Tally
from anntools.errors import AnnToolsError
from anntools.fields import REGION_CLASSES
from anntools.genome import BuildEvidence
from anntools.native import BufferPool
from anntools.vcf import CHUNK_BYTES, VcfReader

WORKER_THREADS = 2
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
    force_build: bool = False,
    consequences: bool = True,
) -> dict[str, Any]:
    """Annotate ``input_path`` (VCF or VCF.gz) into ``output_path`` (BGZF when it ends in .gz).

    Raises ``InputError`` (with ``.line``) for a bad input and ``BuildMismatchError`` when the
    input's build is not the bundle's (see ``anntools.buildcheck``; ``force_build`` annotates
    with the requested build or bundle even so). ``consequences`` adds CSQ (Sequence Ontology
    terms per allele and transcript) and MOST_SEVERE_CSQ. Returns a JSON-serialisable summary.
    """
    started = time.monotonic()
    use_lean_memory_pool()
    output = Path(output_path)
    log = RunLog(Path(log_path) if log_path else None, echo)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        with VcfReader(input_path, chunk_bytes) as reader:
            log(
                f"input {input_path}: {reader.header.sample_count} samples, "
                f"{'compressed' if reader.compressed else 'plain text'}"
            )
            evidence, bundle = resolve_build(
                input_path,
                reader.header,
                build=build,
                bundle_dir=bundle_dir,
                cache_dir=cache_dir,
                force_build=force_build,
            )
            _log_build(evidence, bundle, force_build, log)
            annotator = ChunkAnnotator(bundle, reader.header, consequences=consequences)
            if consequences and annotator.transcripts is None:
                log("consequences skipped: the bundle has no transcripts")
            if annotator.replaced_fields:
                log(
                    "the input was annotated before (its header declares "
                    f"{', '.join(annotator.replaced_fields)}); their old values are replaced"
                )
            tally = Tally()
            with (
                closing(_open_output(temporary, output.name.endswith(".gz"))) as sink,
                ThreadPoolExecutor(max_workers=WORKER_THREADS) as workers,
                _no_cyclic_gc(),
            ):
                sink.write(annotator.header_text().encode())
                # Chunks are annotated on worker threads while this one reads (and decompresses)
                # the next; results are written strictly in input order.
                in_flight: deque[tuple[Future[tuple[memoryview, Tally]], float]] = deque()
                buffers = BufferPool()
                for text, first_line in reader.chunks():
                    future = workers.submit(annotator.annotate, text, first_line, buffers)
                    in_flight.append((future, reader.fraction_read))
                    if len(in_flight) > WORKER_THREADS:
                        _write_next(in_flight, sink, tally, progress, buffers)
                while in_flight:
                    _write_next(in_flight, sink, tally, progress, buffers)
        temporary.replace(output)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, AnnToolsError):
            log(f"failed: {error}")
        log.close()
        raise
    seconds = time.monotonic() - started
    summary = _summary(input_path, output, bundle, evidence, tally, seconds, force_build)
    for line in _summary_lines(summary):
        log(line)
    log.close()
    if progress:
        progress(1.0)
    return summary


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Python's cycle collector paused: chunks make no reference cycles, and its passes (every
    700 allocations, holding the GIL) cost ~5% of a run and stalled the other worker thread."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _log_build(evidence: BuildEvidence, bundle: Bundle, forced: bool, log: RunLog) -> None:
    if evidence.source == "header" and evidence.build == bundle.build:
        log(f"input build {evidence.build} matches the bundle ({evidence.reason})")
    elif evidence.source == "data":
        log(f"input build {evidence.build} detected from its records ({evidence.reason})")
    else:
        log(f"input build: {evidence.reason}; annotating as {bundle.build}")
    for clue in evidence.clues:
        log(f"build evidence: {clue}")
    if forced:
        log("--force-build: the build was not checked against the input's evidence")
    log(
        f"bundle {bundle.path}: {bundle.build}, created {bundle.manifest['created_at']}, "
        + ", ".join(f"{s['package']} {s['version']}" for s in _distinct_sources(bundle))
    )


def _distinct_sources(bundle: Bundle) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for source in bundle.manifest["sources"]:
        seen.setdefault(source["package"], source)
    return list(seen.values())


def _write_next(
    in_flight: deque[tuple[Future[tuple[memoryview, Tally]], float]],
    sink: BgzfWriter | BinaryIO,
    tally: Tally,
    progress: Progress | None,
    buffers: BufferPool,
) -> None:
    future, fraction = in_flight.popleft()
    lines, chunk_tally = future.result()
    sink.write(lines)
    buffers.give(lines)  # written (BGZF copies what it keeps): a later chunk reuses it
    tally.add(chunk_tally)
    if progress:
        progress(fraction)


def _open_output(path: Path, bgzf: bool) -> BgzfWriter | BinaryIO:
    handle = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by the caller
    return BgzfWriter(handle) if bgzf else handle


def _summary(
    input_path: str | Path,
    output: Path,
    bundle: Bundle,
    evidence: BuildEvidence,
    tally: Tally,
    seconds: float,
    forced: bool,
) -> dict[str, Any]:
    variants = tally.records - tally.reference_blocks

    def percent(count: int) -> float:
        return round(100.0 * count / variants, 3) if variants else 0.0

    return {
        "input": str(input_path),
        "output": str(output),
        "build": bundle.build,
        "build_detection": {**evidence.as_dict(), "forced": forced},
        "records": tally.records,
        "variants": variants,
        "reference_blocks": tally.reference_blocks,
        "structural_variants": tally.structural_variants,
        "region_counts": {
            name: tally.regions.get(name, 0) for name in (*REGION_CLASSES, "unknown_contig")
        },
        "consequence_counts": {
            TERM_NAMES[index]: count for index, count in sorted(tally.consequences.items())
        },
        "in_dbsnp": tally.in_dbsnp,
        "pct_in_dbsnp": percent(tally.in_dbsnp),
        "rsids_in_input": tally.rsids_in_input,
        "pct_rsids_in_input": percent(tally.rsids_in_input),
        "common_snp_matches": tally.common_snp_matches,
        "pct_common_snp_matches": percent(tally.common_snp_matches),
        "known_variant_matches": dict(tally.known_matches),
        "unknown_contigs": dict(tally.unknown_contigs),
        "reannotated_variants": tally.reannotated,
        "seconds": round(seconds, 3),
        "variants_per_second": round(tally.records / seconds, 1) if seconds > 0 else 0.0,
        "provenance": bundle.provenance(),
    }


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"annotated {summary['variants']} variants in {summary['seconds']} s "
        f"({summary['variants_per_second']:.0f} variants/s)",
        f"rsIDs present in the input: {summary['rsids_in_input']} "
        f"({summary['pct_rsids_in_input']}%)",
        f"matched our common-SNP set: {summary['common_snp_matches']} "
        f"({summary['pct_common_snp_matches']}%)",
        f"with an rsID after annotation: {summary['in_dbsnp']} ({summary['pct_in_dbsnp']}%)",
    ]
    if summary["reference_blocks"]:
        lines.append(
            f"reference blocks (ALT . or <NON_REF>, passed through unannotated): "
            f"{summary['reference_blocks']}"
        )
    if summary["structural_variants"]:
        lines.append(
            f"structural variants annotated over POS..END: {summary['structural_variants']}"
        )
    lines += [f"region {name}: {count}" for name, count in summary["region_counts"].items()]
    lines += [
        f"most severe consequence {name}: {count}"
        for name, count in summary["consequence_counts"].items()
    ]
    if summary["reannotated_variants"]:
        lines.append(
            f"variants whose earlier annotation was replaced: {summary['reannotated_variants']}"
        )
    if summary["unknown_contigs"]:
        lines.append(f"contigs outside the bundle (not annotated): {summary['unknown_contigs']}")
    lines.append("provenance: " + json.dumps(summary["provenance"]["sources"]))
    return lines

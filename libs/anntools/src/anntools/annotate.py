"""annotate_file: stream a VCF through a bundle, chunk by chunk, into a new VCF and a summary."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, BinaryIO

from anntools.arrow import use_lean_memory_pool
from anntools.bgzf import BgzfWriter
from anntools.bundle import Bundle, ensure_bundle, load_bundle
from anntools.engine import ChunkAnnotator, Tally
from anntools.errors import AnnToolsError, BuildMismatchError, BundleError
from anntools.fields import REGION_CLASSES
from anntools.genome import BuildEvidence, detect_build_from_header
from anntools.vcf import CHUNK_BYTES, VcfReader

DEFAULT_BUILD = "GRCh37"
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
) -> dict[str, Any]:
    """Annotate ``input_path`` (VCF or VCF.gz) into ``output_path`` (BGZF when it ends in .gz).

    Raises ``InputError`` (with ``.line``) for a bad input and ``BuildMismatchError`` when the
    input's build is not the bundle's. Returns a JSON-serialisable summary.
    """
    started = time.monotonic()
    use_lean_memory_pool()
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
            if annotator.replaced_fields:
                log(
                    "the input was annotated before (its header declares "
                    f"{', '.join(annotator.replaced_fields)}); their old values are replaced"
                )
            tally = Tally()
            with (
                closing(_open_output(temporary, output.name.endswith(".gz"))) as sink,
                ThreadPoolExecutor(max_workers=WORKER_THREADS) as workers,
            ):
                sink.write(annotator.header_text().encode())
                # Chunks are annotated on worker threads while this one reads (and decompresses)
                # the next; results are written strictly in input order.
                in_flight: deque[tuple[Future[tuple[memoryview, Tally]], float]] = deque()
                for text, first_line in reader.chunks():
                    in_flight.append(
                        (workers.submit(annotator.annotate, text, first_line), reader.fraction_read)
                    )
                    if len(in_flight) > WORKER_THREADS:
                        _write_next(in_flight, sink, tally, progress)
                while in_flight:
                    _write_next(in_flight, sink, tally, progress)
        temporary.replace(output)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, AnnToolsError):
            log(f"failed: {error}")
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


def _write_next(
    in_flight: deque[tuple[Future[tuple[memoryview, Tally]], float]],
    sink: BgzfWriter | BinaryIO,
    tally: Tally,
    progress: Progress | None,
) -> None:
    future, fraction = in_flight.popleft()
    lines, chunk_tally = future.result()
    sink.write(lines)
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
) -> dict[str, Any]:
    variants = tally.records - tally.reference_blocks

    def percent(count: int) -> float:
        return round(100.0 * count / variants, 3) if variants else 0.0

    return {
        "input": str(input_path),
        "output": str(output),
        "build": bundle.build,
        "build_detection": evidence.as_dict(),
        "records": tally.records,
        "variants": variants,
        "reference_blocks": tally.reference_blocks,
        "structural_variants": tally.structural_variants,
        "region_counts": {
            name: tally.regions.get(name, 0) for name in (*REGION_CLASSES, "unknown_contig")
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
    if summary["reannotated_variants"]:
        lines.append(
            f"variants whose earlier annotation was replaced: {summary['reannotated_variants']}"
        )
    if summary["unknown_contigs"]:
        lines.append(f"contigs outside the bundle (not annotated): {summary['unknown_contigs']}")
    lines.append("provenance: " + json.dumps(summary["provenance"]["sources"]))
    return lines

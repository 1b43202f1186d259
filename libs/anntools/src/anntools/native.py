"""The compiled CSQ entry writer (``_csq.c``), loaded with ctypes.

The package's build hook (``hatch_build.py``) compiles ``_csq.c`` into ``_csq.so`` beside this
file. ctypes releases the GIL for the call, so the annotating threads write entries in parallel.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

LIBRARY = Path(__file__).with_name("_csq.so")
# The per-pair int64 columns, in the order of _csq.c's C_* enum.
PAIR_COLUMNS = (
    "allele",
    "terms",
    "tx",
    "flags",
    "exon",
    "exons",
    "intron",
    "a_cdna",
    "b_cdna",
    "a_offset",
    "b_offset",
    "coding_start",
    "coding_end",
    "distance",
)
# Bits of the "flags" column (_csq.c's F_*), lowest first.
FLAGS = (
    "outside",
    "has_exon",
    "has_intron",
    "located",
    "ins",
    "snv",
    "deletion",
    "delins",
    "plus",
    "a_in_exon",
    "b_in_exon",
)
# The string arrays entries are cut from (_csq.c's P_*): allele/ref/alt by allele, terms by the
# "terms" column, static/tail/prefix by transcript, hgvsp by pair (or None).
POOLS = ("allele", "terms", "static", "tail", "prefix", "ref", "alt", "hgvsp")
_EMPTY = np.zeros(1, dtype=np.uint8)
_NO_OFFSETS = np.zeros(1, dtype=np.int32)


class _Pool(ctypes.Structure):
    _fields_ = (("data", ctypes.c_void_p), ("offsets", ctypes.c_void_p))


@cache
def _library() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL(str(LIBRARY))
    except OSError as error:
        raise ImportError(
            f"anntools' compiled CSQ writer {LIBRARY} is missing or cannot be loaded ({error}); "
            "reinstall anntools where a C compiler (cc) is present, e.g. "
            "`uv sync --reinstall-package anntools`"
        ) from error
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    signatures = {
        # name: (result, arguments)
        "csq_column_count": (count, ()),
        "csq_pair_overhead": (count, ()),
        "csq_rules": (None, (pointer,)),
        "csq_pair_bounds": (count, (count, *(pointer,) * 5)),
        "csq_pairs": (count, (count, *(pointer,) * 4)),
        "csq_terms": (count, (count, *(pointer,) * 5)),
        "csq_allele_bounds": (None, (pointer, count, *(pointer,) * 5)),
        "csq_alleles": (count, (pointer, count, *(pointer,) * 12)),
        "assemble_lines": (count, (pointer, pointer)),
        "search_sorted_u32": (None, (pointer, count, pointer, count, ctypes.c_int, pointer)),
        "vcf_columns": (count, (pointer, count, count, pointer, count, pointer, pointer)),
    }
    for name, (result, arguments) in signatures.items():
        function = getattr(library, name)
        function.restype = result
        function.argtypes = arguments
    if library.csq_column_count() != len(PAIR_COLUMNS):
        raise ImportError(f"{LIBRARY} is stale (its columns differ): reinstall anntools")
    return library


RULE_NAMES = (
    "UPSTREAM_BP",
    "SPLICE_REGION_EXON_BP",
    "SPLICE_REGION_INTRON_BP",
    "START_CODON",
    "STOP_CODON",
    "splice_acceptor_variant",
    "splice_donor_variant",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "inframe_insertion",
    "inframe_deletion",
    "splice_region_variant",
    "coding_sequence_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant",
    "intron_variant",
    "non_coding_transcript_variant",
    "upstream_gene_variant",
    "downstream_gene_variant",
)


def rules() -> dict[str, int]:
    """The C side's constants (windows, transcript flags) and term bits, by name."""
    values = np.zeros(len(RULE_NAMES), dtype=np.int64)
    _library().csq_rules(values.ctypes.data)
    return dict(zip(RULE_NAMES, values.tolist(), strict=True))


def has_flags(flags: NDArray[Any], *names: str) -> NDArray[Any]:
    """Whether each pair's "flags" column has all of ``names`` (``FLAGS``)."""
    wanted = 0
    for name in names:
        wanted |= 1 << FLAGS.index(name)
    result: NDArray[Any] = (flags & wanted) == wanted
    return result


# The dtypes bundles store TranscriptModels' arrays in (what _csq.c's models_t reads).
_MODEL_TYPES = {
    "tx_start": np.int64,
    "tx_end": np.int64,
    "tx_strand": np.int8,
    "tx_flags": np.uint8,
    "exon_first": np.int64,
    "exon_start": np.int64,
    "exon_end": np.int64,
    "exon_cum": np.int64,
    "coding_start": np.int32,
    "coding_end": np.int32,
    "tx_length": np.int64,
}


class _Models(ctypes.Structure):
    """_csq.c's models_t: a pointer per array, in ``_MODEL_TYPES``' order."""

    _fields_ = tuple((name, ctypes.c_void_p) for name in _MODEL_TYPES)


class _Alleles(ctypes.Structure):
    _fields_ = (
        ("first", ctypes.c_void_p),
        ("last", ctypes.c_void_p),
        ("ref_length", ctypes.c_void_p),
        ("alt_length", ctypes.c_void_p),
        ("alt", _Pool),
    )


class _Windows(ctypes.Structure):
    """_csq.c's windows_t: the transcripts within 5 kb of each segment of the axis."""

    _fields_ = (
        ("segments", ctypes.c_int64),
        ("segment_starts", ctypes.c_void_p),
        ("segment_sets", ctypes.c_void_p),
        ("set_offsets", ctypes.c_void_p),
        ("set_members", ctypes.c_void_p),
    )


class Pairing:
    """Pairs each allele with the transcripts whose window (span +-5 kb) covers its first or
    last base: ``bounds`` (at most how many pairs per allele) finds each allele's windows,
    ``pairs`` then lists them."""

    def __init__(self, models: Any, first: NDArray[Any], last: NDArray[Any]) -> None:
        self._keep = (  # the windows struct points into them
            np.ascontiguousarray(models.segment_starts, dtype=np.uint32),
            np.ascontiguousarray(models.segment_sets, dtype=np.int32),
            np.ascontiguousarray(models.set_offsets, dtype=np.int64),
            np.ascontiguousarray(models.set_members, dtype=np.int32),
        )
        self._windows = _Windows(len(self._keep[0]), *(a.ctypes.data for a in self._keep))
        first = np.ascontiguousarray(first, dtype=np.int64)
        last = np.ascontiguousarray(last, dtype=np.int64)
        self._sets = np.empty(2 * len(first), dtype=np.int64)
        self.bounds = np.empty(len(first), dtype=np.int64)
        self._total = _library().csq_pair_bounds(
            len(first),
            first.ctypes.data,
            last.ctypes.data,
            ctypes.byref(self._windows),
            self._sets.ctypes.data,
            self.bounds.ctypes.data,
        )

    def pairs(self) -> tuple[NDArray[Any], NDArray[Any]]:
        """(allele, transcript) pairs in allele order, each allele's in transcript order."""
        allele = np.empty(self._total, dtype=np.int64)
        tx = np.empty(self._total, dtype=np.int64)
        written = _library().csq_pairs(
            len(self.bounds),
            self._sets.ctypes.data,
            ctypes.byref(self._windows),
            allele.ctypes.data,
            tx.ctypes.data,
        )
        return allele[:written], tx[:written]


def pair_terms(
    models: Any,
    first: NDArray[Any],
    last: NDArray[Any],
    alleles: Any,
    allele: NDArray[Any],
    tx: NDArray[Any],
) -> dict[str, NDArray[Any]]:
    """The pairs (``allele[i]``, ``tx[i]``) that get an entry, as ``PAIR_COLUMNS`` ("terms"
    holding each pair's bits of ``consequences.TERMS``). ``models`` is a
    ``consequences.TranscriptModels``, ``alleles`` a ``consequences.Alleles``; ``first`` and
    ``last`` are the bases each allele touches (an insertion: its two flanks)."""
    library = _library()
    keep: list[Any] = []

    def address(values: NDArray[Any], dtype: Any) -> int:
        array = np.ascontiguousarray(values, dtype=dtype)
        keep.append(array)
        return int(array.ctypes.data)

    model = _Models(
        **{name: address(getattr(models, name), kind) for name, kind in _MODEL_TYPES.items()}
    )
    alt_pool, owners = _pool(alleles.alt)
    keep += owners
    allele_struct = _Alleles(
        address(first, np.int64),
        address(last, np.int64),
        address(alleles.ref_length, np.int64),
        address(alleles.alt_length, np.int64),
        alt_pool,
    )
    count = len(allele)
    columns = {name: np.empty(count, dtype=np.int32) for name in PAIR_COLUMNS}
    pointers = (ctypes.c_void_p * len(PAIR_COLUMNS))(
        *(columns[name].ctypes.data for name in PAIR_COLUMNS)
    )
    kept = library.csq_terms(
        count,
        address(allele, np.int64),
        address(tx, np.int64),
        ctypes.byref(allele_struct),
        ctypes.byref(model),
        ctypes.addressof(pointers),
    )
    return {name: values[:kept] for name, values in columns.items()}


def _lengths(values: pa.Array | None) -> NDArray[Any]:
    if values is None:
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[
        values.offset : values.offset + len(values) + 1
    ]
    return np.diff(offsets).astype(np.int64)


def longest_row(*arrays: pa.Array) -> int:
    """The most bytes any row's strings take in the arrays together."""
    total = _lengths(arrays[0])
    for values in arrays[1:]:
        total = total + _lengths(values)
    return int(total.max(initial=0))


def _pool(values: pa.Array | None) -> tuple[_Pool, list[Any]]:
    """A pool for C and the objects that must outlive the call."""
    if values is None:
        return _Pool(None, None), []
    if values.type != pa.string():
        raise TypeError(f"pools are Arrow string arrays, not {values.type}")
    offsets, data = values.buffers()[1], values.buffers()[2]
    offsets_address = offsets.address if offsets is not None else _NO_OFFSETS.ctypes.data
    data_address = data.address if data is not None and data.size else _EMPTY.ctypes.data
    return _Pool(data_address, offsets_address + 4 * values.offset), [values]


def _pools(arrays: list[pa.Array | None]) -> tuple[ctypes.Array[_Pool], list[Any]]:
    """A C array of pools (at least one, for an empty list) and the objects to keep alive."""
    pools, keep = [], []
    for values in arrays:
        pool, owners = _pool(values)
        pools.append(pool)
        keep += owners
    return (_Pool * max(len(pools), 1))(*pools), keep


class _Entries(ctypes.Structure):
    _fields_ = (
        ("order", ctypes.c_void_p),
        ("pairs", ctypes.c_int64),
        ("columns", ctypes.c_void_p),
        ("lonely", ctypes.c_void_p),
        ("pools", ctypes.c_void_p),
    )


class Entries:
    """A chunk's CSQ entries, for ``assemble_lines`` to write straight into the lines (each
    record's as its CSQ field) instead of into a buffer of their own first.

    Entry k is pair ``order[k]`` (pairs are the rows of ``columns``), or, for ``order[k]`` past
    the pairs, the intergenic entry of allele ``lonely[order[k] - pairs]``; without ``order``
    entry k is pair k. ``tx_longest``: the most bytes a transcript's strings take in an entry
    (``TranscriptModels.tx_text_longest``). ``bound``: at most how many bytes all entries
    take."""

    def __init__(
        self,
        columns: dict[str, NDArray[Any]],
        pools: dict[str, pa.Array | None],
        order: NDArray[Any] | None,
        lonely: NDArray[Any],
        tx_longest: int,
    ) -> None:
        library = _library()
        pairs = len(columns["allele"])
        arrays = [np.ascontiguousarray(columns[name], dtype=np.int32) for name in PAIR_COLUMNS]
        pointers = (ctypes.c_void_p * len(arrays))(*(array.ctypes.data for array in arrays))
        pool_array, keep = _pools([pools.get(name) for name in POOLS])
        # The strings each entry is cut from, and room for its numbers and separators (the
        # longest strings times the pairs: cheaper than summing each pair's, and pages of a
        # buffer that are never written are never touched).
        allele_lengths = _lengths(pools["allele"])
        allele_bytes = allele_lengths + _lengths(pools["ref"]) + _lengths(pools["alt"])
        term_bytes = int(_lengths(pools["terms"]).max(initial=0))
        longest = int(allele_bytes.max(initial=0)) + tx_longest
        bound = pairs * (term_bytes + int(library.csq_pair_overhead()) + 5 + longest)
        bound += int(_lengths(pools.get("hgvsp")).sum())
        lonely = np.ascontiguousarray(lonely, dtype=np.int64)
        bound += len(lonely) * 64 + int(allele_lengths[lonely].sum())
        self.bound = bound
        order = None if order is None else np.ascontiguousarray(order, dtype=np.int64)
        self.structure = _Entries(
            None if order is None else order.ctypes.data,
            pairs,
            ctypes.addressof(pointers),
            lonely.ctypes.data,
            ctypes.addressof(pool_array),
        )
        self._keep = (arrays, pointers, keep, pool_array, lonely, order)


# The output lines' buffers (several MiB each) are reused rather than allocated per chunk:
# numpy maps each new one afresh, and the kernel then faults and zeroes every page of it again
# (~476 MB per 1M variants). On the 2-core development machine reuse (then also of the entries'
# own buffer, since gone: they are written into the lines) halved the kernel time of a 1M run
# (0.86 -> 0.40 s, 8 alternating runs each) and took 0.2-0.3 s off it.


class BufferPool:
    """Byte buffers handed out for chunks' output lines and given back once written (any
    thread); at most ``keep`` are kept, and a buffer never given back is simply freed."""

    def __init__(self, keep: int = 8) -> None:
        self._free: list[NDArray[Any]] = []
        self._keep = keep
        self._lock = threading.Lock()

    def take(self, size: int) -> NDArray[Any]:
        with self._lock:
            for i, buffer in enumerate(self._free):
                if len(buffer) >= size:
                    return self._free.pop(i)[:size]
        # A little headroom: the next chunk's lines are rarely exactly as long.
        return np.empty(size + (size >> 3), dtype=np.uint8)[:size]

    def give(self, lines: memoryview) -> None:
        """Return the buffer under ``lines`` (the ``.data`` of an array ``take`` gave)."""
        owner: Any = lines.obj
        while isinstance(owner, np.ndarray) and isinstance(owner.base, np.ndarray):
            owner = owner.base
        if not isinstance(owner, np.ndarray):
            return
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(owner)


class _Lines(ctypes.Structure):
    _fields_ = (
        ("lines", ctypes.c_int64),
        ("pieces", _Pool),
        ("info", _Pool),
        ("id_present", ctypes.c_void_p),
        ("info_present", ctypes.c_void_p),
        ("id_columns", ctypes.c_int64),
        ("info_columns", ctypes.c_int64),
        ("pools", ctypes.c_void_p),
        ("index", ctypes.c_void_p),
        ("csq_column", ctypes.c_int64),
        ("csq", ctypes.c_void_p),
        ("csq_stop", ctypes.c_void_p),
    )


@dataclass
class EntryColumn:
    """The CSQ field of the lines that have entries: line ``rows[i]`` gets entries
    ``first[i]`` to ``stop[i] - 1`` of ``entries``."""

    rows: NDArray[Any]
    first: NDArray[Any]
    stop: NDArray[Any]
    entries: Entries


def assemble_lines(
    pieces: pa.Array,
    id_present: NDArray[Any],
    info_present: NDArray[Any],
    id_columns: list[tuple[pa.Array, NDArray[Any]]],
    info_columns: list[tuple[pa.Array, NDArray[Any]] | EntryColumn],
    info: pa.Array | None = None,
    buffers: BufferPool | None = None,
) -> NDArray[Any]:
    """A chunk's output lines, contiguous (in a buffer of ``buffers`` when given).

    ``pieces``: five strings per input line (see ``engine._pieces``); each column is (values,
    index): line i gets ``values[index[i]]``, none where ``index[i]`` is -1; one INFO column
    may be an ``EntryColumn`` (CSQ). New IDs go after the input's (';'-separated; the input's
    '.' is dropped), new INFO values after its INFO (or ``info[i]`` when given, which replaces
    it); an INFO left empty is '.'."""
    library = _library()
    lines = len(id_present)
    csq_column, csq, csq_stop, csq_bound = -1, None, None, 0
    columns: list[tuple[pa.Array | None, NDArray[Any]]] = [*id_columns]
    for column in info_columns:
        if isinstance(column, EntryColumn):
            csq_column, csq = len(columns), column.entries
            csq_stop = np.zeros(lines, dtype=np.int32)
            csq_stop[column.rows] = column.stop
            index = np.full(lines, -1, dtype=np.int32)
            index[column.rows] = column.first
            columns.append((None, index))
            csq_bound = csq.bound
        else:
            columns.append(column)
    pools, keep = _pools([values for values, _ in columns])
    indexes = [np.ascontiguousarray(index, dtype=np.int32) for _, index in columns]
    index_pointers = (ctypes.c_void_p * max(len(columns), 1))(
        *(index.ctypes.data for index in indexes)
    )
    presence = [np.ascontiguousarray(flags, dtype=np.uint8) for flags in (id_present, info_present)]
    piece_pool, owners = _pool(pieces)
    keep += owners
    info_pool, owners = _pool(info)
    keep += owners
    structure = _Lines(
        lines,
        piece_pool,
        info_pool,
        presence[0].ctypes.data,
        presence[1].ctypes.data,
        len(id_columns),
        len(info_columns),
        ctypes.addressof(pools),
        ctypes.addressof(index_pointers),
        csq_column,
        None if csq is None else ctypes.addressof(csq.structure),
        None if csq_stop is None else csq_stop.ctypes.data,
    )
    size = library.assemble_lines(ctypes.byref(structure), None) + csq_bound
    out = buffers.take(size) if buffers else np.empty(size, dtype=np.uint8)
    written = library.assemble_lines(ctypes.byref(structure), out.ctypes.data)
    return out[:written]


def search_sorted(values: NDArray[Any], queries: NDArray[Any], side: str) -> NDArray[Any]:
    """``np.searchsorted(values, queries, side)`` for uint32 ``values`` (the bundle's axis),
    searched from each answer to the next: ascending queries cost ~log2 of their spacing."""
    if values.dtype != np.uint32 or not values.flags.c_contiguous:
        found: NDArray[Any] = np.searchsorted(values, queries, side=side)  # type: ignore[call-overload]
        return found.astype(np.int64, copy=False)
    queries = np.ascontiguousarray(queries, dtype=np.uint32)
    out = np.empty(len(queries), dtype=np.int64)
    _library().search_sorted_u32(
        values.ctypes.data,
        len(values),
        queries.ctypes.data,
        len(queries),
        side == "right",
        out.ctypes.data,
    )
    return out


def vcf_columns(
    text: bytes, line_ends: NDArray[Any], columns: int
) -> tuple[NDArray[Any], NDArray[Any]] | None:
    """The tabs (lines x 8) and POS of a chunk's lines in one pass, or None when the chunk has
    anything unusual (``_csq.c``'s ``vcf_columns`` says what) for the caller to split it the
    slow way."""
    lines = len(line_ends)
    ends = np.ascontiguousarray(line_ends, dtype=np.int64)
    tabs = np.empty((lines, 8), dtype=np.int64)
    positions = np.empty(lines, dtype=np.int64)
    unusual = _library().vcf_columns(
        text, len(text), lines, ends.ctypes.data, columns, tabs.ctypes.data, positions.ctypes.data
    )
    return None if unusual else (tabs, positions)


def _string_array(count: int, offsets: NDArray[Any], data: NDArray[Any]) -> pa.Array:
    end = int(offsets[count])
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets[: count + 1]), pa.py_buffer(data[:end])]
    )


def split_alleles(
    text: bytes,
    ref_start: NDArray[Any],
    ref_end: NDArray[Any],
    alt_start: NDArray[Any],
    alt_end: NDArray[Any],
) -> tuple[NDArray[Any], NDArray[Any], pa.Array, pa.Array, pa.Array]:
    """The plain-base ALT alleles of records whose REF is ``text[ref_start:ref_end]`` and ALT
    field ``text[alt_start:alt_end]``, as VEP's minimal alleles: per allele its record (index
    into the arrays), whether a shared first base was trimmed, the trimmed upper-case REF and
    ALT, and VEP's Allele text ('-' for a deletion)."""
    library = _library()
    columns = [
        np.ascontiguousarray(x, dtype=np.int64) for x in (ref_start, ref_end, alt_start, alt_end)
    ]
    data = np.frombuffer(text, dtype=np.uint8)
    rows = len(columns[0])
    bounds = np.zeros(3, dtype=np.int64)
    pointers = [column.ctypes.data for column in columns]
    library.csq_allele_bounds(data.ctypes.data, rows, *pointers, bounds.ctypes.data)
    alleles, ref_bytes, alt_bytes = (int(value) for value in bounds)
    row_of = np.empty(alleles, dtype=np.int64)
    trim = np.empty(alleles, dtype=np.int64)
    offsets = [np.empty(alleles + 1, dtype=np.int32) for _ in range(3)]
    buffers = [np.empty(max(size, 1), dtype=np.uint8) for size in (ref_bytes, alt_bytes, alt_bytes)]
    count = library.csq_alleles(
        data.ctypes.data,
        rows,
        *pointers,
        row_of.ctypes.data,
        trim.ctypes.data,
        offsets[0].ctypes.data,
        buffers[0].ctypes.data,
        offsets[1].ctypes.data,
        buffers[1].ctypes.data,
        offsets[2].ctypes.data,
        buffers[2].ctypes.data,
    )
    ref, alt, allele_text = (_string_array(count, offsets[i], buffers[i]) for i in range(3))
    return row_of[:count], trim[:count], ref, alt, allele_text

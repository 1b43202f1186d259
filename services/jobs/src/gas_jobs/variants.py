"""Queries over a result's columnar copy: filter, sort, page, and export what matches.

The annotator writes the copy (``anntools.columnar``) beside the annotated VCF; this module
only reads it. A table is the copy without its ``line`` column (the whole VCF record), which
only an export reads, from the file, for the rows it sends.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from anntools.columnar import read_header
from anntools.fields import REGION_CLASSES

VIEW_COLUMNS = (
    "chrom", "pos", "id", "ref", "alt", "qual", "filter",
    "gene", "region", "consequence", "clinvar", "cytoband", "in_dbsnp",
)  # fmt: skip
# Columns that copies written by an older anntools lack (read as null).
_LATER_COLUMNS = ("consequence",)
EXPORT_BATCH_ROWS = 20_000


class SortKey(StrEnum):
    POSITION = "position"
    POSITION_DESC = "-position"
    GENE = "gene"
    GENE_DESC = "-gene"
    REGION = "region"
    REGION_DESC = "-region"
    ID = "id"
    ID_DESC = "-id"


class ExportFormat(StrEnum):
    VCF = "vcf"
    TSV = "tsv"
    JSON = "json"


@dataclass(frozen=True)
class VariantFilter:
    """What a viewer asks for; every field narrows the rows, ``None`` leaves it open."""

    chrom: str | None = None
    start: int | None = None
    end: int | None = None
    gene: str | None = None
    regions: tuple[str, ...] = ()
    consequences: tuple[str, ...] = ()  # most severe SO term (MOST_SEVERE_CSQ) among these
    in_dbsnp: bool | None = None
    clinvar: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    count: int


class VariantTable:
    """One result's columnar copy, loaded once (without the record lines) and queried often."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header = read_header(path)
        present = set(pq.read_schema(path).names)
        table = pq.read_table(
            path, columns=["row", *(c for c in VIEW_COLUMNS if c in present)], memory_map=True
        ).combine_chunks()
        for column in _LATER_COLUMNS:
            if column not in present:
                table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
        self.table = table.select(["row", *VIEW_COLUMNS])
        # Columns with few distinct values, encoded once so a string test runs per distinct
        # value (a gene filter tests ~20k names instead of 1M rows).
        self._encoded = {
            column: pc.dictionary_encode(self.table[column]).combine_chunks()
            for column in ("chrom", "gene", "region", "consequence", "clinvar")
        }
        self._orders: dict[SortKey, NDArray[np.int64]] = {}
        self._ordering = threading.Lock()

    def matching(self, where: VariantFilter, sort: SortKey) -> pa.Table:
        selected = self._selected(where, sort)
        return self.table if selected is None else self.table.take(selected)

    def page(self, where: VariantFilter, *, sort: SortKey, limit: int, offset: int) -> Page:
        selected = self._selected(where, sort)
        if selected is None:
            rows, count = self.table.slice(offset, limit), self.table.num_rows
        else:
            rows, count = self.table.take(selected[offset : offset + limit]), len(selected)
        return Page(rows=rows.select(list(VIEW_COLUMNS)).to_pylist(), count=count)

    def _selected(self, where: VariantFilter, sort: SortKey) -> NDArray[np.int64] | None:
        """The indices of the matching rows in ``sort`` order; None for all rows in file
        order. (A table is a whole result, so a row's index is its ``row``.)"""
        masks = self._masks(where)
        keep: NDArray[np.bool_] | None = None
        if masks:
            combined = masks[0]
            for mask in masks[1:]:
                combined = pc.and_(combined, mask)
            filled = pc.fill_null(combined, False)
            if isinstance(filled, pa.ChunkedArray):
                filled = filled.combine_chunks()
            keep = np.asarray(filled.to_numpy(zero_copy_only=False))
        if sort is SortKey.POSITION:
            return None if keep is None else np.flatnonzero(keep)
        order = self._order(sort)
        return order if keep is None else order[keep[order]]

    def _masks(self, where: VariantFilter) -> list[pa.Array | pa.ChunkedArray]:
        masks: list[pa.Array | pa.ChunkedArray] = []
        if where.chrom:
            bare = where.chrom.removeprefix("chr")
            names = pa.array([bare, f"chr{bare}"])
            masks.append(self._by_value("chrom", lambda values: pc.is_in(values, value_set=names)))
        if where.start is not None:
            masks.append(pc.greater_equal(self.table["pos"], where.start))
        if where.end is not None:
            masks.append(pc.less_equal(self.table["pos"], where.end))
        if where.regions:
            classes = pa.array(list(where.regions))
            masks.append(
                self._by_value("region", lambda values: pc.is_in(values, value_set=classes))
            )
        if where.consequences:
            terms = pa.array(list(where.consequences))
            masks.append(
                self._by_value("consequence", lambda values: pc.is_in(values, value_set=terms))
            )
        if where.in_dbsnp is not None:
            masks.append(pc.equal(self.table["in_dbsnp"], where.in_dbsnp))
        if where.gene:
            pattern = f"(^|,){re.escape(where.gene.strip())}(,|$)"
            masks.append(
                self._by_value(
                    "gene",
                    lambda values: pc.match_substring_regex(values, pattern, ignore_case=True),
                )
            )
        if where.clinvar:
            clinvar = where.clinvar
            masks.append(
                self._by_value(
                    "clinvar",
                    lambda values: pc.match_substring(values, clinvar, ignore_case=True),
                )
            )
        if where.text:
            masks.append(pc.match_substring(self.table["id"], where.text.strip(), ignore_case=True))
        return masks

    def _by_value(self, column: str, test: Callable[[pa.Array], pa.Array]) -> pa.Array:
        """``test`` run once per distinct value of ``column``, spread over the rows."""
        encoded = self._encoded[column]
        hits = pc.fill_null(test(encoded.dictionary), False)
        return pc.fill_null(pc.take(hits, encoded.indices), False)

    def _order(self, sort: SortKey) -> NDArray[np.int64]:
        """Every row index in ``sort`` order, worked out once per result and key: a sorted
        page is then this order with the non-matching rows left out, no per-request sort."""
        with self._ordering:
            if sort not in self._orders:
                self._orders[sort] = _sorted(self.table, sort)["row"].to_numpy()
            return self._orders[sort]

    def export(self, where: VariantFilter, *, sort: SortKey, fmt: ExportFormat) -> Iterator[bytes]:
        """The matching rows as a file, in pieces of ``EXPORT_BATCH_ROWS`` rows."""
        table = self.matching(where, sort)
        if fmt is ExportFormat.VCF:
            yield self.header.encode()
            yield from self._record_lines(table["row"])
        elif fmt is ExportFormat.TSV:
            yield ("\t".join(VIEW_COLUMNS) + "\n").encode()
            for start in range(0, table.num_rows, EXPORT_BATCH_ROWS):
                batch = table.slice(start, EXPORT_BATCH_ROWS)
                cells = [
                    pc.fill_null(pc.cast(batch[column], pa.string()), ".")
                    for column in VIEW_COLUMNS
                ]
                yield _joined(pc.binary_join_element_wise(*cells, "\t"))
        else:
            yield b"["
            for start in range(0, table.num_rows, EXPORT_BATCH_ROWS):
                objects = _json_objects(table.slice(start, EXPORT_BATCH_ROWS))
                yield (b",\n" if start else b"\n") + _joined(objects, ",\n").removesuffix(b",\n")
            yield b"\n]\n"

    def _record_lines(self, rows: pa.ChunkedArray) -> Iterator[bytes]:
        """The VCF records of ``rows``, always in file order (VCF consumers and tabix need
        coordinate-sorted records, whatever order the viewer shows), one row group at a time."""
        wanted = np.sort(rows.to_numpy())
        parquet = pq.ParquetFile(self.path, memory_map=True)
        first = 0
        for group in range(parquet.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            lo, hi = np.searchsorted(wanted, [first, first + size])
            if hi > lo:
                lines = parquet.read_row_group(group, columns=["line"])["line"]
                yield _joined(pc.take(lines, pa.array(wanted[lo:hi] - first)))
            first += size


def _joined(lines: pa.Array, separator: str = "\n") -> bytes:
    if len(lines) == 0:
        return b""
    return (separator.join(lines.to_pylist()) + separator).encode()


def _json_objects(batch: pa.Table) -> pa.Array:
    """Each row as a JSON object, built column-wise (a per-row json.dumps is ~5x slower)."""
    parts: list[pa.Array | str] = []
    for index, column in enumerate(VIEW_COLUMNS):
        values = batch[column]
        if pa.types.is_string(values.type):
            escaped = pc.replace_substring(values, "\\", "\\\\")
            escaped = pc.replace_substring(escaped, '"', '\\"')
            escaped = pc.replace_substring_regex(escaped, "[\\x00-\\x1f]", " ")
            encoded = pc.binary_join_element_wise('"', escaped, '"', "")
        else:
            encoded = pc.cast(values, pa.string())
        parts += [
            ("{" if index == 0 else ",") + json.dumps(column) + ":",
            pc.fill_null(encoded, "null"),
        ]
    return pc.binary_join_element_wise(*parts, "}", "")


_REGION_RANK = {name: rank for rank, name in enumerate(REGION_CLASSES)}


def _sorted(table: pa.Table, sort: SortKey) -> pa.Table:
    descending = sort.value.startswith("-")
    order = "descending" if descending else "ascending"
    key = sort.value.removeprefix("-")
    if key == "position":
        return table if not descending else table.sort_by([("row", order)])
    if key == "region":
        ranks = pc.fill_null(
            pc.index_in(table["region"], value_set=pa.array(list(_REGION_RANK))),
            len(_REGION_RANK),
        )
        ranked = table.append_column("_rank", ranks)
        ranked = ranked.sort_by([("_rank", order), ("row", "ascending")])
        return ranked.select(table.column_names)
    return table.sort_by([(key, order), ("row", "ascending")])

"""A columnar copy of an annotated VCF, for paged, filtered and sorted queries.

One Parquet row per VCF record, in file order: the fixed columns, the annotation fields a
results viewer filters on (taken from INFO), and the record's whole line, so an export of
any filtered subset writes exactly the records the VCF holds. The VCF header travels in the
file's metadata (``vcf_header``). The file is written in row groups as the VCF streams past,
so memory stays at one chunk whatever the input size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from anntools.arrow import spans
from anntools.vcf import VcfReader, split_columns

FORMAT_VERSION = "1"
HEADER_KEY = b"vcf_header"
VERSION_KEY = b"gas_columnar_version"
ROW_GROUP_ROWS = 64 * 1024

# INFO field → column; absent fields are null.
INFO_COLUMNS = {
    "gene": "GENE",
    "region": "REGION",
    "clinvar": "CLNSIG",
    "cytoband": "CYTOBAND",
    # The most severe SO consequence (MOST_SEVERE_CSQ); copies written before it have no
    # such column, and readers treat that as null.
    "consequence": "MOST_SEVERE_CSQ",
}
SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("chrom", pa.string()),
        ("pos", pa.int64()),
        ("id", pa.string()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("qual", pa.string()),
        ("filter", pa.string()),
        *((name, pa.string()) for name in INFO_COLUMNS),
        ("in_dbsnp", pa.bool_()),
        ("line", pa.string()),
    ]
)


def write_columnar(vcf: str | Path, target: str | Path) -> int:
    """Write the columnar copy of ``vcf`` (plain or bgzipped) to ``target``; return the
    number of records. The file appears under its name only when complete."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    try:
        rows = _write(vcf, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return rows


def _write(vcf: str | Path, partial: Path) -> int:
    rows = 0
    with VcfReader(vcf) as reader:
        header = "\n".join([*reader.header.meta_lines, reader.header.column_line]) + "\n"
        schema = SCHEMA.with_metadata({HEADER_KEY: header.encode(), VERSION_KEY: FORMAT_VERSION})
        with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
            for text, first_line in reader.chunks():
                columns = split_columns(text, first_line, reader.header.column_count)
                batch = _batch(columns.text, columns.line_starts, columns.line_ends, columns.tabs)
                batch = batch.set_column(0, "row", pa.array(np.arange(rows, rows + len(batch))))
                writer.write_table(batch.cast(schema), row_group_size=ROW_GROUP_ROWS)
                rows += len(batch)
    return rows


def _batch(text: bytes, starts: NDArray[Any], ends: NDArray[Any], tabs: NDArray[Any]) -> pa.Table:
    field_starts = np.column_stack([starts, tabs[:, :7] + 1])
    fields = [spans(text, field_starts[:, i], tabs[:, i]) for i in range(8)]
    info = fields[7]
    record_id = fields[2]
    columns: dict[str, pa.Array] = {
        "row": pa.nulls(len(starts), pa.int64()),
        "chrom": fields[0],
        "pos": pc.cast(fields[1], pa.int64()),
        "id": record_id,
        "ref": fields[3],
        "alt": fields[4],
        "qual": fields[5],
        "filter": fields[6],
    }
    for column, key in INFO_COLUMNS.items():
        columns[column] = info_field(info, key)
    columns["in_dbsnp"] = pc.match_substring_regex(record_id, r"(^|;)rs[0-9]+")
    columns["line"] = spans(text, starts, ends)
    return pa.table(columns)


def info_field(info: pa.Array, key: str) -> pa.Array:
    """The value of INFO ``key`` in each record (null where absent; "" for a flag)."""
    matched = pc.extract_regex(info, rf"(?:^|;){key}(?:=(?P<value>[^;]*))?(?:;|$)")
    values = pc.struct_field(matched, [0])
    present = pc.is_valid(matched)
    return pc.if_else(present, pc.coalesce(values, ""), pa.nulls(len(info), pa.string()))


def read_header(path: str | Path) -> str:
    """The VCF header (## lines and the #CHROM line) a columnar copy was made from."""
    metadata = pq.read_schema(path).metadata or {}
    if metadata.get(VERSION_KEY) != FORMAT_VERSION.encode():
        raise ValueError(f"{path} is not a columnar copy of format {FORMAT_VERSION}")
    header: bytes = metadata[HEADER_KEY]
    return header.decode()

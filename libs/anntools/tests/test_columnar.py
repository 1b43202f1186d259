"""The columnar copy of an annotated VCF: every record, its viewer columns, and its line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from anntools.columnar import read_header, write_columnar

HEADER = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=GENE,Number=.,Type=String,Description="Genes">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)
RECORDS = [
    "1\t100\trs1;COSM2\tA\tG\t50\tPASS\tGENE=AAA,BBB;REGION=CDS;CYTOBAND=1p36.33;"
    "MOST_SEVERE_CSQ=start_lost\tGT\t0/1",
    "1\t200\t.\tC\tT,G\t.\tq10\tDB;REGION=intergenic\tGT\t1/2",
    "chrX\t300\tCOSM9\tG\tGA\t12.5\tPASS\tCLNSIG=Pathogenic;GENE=CCC;REGION=intron\tGT\t0/0",
]


def write_vcf(path: Path, records: list[str]) -> Path:
    text = HEADER + "".join(f"{record}\n" for record in records)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["in.vcf", "in.vcf.gz"])
def test_every_record_becomes_a_row_with_its_fields(tmp_path: Path, name: str) -> None:
    vcf = write_vcf(tmp_path / name, RECORDS)
    target = tmp_path / "out.parquet"

    assert write_columnar(vcf, target) == 3

    rows = pq.read_table(target).to_pylist()
    assert [row["line"] for row in rows] == RECORDS
    assert [row["row"] for row in rows] == [0, 1, 2]
    assert [(row["chrom"], row["pos"], row["ref"], row["alt"]) for row in rows] == [
        ("1", 100, "A", "G"),
        ("1", 200, "C", "T,G"),
        ("chrX", 300, "G", "GA"),
    ]
    assert [row["gene"] for row in rows] == ["AAA,BBB", None, "CCC"]
    assert [row["region"] for row in rows] == ["CDS", "intergenic", "intron"]
    assert [row["clinvar"] for row in rows] == [None, None, "Pathogenic"]
    assert [row["cytoband"] for row in rows] == ["1p36.33", None, None]
    assert [row["consequence"] for row in rows] == ["start_lost", None, None]
    assert [row["in_dbsnp"] for row in rows] == [True, False, False]
    assert [row["filter"] for row in rows] == ["PASS", "q10", "PASS"]
    assert read_header(target) == HEADER


def test_a_large_file_is_written_in_row_groups(tmp_path: Path) -> None:
    records = [f"2\t{pos}\t.\tA\tC\t.\tPASS\tREGION=intron\tGT\t0/1" for pos in range(1, 150_001)]
    target = tmp_path / "out.parquet"

    assert write_columnar(write_vcf(tmp_path / "big.vcf", records), target) == 150_000

    parquet = pq.ParquetFile(target)
    assert parquet.num_row_groups >= 3
    rows = parquet.read(columns=["row", "pos"])
    assert rows["row"].to_pylist() == list(range(150_000))
    assert rows["pos"].to_pylist() == list(range(1, 150_001))


def test_no_partial_file_is_left_behind_when_the_input_is_bad(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "bad.vcf", ["1\t100\t.\tA"])
    target = tmp_path / "out.parquet"

    with pytest.raises(Exception, match="columns"):
        write_columnar(vcf, target)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.vcf"]

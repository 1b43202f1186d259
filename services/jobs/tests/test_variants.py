"""Server-side queries of a result: filters, sorting, paging and exports, checked against the
same filter applied by hand to the annotated VCF's lines."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from anntools.columnar import write_columnar
from gas_jobs.variants import ExportFormat, SortKey, VariantFilter, VariantTable

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
GENES = ["BRCA1", "BRCA2", "TP53", "BRCA1,NBR2", "CFTR", None]
REGIONS = ["CDS", "UTR5", "UTR3", "intron", "promoter", "intergenic", "ncRNA_exon"]
CLINVAR = [None, None, None, "Pathogenic", "Likely_pathogenic"]
CONSEQUENCES = ["intron_variant", "frameshift_variant", "splice_donor_variant", None]


def make_records(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    records = []
    for index in range(count):
        chrom = ["1", "2", "X"][index * 3 // count]
        info = [f"REGION={rng.choice(REGIONS)}"]
        if gene := rng.choice(GENES):
            info.insert(0, f"GENE={gene}")
        if clinvar := rng.choice(CLINVAR):
            info.append(f"CLNSIG={clinvar}")
        if consequence := rng.choice(CONSEQUENCES):
            info.append(f"MOST_SEVERE_CSQ={consequence}")
        record_id = f"rs{index}" if rng.random() < 0.4 else "."
        records.append(
            f"{chrom}\t{1000 + index * 10}\t{record_id}\tA\tG\t50\tPASS\t{';'.join(info)}"
        )
    return records


def info_of(record: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in record.split("\t")[7].split(";"))
    return {key: value for key, _, value in pairs}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[VariantTable, list[str]]:
    folder = tmp_path_factory.mktemp("result")
    records = make_records(3_000)
    vcf = folder / "result.vcf"
    vcf.write_text(HEADER + "".join(f"{record}\n" for record in records))
    write_columnar(vcf, folder / "result.parquet")
    return VariantTable(folder / "result.parquet"), records


CASES: list[tuple[VariantFilter, Callable[[str], bool]]] = [
    (VariantFilter(), lambda r: True),
    (VariantFilter(gene="brca1"), lambda r: "BRCA1" in info_of(r).get("GENE", "").split(",")),
    (VariantFilter(regions=("CDS", "UTR5")), lambda r: info_of(r)["REGION"] in {"CDS", "UTR5"}),
    (VariantFilter(chrom="chrX"), lambda r: r.startswith("X\t")),
    (
        VariantFilter(consequences=("frameshift_variant", "splice_donor_variant")),
        lambda r: (
            info_of(r).get("MOST_SEVERE_CSQ") in {"frameshift_variant", "splice_donor_variant"}
        ),
    ),
    (
        VariantFilter(chrom="2", start=11_000, end=16_000),
        lambda r: r.startswith("2\t") and 11_000 <= int(r.split("\t")[1]) <= 16_000,
    ),
    (VariantFilter(in_dbsnp=True), lambda r: r.split("\t")[2].startswith("rs")),
    (VariantFilter(clinvar="pathogenic"), lambda r: "pathogenic" in r.lower()),
    (VariantFilter(text="rs12"), lambda r: "rs12" in r.split("\t")[2]),
    (
        VariantFilter(gene="BRCA2", regions=("intron",), in_dbsnp=False),
        lambda r: (
            info_of(r).get("GENE") == "BRCA2"
            and info_of(r)["REGION"] == "intron"
            and r.split("\t")[2] == "."
        ),
    ),
]


@pytest.mark.parametrize(("where", "expected"), CASES)
def test_filters_match_the_vcf_and_vcf_export_gives_those_records(
    result: tuple[VariantTable, list[str]],
    where: VariantFilter,
    expected: Callable[[str], bool],
) -> None:
    table, records = result
    wanted = [record for record in records if expected(record)]

    page = table.page(where, sort=SortKey.POSITION, limit=25, offset=0)
    exported = b"".join(table.export(where, sort=SortKey.POSITION, fmt=ExportFormat.VCF))

    assert page.count == len(wanted)
    assert [f"{row['chrom']}\t{row['pos']}" for row in page.rows] == [
        "\t".join(record.split("\t")[:2]) for record in wanted[:25]
    ]
    text = exported.decode()
    assert text.startswith(HEADER)
    assert text.removeprefix(HEADER).splitlines() == wanted


def test_paging_walks_every_row_once(result: tuple[VariantTable, list[str]]) -> None:
    table, records = result
    seen = []
    for offset in range(0, 3_000, 700):
        seen += table.page(VariantFilter(), sort=SortKey.POSITION, limit=700, offset=offset).rows
    assert [row["pos"] for row in seen] == [int(record.split("\t")[1]) for record in records]
    beyond = table.page(VariantFilter(), sort=SortKey.POSITION, limit=10, offset=5_000)
    assert beyond.rows == [] and beyond.count == 3_000


def test_sorting_by_region_follows_severity_not_the_alphabet(
    result: tuple[VariantTable, list[str]],
) -> None:
    table, _ = result
    severity = ["CDS", "UTR5", "UTR3", "ncRNA_exon", "intron", "promoter", "intergenic"]
    rows = table.page(VariantFilter(), sort=SortKey.REGION, limit=3_000, offset=0).rows
    ranks = [severity.index(row["region"]) for row in rows]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(severity)
    descending = table.page(VariantFilter(), sort=SortKey.POSITION_DESC, limit=2, offset=0).rows
    assert [row["pos"] for row in descending] == [1000 + 2999 * 10, 1000 + 2998 * 10]


def test_vcf_export_stays_in_file_order_whatever_the_view_sorts_by(
    result: tuple[VariantTable, list[str]],
) -> None:
    table, records = result
    where = VariantFilter(gene="TP53")
    exported = b"".join(table.export(where, sort=SortKey.GENE_DESC, fmt=ExportFormat.VCF))
    lines = exported.decode().removeprefix(HEADER).splitlines()
    assert lines == [record for record in records if info_of(record).get("GENE") == "TP53"]


def test_tsv_and_json_exports_carry_the_rows_the_viewer_shows(
    result: tuple[VariantTable, list[str]],
) -> None:
    table, _ = result
    where = VariantFilter(clinvar="pathogenic", regions=("CDS", "intron"))
    shown = table.page(where, sort=SortKey.GENE, limit=10_000, offset=0).rows

    as_json = json.loads(b"".join(table.export(where, sort=SortKey.GENE, fmt=ExportFormat.JSON)))
    tsv = b"".join(table.export(where, sort=SortKey.GENE, fmt=ExportFormat.TSV)).decode()
    as_tsv = list(csv.DictReader(io.StringIO(tsv), delimiter="\t"))

    assert as_json == shown
    assert [(row["id"], row["pos"], row["gene"]) for row in as_tsv] == [
        (row["id"], str(row["pos"]), row["gene"] or ".") for row in shown
    ]


def test_an_empty_match_exports_valid_empty_files(
    result: tuple[VariantTable, list[str]],
) -> None:
    table, _ = result
    where = VariantFilter(gene="NO_SUCH_GENE")
    assert json.loads(b"".join(table.export(where, sort=SortKey.ID, fmt=ExportFormat.JSON))) == []
    vcf = b"".join(table.export(where, sort=SortKey.ID, fmt=ExportFormat.VCF))
    assert vcf.decode() == HEADER


def test_json_export_escapes_quotes_and_backslashes(tmp_path: Path) -> None:
    vcf = tmp_path / "odd.vcf"
    vcf.write_text(HEADER + '1\t5\tid"with\\slash\tA\tG\t.\tPASS\tGENE=X"Y\n')
    write_columnar(vcf, tmp_path / "odd.parquet")
    table = VariantTable(tmp_path / "odd.parquet")
    exported = b"".join(table.export(VariantFilter(), sort=SortKey.ID, fmt=ExportFormat.JSON))
    [row] = json.loads(exported)
    assert row["id"] == 'id"with\\slash' and row["gene"] == 'X"Y'


def test_a_copy_written_before_consequences_reads_them_as_null(tmp_path: Path) -> None:
    """Columnar copies of results annotated before CSQ have no 'consequence' column."""
    import pyarrow.parquet as pq

    vcf = tmp_path / "old.vcf"
    vcf.write_text(HEADER + "1\t100\t.\tA\tG\t50\tPASS\tREGION=CDS\n")
    write_columnar(vcf, tmp_path / "new.parquet")
    table = pq.read_table(tmp_path / "new.parquet")
    pq.write_table(
        table.drop_columns(["consequence"]).replace_schema_metadata(table.schema.metadata),
        tmp_path / "old.parquet",
    )
    old = VariantTable(tmp_path / "old.parquet")
    page = old.page(VariantFilter(), sort=SortKey.POSITION, limit=10, offset=0)
    assert page.rows[0]["consequence"] is None and page.rows[0]["region"] == "CDS"
    assert (
        old.page(
            VariantFilter(consequences=("start_lost",)), sort=SortKey.POSITION, limit=10, offset=0
        ).count
        == 0
    )

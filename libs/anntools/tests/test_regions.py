"""Region classification on hand-made transcripts whose every boundary can be checked by eye.

tests/data/tiny: PLUSG (+) exons 1001-1100, 1301-1400, 1801-2000, CDS 1051-1897, stop codon
1898-1900; MINUSG (-) exons 5901-6000, 5401-5500, 5001-5200, CDS 5104-5950, stop codon
5101-5103; NCG (+, non-coding) exons 9001-9100, 9401-9500; ISO and OVL (two isoforms, an
overlapping gene) are described in their test. 1-based, inclusive.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anntools import annotate_file

EXPECTED = [
    # pos, REGION, GENE, EXON, STRAND
    (1, "promoter", None, None, None),  # promoter window is clipped at the chromosome start
    (1000, "promoter", None, None, None),  # 1 bp upstream of the plus-strand TSS
    (1001, "UTR5", "PLUSG", "1/3", "+"),  # first base of the first exon
    (1050, "UTR5", "PLUSG", "1/3", "+"),  # last 5' UTR base
    (1051, "CDS", "PLUSG", "1/3", "+"),  # first coding base (start codon)
    (1100, "CDS", "PLUSG", "1/3", "+"),  # last base of exon 1
    (1101, "intron", "PLUSG", None, "+"),
    (1350, "CDS", "PLUSG", "2/3", "+"),
    (1897, "CDS", "PLUSG", "3/3", "+"),
    (1898, "CDS", "PLUSG", "3/3", "+"),  # stop codon counts as coding
    (1901, "UTR3", "PLUSG", "3/3", "+"),  # first 3' UTR base of the last exon
    (2000, "UTR3", "PLUSG", "3/3", "+"),  # transcript end
    (2001, "intergenic", None, None, None),  # downstream of a plus-strand gene: not a promoter
    (4999, "intergenic", None, None, None),  # just below a minus-strand gene: not a promoter
    (5001, "UTR3", "MINUSG", "3/3", "-"),  # minus strand: the lowest base is the 3' end
    (5100, "UTR3", "MINUSG", "3/3", "-"),
    (5101, "CDS", "MINUSG", "3/3", "-"),  # stop codon
    (5201, "intron", "MINUSG", None, "-"),
    (5450, "CDS", "MINUSG", "2/3", "-"),
    (5950, "CDS", "MINUSG", "1/3", "-"),  # first coding base on the minus strand
    (5951, "UTR5", "MINUSG", "1/3", "-"),
    (6000, "UTR5", "MINUSG", "1/3", "-"),  # minus-strand TSS
    (6001, "promoter", None, None, None),  # upstream of a minus-strand gene is above it
    (7000, "promoter", None, None, None),
    (7001, "intergenic", None, None, None),  # 1001 bp upstream: outside the promoter
    (9001, "ncRNA_exon", "NCG", "1/2", "+"),
    (9200, "intron", "NCG", None, "+"),
    (9500, "ncRNA_exon", "NCG", "2/2", "+"),
]

ReadVcf = Callable[[Path], tuple[list[str], list[dict[str, Any]]]]
Annotated = tuple[dict[int, dict[str, str]], dict[str, Any]]


@pytest.fixture(scope="module")
def annotated(
    tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory, vcf_records: ReadVcf
) -> Annotated:
    workdir = tmp_path_factory.mktemp("regions")
    source = workdir / "positions.vcf"
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"1\t{pos}\t.\tN\tA\t.\t.\t." for pos, *_ in EXPECTED]
    source.write_text("\n".join(lines) + "\n")
    output = workdir / "out.vcf"
    summary = annotate_file(source, output, bundle_dir=tiny_bundle)
    _, records = vcf_records(output)
    return {record["pos"]: record["info"] for record in records}, summary


@pytest.mark.parametrize(("pos", "region", "gene", "exon", "strand"), EXPECTED)
def test_region_class_at_hand_checked_position(
    annotated: Annotated,
    pos: int,
    region: str,
    gene: str | None,
    exon: str | None,
    strand: str | None,
) -> None:
    info = annotated[0][pos]
    assert info.get("REGION") == region
    assert info.get("GENE") == gene
    assert info.get("EXON") == exon
    assert info.get("STRAND") == strand


def test_summary_counts_every_region_class(annotated: Annotated) -> None:
    counts = annotated[1]["region_counts"]
    for region in ("CDS", "UTR5", "UTR3", "ncRNA_exon", "intron", "promoter", "intergenic"):
        assert counts[region] == sum(1 for _, r, *_ in EXPECTED if r == region)


def test_deletion_spanning_intron_and_exon_takes_the_highest_class(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    source = tmp_path / "deletion.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "1\t1296\t.\tAAAAAAA\tA\t.\t.\t.\n"
    )
    annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle)
    _, records = vcf_records(tmp_path / "out.vcf")
    info = records[0]["info"]
    assert info["REGION"] == "CDS"  # 1296-1302 reaches exon 2 (from 1301)
    assert info["GENE"] == "PLUSG"
    assert info["EXON"] == "2/3"


def test_a_utr_side_is_decided_by_its_own_transcripts_cds(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    """ISO (+) has two transcripts: T1 exons 20001-20100, 20301-20400 with CDS 20051-20350;
    T2 exons 20451-20500 (all 5' UTR), 20601-20800 with CDS 20611-20700. T1's stop codon
    (20348-20350) is nearer T2's first exon than T2's start codon is, which made it UTR3.
    OVL (-, non-coding, one exon 20301-20500) overlaps both: EXON is aligned with GENE."""
    source = tmp_path / "iso.vcf"
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"1\t{pos}\t.\tN\tA\t.\t.\t." for pos in (20475, 20380, 20350, 20750, 20200)]
    source.write_text("\n".join(lines) + "\n")
    annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle)
    _, records = vcf_records(tmp_path / "out.vcf")
    found = [(r["info"]["REGION"], r["info"]["GENE"], r["info"].get("EXON")) for r in records]
    assert found == [
        ("UTR5", "ISO,OVL", ".,1/1"),  # T2's 5' UTR; ISO's canonical (T1) has no exon here
        ("UTR3", "ISO,OVL", "2/2,1/1"),
        ("CDS", "ISO,OVL", "2/2,1/1"),
        ("UTR3", "ISO", None),
        ("intron", "ISO", None),
    ]

"""Insertions, reference blocks and structural variants on the hand-made bundle, whose
boundaries can be checked by eye (see test_regions.py for the transcripts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from anntools import annotate_file

ReadVcf = Callable[[Path], tuple[list[str], list[dict[str, Any]]]]
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _annotated(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf, body: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    source = tmp_path / "in.vcf"
    source.write_text(HEADER + body)
    summary = annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle)
    return vcf_records(tmp_path / "out.vcf")[1], summary


def test_an_insertion_is_classified_where_its_bases_go(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    records, _ = _annotated(
        tiny_bundle,
        tmp_path,
        vcf_records,
        "1\t1050\t.\tA\tAT\t.\t.\t.\n"  # after the last 5' UTR base, before the start codon
        "1\t1050\t.\tA\tT\t.\t.\t.\n"  # the same anchor as an SNV stays in the UTR
        "1\t1100\t.\tA\tAT\t.\t.\t.\n"  # after the last coding base of exon 1, before the intron
        "1\t1300\t.\tA\tC,AT\t.\t.\t.\n"  # last intron base, then the CDS of exon 2
        "1\t1300\t.\tA\tC,G\t.\t.\t.\n"  # two SNV alleles: the anchor only
        "1\t1150\t.\tA\tAT\t.\t.\t.\n",  # inside the intron
    )
    assert [r["info"]["REGION"] for r in records] == [
        "CDS",
        "UTR5",
        "CDS",
        "CDS",
        "intron",
        "intron",
    ]
    assert records[3]["info"]["EXON"] == "2/3"


def test_reference_blocks_pass_through_unannotated_and_are_not_variants(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    records, summary = _annotated(
        tiny_bundle,
        tmp_path,
        vcf_records,
        "1\t1051\t.\tA\t.\t.\t.\tEND=1090\n"
        "1\t1060\t.\tA\t<NON_REF>\t.\t.\tEND=1070\n"
        "1\t1071\t.\tA\t<*>\t.\t.\t.\n"
        "1\t1080\t.\tA\tG,<NON_REF>\t.\t.\t.\n",  # a gVCF variant site is a variant
    )
    assert [r["columns"][7] for r in records[:3]] == ["END=1090", "END=1070", "."]
    assert [r["id"] for r in records[:3]] == [".", ".", "."]  # rs111 is at 1051 A>G only
    assert records[3]["info"]["REGION"] == "CDS"
    assert summary["reference_blocks"] == 3
    assert summary["variants"] == 1 and summary["records"] == 4
    assert sum(summary["region_counts"].values()) == 1


def test_structural_variants_are_annotated_over_pos_to_end(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    records, summary = _annotated(
        tiny_bundle,
        tmp_path,
        vcf_records,
        "1\t990\t.\tN\t<DEL>\t.\t.\tSVTYPE=DEL;END=1200\n"  # promoter .. intron 1 of PLUSG
        "1\t900\t.\tN\t<DUP>\t.\t.\tSVTYPE=DUP;END=2100\n"  # all of PLUSG
        "1\t1150\t.\tN\t<INS:ME:ALU>\t.\t.\tSVTYPE=INS;END=1150\n"  # inside intron 1
        "1\t1300\t.\tN\t<INS:ME:L1>\t.\t.\tSVTYPE=INS\n"  # before exon 2's first (coding) base
        "1\t4900\t.\tN\t<DEL>\t.\t.\tEND=9050\n",  # MINUSG whole, NCG in part
    )
    first, whole, inside, before_exon, wide = (r["info"] for r in records)
    assert (first["GENE"], first["REGION"], first["EXON"]) == ("PLUSG", "CDS", "1/3")
    assert "SV_PARTIAL_GENE" in first
    assert whole["GENE"] == "PLUSG" and "SV_PARTIAL_GENE" not in whole
    assert inside["REGION"] == "intron" and "SV_PARTIAL_GENE" in inside
    assert before_exon["REGION"] == "CDS"
    assert wide["GENE"] == "MINUSG,NCG" and "SV_PARTIAL_GENE" in wide
    assert summary["structural_variants"] == 5 and summary["variants"] == 5


def test_the_inputs_own_db_flag_and_rsids_are_kept_and_counted_apart(
    tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    records, summary = _annotated(
        tiny_bundle,
        tmp_path,
        vcf_records,
        "1\t1051\trs111\tA\tG\t.\t.\tDB\n"  # in the input's dbSNP and in our set
        "1\t1350\trs5\tC\tT\t.\t.\tDB;DP=3\n"  # in the input's dbSNP only
        "1\t1360\tx1;rs6\tC\tT\t.\t.\t.\n"  # an rsID second in the ID column
        "1\t5950\t.\tC\tT\t.\t.\t.\n",  # in our set only
    )
    assert [r["columns"][7].split(";")[0] for r in records] == [
        "DB",
        "DB",
        "GENE=PLUSG",
        "COMMON_SNP",
    ]
    assert [r["id"] for r in records] == ["rs111", "rs5", "x1;rs6", "rs222"]
    assert summary["rsids_in_input"] == 3
    assert summary["common_snp_matches"] == 2
    assert summary["in_dbsnp"] == 4 and summary["pct_in_dbsnp"] == 100.0

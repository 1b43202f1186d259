"""Regression tests for the errors a geneticist found (issue 12), on small extracts of public
files kept in tests/data/real (each file's ##anntools_test_source line names its source)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anntools import annotate_file

REAL = Path(__file__).parent / "data" / "real"
CODING = {
    "frameshift_variant",
    "nonsense",
    "inframe_insertion",
    "inframe_indel",
    "missense_variant",
}

pytestmark = pytest.mark.slow

ReadVcf = Callable[[Path], tuple[list[str], list[dict[str, Any]]]]


def test_insertions_before_a_coding_base_are_coding(
    grch38_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    """ClinVar (NCBI) calls these frameshift/nonsense; they were classified by their anchor
    base (intron, UTR or ncRNA exon): e.g. MLH1 3:37028783 G>GA, BRCA2 13:32379316."""
    output = tmp_path / "out.vcf"
    annotate_file(REAL / "clinvar_grch38_boundary_insertions.vcf", output, bundle_dir=grch38_bundle)
    _, records = vcf_records(output)
    insertions = [r for r in records if len(str(r["alt"])) > 1]
    assert len(insertions) == 29
    for record in insertions:
        consequences = set(record["info"]["MC"].split(","))
        if consequences <= CODING:
            assert record["info"]["REGION"] == "CDS", record["columns"][:5]
    mlh1 = next(r for r in records if r["pos"] == 37028783)
    assert (mlh1["info"]["GENE"], mlh1["info"]["REGION"]) == ("MLH1", "CDS")
    # the SNVs at the BRCA2 acceptor site are the intron's last base: NCBI's splice acceptor
    snvs = [r for r in records if r["pos"] == 32379316 and len(str(r["alt"])) == 1]
    assert [r["info"]["REGION"] for r in snvs] == ["intron"] * 3


def test_a_gatk_files_own_db_flags_stay(
    grch37_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    """Every record of this GATK file carries DB and an rsID; DB used to be replaced by
    membership in our common-SNP set (kept on 13 of 1,011 records)."""
    output = tmp_path / "out.vcf"
    summary = annotate_file(REAL / "gatk_hapmap_exome_chr22.vcf", output, bundle_dir=grch37_bundle)
    header, records = vcf_records(output)
    assert len(records) == 25
    assert all("DB" in r["info"] for r in records)
    assert sum(line.startswith("##INFO=<ID=DB,") for line in header) == 1
    assert any("dbSNP Membership" in line for line in header if line.startswith("##INFO=<ID=DB,"))
    assert summary["rsids_in_input"] == sum(str(r["id"]).startswith("rs") for r in records)
    assert summary["pct_rsids_in_input"] > 90
    assert summary["common_snp_matches"] == sum("COMMON_SNP" in r["info"] for r in records)
    assert summary["common_snp_matches"] < summary["rsids_in_input"]


def test_complete_genomics_reference_blocks_are_not_variants(
    grch37_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    source = REAL / "complete_genomics_h1187.vcf"
    output = tmp_path / "out.vcf"
    summary = annotate_file(source, output, bundle_dir=grch37_bundle)
    _, inputs = vcf_records(source)
    _, records = vcf_records(output)
    blocks = [i for i, r in enumerate(inputs) if r["alt"] == "."]
    assert len(blocks) == 291
    assert summary["reference_blocks"] == 291
    assert summary["variants"] == len(inputs) - 291
    assert sum(summary["region_counts"].values()) == summary["variants"]
    for index in blocks:  # passed through as they came
        assert records[index]["columns"] == inputs[index]["columns"]

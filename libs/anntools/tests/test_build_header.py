"""Every header clue that names a build (issue 12: `##reference=...build37.fa` was not read,
NCBI36/b36/hg18 were never recognised)."""

from __future__ import annotations

import pytest

from anntools.genome import detect_build_from_header


@pytest.mark.parametrize(
    ("line", "build"),
    [
        ("##reference=ftp://ftp.completegenomics.com/ReferenceFiles/build37.fa.bz2", "GRCh37"),
        ("##source_GENOME_REFERENCE=NCBI build 37", "GRCh37"),
        ("##reference=file:///ref/human_g1k_v37.fasta", "GRCh37"),
        ("##reference=hg19", "GRCh37"),
        ("##contig=<ID=1,assembly=B37>", "GRCh37"),
        ("##reference=GRCh38", "GRCh38"),
        ("##assembly=hg38", "GRCh38"),
        ("##contig=<ID=1,assembly=GCA_000001405.15>", "GRCh38"),
        ("##reference=1000GenomesPilot-NCBI36", "NCBI36"),
        ("##reference=file:///seq/references/human_b36_both.fasta", "NCBI36"),
        ("##reference=hg18", "NCBI36"),
        ("##contig=<ID=20,length=62435964>", "NCBI36"),
        ("##contig=<ID=20,length=63025520>", "GRCh37"),
        ("##contig=<ID=chr20,length=64444167>", "GRCh38"),
        ("##assembly=ftp://ftp-trace.ncbi.nih.gov/breakpoint_assemblies.fasta", None),
        ("##source=GATK", None),
    ],
)
def test_header_clue_names_the_build(line: str, build: str | None) -> None:
    evidence = detect_build_from_header(["##fileformat=VCFv4.2", line])
    assert evidence.build == build
    assert evidence.source == ("header" if build else "default")
    if build:
        assert evidence.clues


def test_contig_lengths_outweigh_a_reference_name() -> None:
    evidence = detect_build_from_header(
        [
            "##reference=hg19.fa",
            "##contig=<ID=1,length=248956422>",
            "##contig=<ID=2,length=242193529>",
        ]
    )
    assert evidence.build == "GRCh38" and len(evidence.clues) == 3

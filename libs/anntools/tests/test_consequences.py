"""CSQ: Sequence Ontology consequences per allele and transcript, on hand-made transcripts.

tests/data/tiny (1-based, inclusive): PLUSG (+) exons 1001-1100, 1301-1400, 1801-2000, CDS
1051-1897 + stop codon 1898-1900 (c.1 = 1051, c.50 = 1100, c.51 = 1301); MINUSG (-) exons
5901-6000, 5401-5500, 5001-5200, start codon 5948-5950 (c.1 = 5950); NCG (+, lncRNA) exons
9001-9100, 9401-9500.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from numpy.typing import NDArray

from anntools import InputError, annotate_file, consequences
from anntools.bundle import load_bundle
from anntools.consequences import CSQ_FIELDS, TERM_NAMES, TranscriptModels
from anntools.engine import ChunkAnnotator
from anntools.vcf import VcfReader

ReadVcf = Callable[[Path], tuple[list[str], list[dict[str, Any]]]]

VARIANTS = [
    # pos, ref, alt, gene, Consequence, IMPACT, HGVSc, EXON, INTRON, DISTANCE
    (500, "A", "G", "PLUSG", "upstream_gene_variant", "MODIFIER", "", "", "", "501"),
    (1010, "A", "G", "PLUSG", "5_prime_UTR_variant", "MODIFIER", "c.-41A>G", "1/3", "", ""),
    (1051, "A", "G", "PLUSG", "start_lost", "HIGH", "c.1A>G", "1/3", "", ""),
    (1060, "A", "G", "PLUSG", "coding_sequence_variant", "MODIFIER", "c.10A>G", "1/3", "", ""),
    (
        1099,
        "A",
        "G",
        "PLUSG",
        "splice_region_variant&coding_sequence_variant",
        "LOW",
        "c.49A>G",
        "1/3",
        "",
        "",
    ),
    (1101, "G", "A", "PLUSG", "splice_donor_variant", "HIGH", "c.50+1G>A", "", "1/2", ""),
    (
        1105,
        "G",
        "A",
        "PLUSG",
        "splice_region_variant&intron_variant",
        "LOW",
        "c.50+5G>A",
        "",
        "1/2",
        "",
    ),
    (1200, "G", "A", "PLUSG", "intron_variant", "MODIFIER", "c.50+100G>A", "", "1/2", ""),
    (1299, "G", "A", "PLUSG", "splice_acceptor_variant", "HIGH", "c.51-2G>A", "", "1/2", ""),
    (1305, "GA", "G", "PLUSG", "frameshift_variant", "HIGH", "c.56del", "2/3", "", ""),
    (1305, "G", "GAAA", "PLUSG", "inframe_insertion", "MODERATE", "c.55_56insAAA", "2/3", "", ""),
    (1305, "GAAA", "G", "PLUSG", "inframe_deletion", "MODERATE", "c.56_58del", "2/3", "", ""),
    # An insertion between the last intron base and the first coding base is coding (and
    # at the exon's edge).
    (
        1300,
        "G",
        "GA",
        "PLUSG",
        "frameshift_variant&splice_region_variant",
        "HIGH",
        "c.51-1_51insA",
        "2/3",
        "",
        "",
    ),
    (1898, "T", "C", "PLUSG", "stop_lost", "HIGH", "c.248T>C", "3/3", "", ""),
    (1950, "T", "C", "PLUSG", "3_prime_UTR_variant", "MODIFIER", "c.*50T>C", "3/3", "", ""),
    (2100, "T", "C", "PLUSG", "downstream_gene_variant", "MODIFIER", "", "", "", "100"),
    # Minus strand: positions from the transcript's 5' end, bases complemented.
    (5950, "T", "C", "MINUSG", "start_lost", "HIGH", "c.1A>G", "1/3", "", ""),
    (5940, "T", "C", "MINUSG", "coding_sequence_variant", "MODIFIER", "c.11A>G", "1/3", "", ""),
    (5899, "T", "C", "MINUSG", "splice_donor_variant", "HIGH", "c.50+2A>G", "", "1/2", ""),
    (5940, "TA", "T", "MINUSG", "frameshift_variant", "HIGH", "c.10del", "1/3", "", ""),
    (
        9050,
        "T",
        "C",
        "NCG",
        "non_coding_transcript_exon_variant",
        "MODIFIER",
        "n.50T>C",
        "1/2",
        "",
        "",
    ),
    (
        9200,
        "T",
        "C",
        "NCG",
        "intron_variant&non_coding_transcript_variant",
        "MODIFIER",
        "n.100+100T>C",
        "",
        "1/1",
        "",
    ),
]


def _entries(info: dict[str, str]) -> list[dict[str, str]]:
    return [
        dict(zip(CSQ_FIELDS, entry.split("|"), strict=True)) for entry in info["CSQ"].split(",")
    ]


@pytest.fixture(scope="module")
def annotated(
    tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory, vcf_records: ReadVcf
) -> tuple[Path, list[dict[str, Any]], dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("csq")
    source = workdir / "variants.vcf"
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=249250621>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    lines += [f"chr1\t{v[0]}\t.\t{v[1]}\t{v[2]}\t.\t.\t." for v in VARIANTS]
    lines += ["chr1\t50000\t.\tT\tC,G\t.\t.\t.", "chr1\t1950\t.\tT\tC,*\t.\t.\t."]
    source.write_text("\n".join(lines) + "\n")
    output = workdir / "out.vcf"
    summary = annotate_file(source, output, bundle_dir=tiny_bundle)
    return output, vcf_records(output)[1], summary


@pytest.mark.parametrize("expected", VARIANTS, ids=lambda v: f"{v[0]}{v[1]}>{v[2]}")
def test_consequence_per_transcript(
    annotated: tuple[Path, list[dict[str, Any]], dict[str, Any]], expected: tuple[Any, ...]
) -> None:
    pos, ref, alt, gene, consequence, impact, hgvsc, exon, intron, distance = expected
    record = next(r for r in annotated[1] if (r["pos"], r["ref"], r["alt"]) == (pos, ref, alt))
    entry = next(e for e in _entries(record["info"]) if e["SYMBOL"] == gene)
    assert (
        entry["Consequence"],
        entry["IMPACT"],
        entry["HGVSc"],
        entry["EXON"],
        entry["INTRON"],
        entry["DISTANCE"],
    ) == (consequence, impact, hgvsc, exon, intron, distance)
    assert entry["Feature_type"] == "Transcript"
    assert entry["CANONICAL"] == "YES"


def test_intergenic_alleles_and_most_severe(
    annotated: tuple[Path, list[dict[str, Any]], dict[str, Any]],
) -> None:
    _, records, summary = annotated
    far = next(r for r in records if r["pos"] == 50000)
    assert [(e["Allele"], e["Consequence"]) for e in _entries(far["info"])] == [
        ("C", "intergenic_variant"),
        ("G", "intergenic_variant"),
    ]
    # A spanning deletion ('*') gets no entry; the other allele does.
    utr = next(r for r in records if r["pos"] == 1950 and r["alt"] == "C,*")
    assert {e["Allele"] for e in _entries(utr["info"])} == {"C"}
    donor = next(r for r in records if r["pos"] == 1101)
    assert donor["info"]["MOST_SEVERE_CSQ"] == "splice_donor_variant"
    assert summary["consequence_counts"]["frameshift_variant"] == 3
    assert summary["consequence_counts"]["intergenic_variant"] == 1


def test_deletion_allele_is_a_dash(
    annotated: tuple[Path, list[dict[str, Any]], dict[str, Any]],
) -> None:
    record = next(r for r in annotated[1] if (r["pos"], r["ref"]) == (1305, "GA"))
    assert {e["Allele"] for e in _entries(record["info"])} == {"-"}


def test_consequences_can_be_switched_off(tiny_bundle: Path, tmp_path: Path) -> None:
    source = tmp_path / "one.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t1060\t.\tA\tG\t.\t.\t.\n"
    )
    annotate_file(
        source, tmp_path / "out.vcf", bundle_dir=tiny_bundle, consequences=False, force_build=True
    )
    text = (tmp_path / "out.vcf").read_text()
    assert "CSQ" not in text and "REGION=CDS" in text


def test_a_record_with_too_many_entries_is_refused_with_its_line(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record with very many ALT alleles near transcripts would need gigabytes of CSQ (a
    900,000-allele record at TP53 took 6 GB and then failed on an offset overflow); it is
    refused with its line and what to do, and nothing is written."""
    monkeypatch.setattr(consequences, "MAX_PAIRS_PER_CHUNK", 50)
    alleles = ",".join(["C", "G", "T"] * 20)
    source = tmp_path / "many.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t1060\t.\tA\tG\t.\t.\t.\n"
        f"chr1\t1061\t.\tA\t{alleles}\t.\t.\t.\n"
    )
    output = tmp_path / "out.vcf"
    with pytest.raises(InputError) as raised:
        annotate_file(source, output, bundle_dir=tiny_bundle, force_build=True)
    assert raised.value.line == 4
    assert "60 ALT alleles" in str(raised.value)
    assert "bcftools norm -m -any" in str(raised.value)
    assert "--no-consequences" in str(raised.value)
    assert not output.exists()
    annotate_file(source, output, bundle_dir=tiny_bundle, consequences=False, force_build=True)
    assert output.read_text().count("REGION=CDS") == 2


def test_a_long_ref_with_very_many_alt_alleles_is_refused_with_its_line(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A REF is copied for each ALT allele: a 2 Mb REF with 120,000 ALT alleles asked for
    224 GiB and crashed; such a record is refused with its line."""
    monkeypatch.setattr(consequences, "MAX_ALLELE_BYTES_PER_CHUNK", 1000)
    source = tmp_path / "long.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t1060\t.\t{'A' * 100}\t{','.join(['C', 'G', 'T'] * 5)}\t.\t.\t.\n"
    )
    with pytest.raises(InputError) as raised:
        annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle, force_build=True)
    assert raised.value.line == 3
    assert "REF of 100 bases" in str(raised.value) and "15 ALT alleles" in str(raised.value)


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools is not installed")
def test_bcftools_split_vep_reads_csq(
    annotated: tuple[Path, list[dict[str, Any]], dict[str, Any]],
) -> None:
    output = annotated[0]
    listed = subprocess.run(
        ["bcftools", "+split-vep", "-l", str(output)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split("\t")[1] for line in listed] == list(CSQ_FIELDS)
    printed = subprocess.run(
        ["bcftools", "+split-vep", "-d", "-f", "%POS %SYMBOL %Consequence\n", str(output)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "1101 PLUSG splice_donor_variant" in printed
    assert "5950 MINUSG start_lost" in printed


class _EverySnvIsMissense:
    """A stand-in for a FASTA-backed refiner: what the seam receives and how its answer
    lands in CSQ."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str]] = []

    def refine(
        self,
        models: TranscriptModels,
        transcripts: NDArray[Any],
        cds_positions: NDArray[Any],
        ref: pa.Array,
        alt: pa.Array,
        masks: NDArray[Any],
    ) -> tuple[NDArray[Any], pa.Array]:
        self.seen += list(
            zip(cds_positions.tolist(), ref.to_pylist(), alt.to_pylist(), strict=True)
        )
        coding = 1 << TERM_NAMES.index("coding_sequence_variant")
        missense = 1 << TERM_NAMES.index("missense_variant")
        new = (masks & ~np.uint32(coding)) | np.uint32(missense)
        return new, pa.array([f"p.(Xaa{(p + 2) // 3}Yaa)" for p in cds_positions.tolist()])


def test_a_sequence_refiner_turns_coding_snvs_into_protein_terms(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    source = tmp_path / "one.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t1060\t.\tA\tG\t.\t.\t.\n"
    )
    refiner = _EverySnvIsMissense()
    reader = VcfReader(source)
    annotator = ChunkAnnotator(load_bundle(tiny_bundle), reader.header, refiner=refiner)
    text, first_line = next(reader.chunks())
    lines, _ = annotator.annotate(text, first_line)
    info = bytes(lines).decode().split("\t")[7]
    entry = next(
        e
        for e in _entries(dict(i.split("=", 1) for i in info.split(";") if "=" in i))
        if e["SYMBOL"] == "PLUSG"
    )
    assert refiner.seen == [(10, "A", "G")]
    assert (entry["Consequence"], entry["IMPACT"], entry["HGVSp"]) == (
        "missense_variant",
        "MODERATE",
        "p.(Xaa4Yaa)",
    )
    assert entry["HGVSc"] == "c.10A>G"

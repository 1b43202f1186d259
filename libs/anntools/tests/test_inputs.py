"""Every input oddity from tests/data, annotated against the hand-made bundle."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anntools import BuildMismatchError, InputError, annotate_file
from anntools.cli import EXIT_INPUT_ERROR, main

ReadVcf = Callable[[Path], tuple[list[str], list[dict[str, Any]]]]


def _annotate(
    source: Path, bundle: Path, tmp_path: Path, name: str = "out.vcf", **kwargs: Any
) -> tuple[Path, dict[str, Any]]:
    output = tmp_path / name
    summary = annotate_file(source, output, bundle_dir=bundle, **kwargs)
    return output, summary


def test_adds_info_headers_and_keeps_original_columns(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, summary = _annotate(data_dir / "no_samples.vcf", tiny_bundle, tmp_path)
    header, records = vcf_records(output)
    for field in ("GENE", "REGION", "EXON", "STRAND", "HGNC_NAME", "CYTOBAND", "CPG_ISLAND"):
        assert any(line.startswith(f"##INFO=<ID={field},") for line in header), field
    assert header[-1].startswith("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    assert [r["columns"][:7] for r in records] == [
        ["1", "1000", ".", "G", "A", "50", "PASS"],
        ["1", "1051", "rs111", "A", "G", "50", "PASS"],
        ["1", "5950", "rs222", "C", "T", "50", "PASS"],
    ]
    info = dict(records[0]["info"])
    assert info.pop("CSQ").startswith("A|upstream_gene_variant|MODIFIER|PLUSG|")
    assert info.pop("MOST_SEVERE_CSQ") == "upstream_gene_variant"
    assert info == {
        "DP": "10",
        "REGION": "promoter",
        "CYTOBAND": "1p36.33",
        "CPG_ISLAND": "",
    }
    assert any(line.startswith("##INFO=<ID=COMMON_SNP,Number=0,Type=Flag,") for line in header)
    assert not any(line.startswith("##INFO=<ID=DB,") for line in header)  # not ours to define
    assert records[1]["info"]["DP"] == "11" and "COMMON_SNP" in records[1]["info"]
    assert "DB" not in records[1]["info"]
    assert records[2]["info"]["GENE"] == "MINUSG"
    # a BED track added by configuration only; free text is percent-encoded
    assert records[2]["info"]["ENHANCER"] == "enh_A,enh_B%3Bx"
    assert summary["variants"] == 3
    assert summary["in_dbsnp"] == 2
    assert summary["pct_in_dbsnp"] == pytest.approx(66.667)
    assert summary["rsids_in_input"] == 0
    assert summary["common_snp_matches"] == 2


def test_each_alt_of_a_multiallelic_record_is_matched(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, _ = _annotate(data_dir / "multiallelic.vcf", tiny_bundle, tmp_path)
    _, records = vcf_records(output)
    assert [r["id"] for r in records] == ["rs111;rs112", "rs112", "."]
    assert ["COMMON_SNP" in r["info"] for r in records] == [True, True, False]


def test_chr_prefixed_names_are_kept_and_annotated(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, _ = _annotate(data_dir / "chr_prefixed.vcf", tiny_bundle, tmp_path)
    _, records = vcf_records(output)
    assert [r["chrom"] for r in records] == ["chr1", "chr1", "chrM"]
    assert records[0]["id"] == "rs111"
    assert records[0]["info"]["REGION"] == "CDS"
    assert records[2]["info"]["REGION"] == "intergenic"  # chrM is a known chromosome


def test_mitochondria_and_unplaced_contigs(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, summary = _annotate(data_dir / "mitochondrial_and_unplaced.vcf", tiny_bundle, tmp_path)
    _, records = vcf_records(output)
    assert records[0]["info"] == {
        "REGION": "intergenic",
        "CSQ": "C|intergenic_variant|MODIFIER" + "|" * 22,
        "MOST_SEVERE_CSQ": "intergenic_variant",
    }
    assert records[2]["info"] == {}  # GL000192.1 is outside the bundle: left unannotated
    assert summary["unknown_contigs"] == {"GL000192.1": 1}
    assert summary["region_counts"]["unknown_contig"] == 1


def test_crlf_line_endings(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, _ = _annotate(data_dir / "crlf.vcf", tiny_bundle, tmp_path)
    assert b"\r" not in output.read_bytes()
    _, records = vcf_records(output)
    assert records[0]["info"]["DP"] == "3" and records[0]["id"] == "rs111"
    assert records[1]["info"]["REGION"] == "ncRNA_exon"


def _bcftools_reads(path: Path) -> None:
    """bcftools parses the whole file without an error (skipped when it is not installed)."""
    if shutil.which("bcftools") is None:
        return
    result = subprocess.run(["bcftools", "view", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "[E::" not in result.stderr, result.stderr


DEBIAN_TRAILING_TAB_VCF = Path(
    "/usr/lib/R/site-library/VariantAnnotation/unitTests/cases/multiple_INFO_fields.vcf"
)


def test_trailing_tab_is_tolerated_and_not_written_back(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, summary = _annotate(data_dir / "trailing_tab.vcf", tiny_bundle, tmp_path)
    assert b"\t\n" not in output.read_bytes()
    _, records = vcf_records(output)
    assert summary["variants"] == 4
    assert [len(r["columns"]) for r in records] == [8, 8, 8, 8]
    assert records[0]["id"] == "rs111;rs112"
    assert records[0]["info"]["AF"] == "0.139776,0.0595048" and records[0]["info"]["NS"] == "2504"
    assert records[1]["id"] == "var2" and records[1]["info"]["EXON"] == "2/3"
    assert records[3]["info"]["GENE"] == "NCG"  # the INFO before the trailing tab was empty
    _bcftools_reads(output)


def test_real_vcf_with_trailing_tabs_from_debian(tiny_bundle: Path, tmp_path: Path) -> None:
    if not DEBIAN_TRAILING_TAB_VCF.exists():
        pytest.skip("r-bioc-variantannotation is not installed (apt-get install it)")
    output, summary = _annotate(DEBIAN_TRAILING_TAB_VCF, tiny_bundle, tmp_path)
    assert summary["variants"] == 2
    assert b"\t\n" not in output.read_bytes()
    _bcftools_reads(output)


def test_a_trailing_tab_does_not_excuse_a_wrong_column_count(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    source = tmp_path / "extra_column.vcf"
    source.write_text(
        (data_dir / "trailing_tab.vcf").read_text() + "1\t9200\t.\tG\tA\t50\tPASS\t.\tGT\t\n"
    )
    with pytest.raises(InputError) as caught:
        _annotate(source, tiny_bundle, tmp_path)
    assert str(caught.value) == (
        "Line 9: expected 8 tab-separated columns as in the '#CHROM' header, found 10"
    )


def _assert_each_key_once(path: Path, vcf_records: ReadVcf) -> None:
    header, records = vcf_records(path)
    info_ids = [line.split("ID=")[1].split(",")[0] for line in header if line.startswith("##INFO")]
    assert len(info_ids) == len(set(info_ids)), info_ids
    assert sum(line.startswith("##anntools_bundle=") for line in header) == 1
    for record in records:
        keys = [item.partition("=")[0] for item in record["columns"][7].split(";")]
        assert len(keys) == len(set(keys)), record["columns"]
    _bcftools_reads(path)


def test_reannotating_replaces_the_earlier_annotation(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    log = tmp_path / "run.log"
    output, summary = _annotate(
        data_dir / "reannotated.vcf", tiny_bundle, tmp_path, log_path=log, consequences=False
    )
    _assert_each_key_once(output, vcf_records)
    header, records = vcf_records(output)
    assert not any("older bundle" in line or "2020-01-01" in line for line in header)
    assert '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="dbSNP-style' in header[3]
    # the input's own keys (its DB flag too) stay in their order; stale GENE/REGION are gone
    assert records[0]["columns"][7] == (
        "DP=10;AF=0.5;DB;GENEINFO=OLDGENE:1;REGION=promoter;CYTOBAND=1p36.33;CPG_ISLAND"
    )
    assert '##INFO=<ID=DB,Number=0,Type=Flag,Description="Known variant">' in header
    assert records[1]["id"] == "rs111" and records[1]["info"]["REGION"] == "CDS"
    assert records[1]["columns"][7].startswith("DB;DP=11;COMMON_SNP;GENE=PLUSG;")
    assert records[2]["id"] == "rs999;rs222" and records[2]["info"]["REGION"] == "CDS"
    assert records[3]["columns"][7] == "."  # unplaced contig: only stale fields, none fresh
    assert summary["reannotated_variants"] == 4
    text = log.read_text()
    assert "annotated before" in text and "earlier annotation was replaced: 4" in text


def test_annotating_an_output_again_gives_the_same_file(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    once, _ = _annotate(data_dir / "multiallelic.vcf", tiny_bundle, tmp_path, "once.vcf")
    twice, summary = _annotate(once, tiny_bundle, tmp_path, "twice.vcf")
    assert twice.read_bytes() == once.read_bytes()
    assert summary["reannotated_variants"] == 3


@pytest.mark.parametrize("chunk_bytes", [1 << 18, 60])
def test_fields_of_ours_the_header_does_not_declare_are_replaced_too(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf, chunk_bytes: int
) -> None:
    output, summary = _annotate(
        data_dir / "undeclared_annotations.vcf", tiny_bundle, tmp_path, chunk_bytes=chunk_bytes
    )
    _assert_each_key_once(output, vcf_records)
    _, records = vcf_records(output)
    assert records[1]["columns"][7].startswith("DP=11;DB;COMMON_SNP;GENE=PLUSG;")
    assert records[3]["info"]["REGION"] == "CDS"
    assert [r["info"].get("DP") for r in records] == ["10", "11", "12", None, "13"]
    assert summary["reannotated_variants"] == 2


def test_many_samples_keep_their_genotypes(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, _ = _annotate(data_dir / "many_samples.vcf", tiny_bundle, tmp_path)
    header, records = vcf_records(output)
    _, source_records = vcf_records(data_dir / "many_samples.vcf")
    assert header[-1].count("\t") == 108
    for ours, theirs in zip(records, source_records, strict=True):
        assert ours["columns"][8:] == theirs["columns"][8:]
        assert len(ours["columns"]) == 109
    assert records[1]["info"]["EXON"] == "2/3"


def test_bgzipped_input_and_output_are_real_bgzf(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    output, _ = _annotate(data_dir / "bgzipped.vcf.gz", tiny_bundle, tmp_path, "out.vcf.gz")
    assert output.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # gzip with the BGZF extra field
    _annotate(data_dir / "no_samples.vcf", tiny_bundle, tmp_path)
    assert vcf_records(output)[1] == vcf_records(tmp_path / "out.vcf")[1]
    if shutil.which("tabix") is None:
        pytest.skip("tabix not installed (apt-get install tabix) for the index check")
    subprocess.run(["tabix", "-p", "vcf", str(output)], check=True)
    region = subprocess.run(
        ["tabix", str(output), "1:1051-1051"], check=True, capture_output=True, text=True
    ).stdout
    assert region.startswith("1\t1051\trs111\t")


def test_small_chunks_give_the_same_output(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    whole, _ = _annotate(data_dir / "many_samples.vcf", tiny_bundle, tmp_path, "whole.vcf")
    chunked, _ = _annotate(
        data_dir / "many_samples.vcf", tiny_bundle, tmp_path, "chunked.vcf", chunk_bytes=97
    )
    assert whole.read_bytes() == chunked.read_bytes()


def test_progress_is_reported_up_to_one(data_dir: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    _annotate(
        data_dir / "many_samples.vcf", tiny_bundle, tmp_path, progress=seen.append, chunk_bytes=200
    )
    assert len(seen) > 3
    assert seen == sorted(seen) and seen[-1] == 1.0 and 0 <= seen[0] <= 1


@pytest.mark.parametrize(
    ("fixture", "detected"),
    [
        ("wrong_build_grch38_contigs.vcf", "GRCh38"),
        ("wrong_build_grch38_reference.vcf", "GRCh38"),
        ("wrong_build_beyond_chromosome_end.vcf", "GRCh38"),
    ],
)
def test_wrong_build_is_refused_naming_the_detected_build(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, fixture: str, detected: str
) -> None:
    with pytest.raises(BuildMismatchError) as caught:
        _annotate(data_dir / fixture, tiny_bundle, tmp_path)
    assert caught.value.detected_build == detected
    assert detected in str(caught.value) and "GRCh37" in str(caught.value)
    assert isinstance(caught.value, InputError)
    assert list(tmp_path.iterdir()) == []  # no partial output left behind


def test_header_only_vcf_gives_a_header_only_output(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, vcf_records: ReadVcf
) -> None:
    source = tmp_path / "header_only.vcf"
    source.write_text(
        "".join(
            line
            for line in (data_dir / "no_samples.vcf").read_text().splitlines(keepends=True)
            if line.startswith("#")
        )
    )
    (tmp_path / "out").mkdir()
    output, summary = _annotate(source, tiny_bundle, tmp_path / "out")
    header, records = vcf_records(output)
    assert records == [] and header[-1].startswith("#CHROM")
    assert summary["variants"] == 0 and summary["pct_in_dbsnp"] == 0.0


def test_failure_is_written_to_the_log(data_dir: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with pytest.raises(InputError):
        _annotate(data_dir / "non_numeric_pos.vcf", tiny_bundle, tmp_path, log_path=log)
    assert "failed: Line 5: POS '10x3' is not a positive integer" in log.read_text()


def test_header_that_names_the_bundle_build_is_accepted(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    log = tmp_path / "run.log"
    _, summary = _annotate(data_dir / "grch37_header.vcf", tiny_bundle, tmp_path, log_path=log)
    assert summary["build_detection"]["detected"] == "GRCh37"
    assert "matches the bundle" in log.read_text()


def test_unidentified_build_proceeds_and_says_so(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    log = tmp_path / "run.log"
    _, summary = _annotate(data_dir / "no_samples.vcf", tiny_bundle, tmp_path, log_path=log)
    assert summary["build_detection"]["detected"] is None
    text = log.read_text()
    assert "annotating as GRCh37" in text
    assert "matched our common-SNP set: 2 (66.667%)" in text and "region promoter: 1" in text
    assert "rsIDs present in the input: 0 (0.0%)" in text


@pytest.mark.parametrize(
    ("fixture", "line", "words"),
    [
        ("empty.vcf", None, "empty"),
        ("not_a_vcf.tsv", 1, "##fileformat=VCF"),
        ("binary_garbage.vcf", 1, "binary"),
        ("missing_chrom_header.vcf", 2, "#CHROM"),
        ("too_few_columns.vcf", 4, "expected 8 or more tab-separated columns, found 4"),
        ("non_numeric_pos.vcf", 5, "POS '10x3' is not a positive integer"),
        ("space_separated.vcf", 3, "separated by spaces; VCF needs tabs"),
        ("truncated.vcf.gz", None, "truncated"),
        ("does_not_exist.vcf", None, "does not exist"),
    ],
)
def test_bad_input_gets_an_actionable_error(
    data_dir: Path,
    tiny_bundle: Path,
    tmp_path: Path,
    fixture: str,
    line: int | None,
    words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(InputError) as caught:
        _annotate(data_dir / fixture, tiny_bundle, tmp_path)
    if line is not None:
        assert caught.value.line == line
        assert str(caught.value).startswith(f"Line {line}: ")
    assert words in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    code = main(
        [
            "annotate",
            str(data_dir / fixture),
            "-o",
            str(tmp_path / "cli.vcf"),
            "--bundle",
            str(tiny_bundle),
            "--quiet",
        ]
    )
    assert code == EXIT_INPUT_ERROR
    assert words in capsys.readouterr().err
    assert not (tmp_path / "cli.vcf").exists()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("chunk_bytes", [1 << 19, 60, 97])
def test_a_bad_record_deep_in_a_file_is_named_by_its_line(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, newline: str, chunk_bytes: int
) -> None:
    """Line numbers are counted across chunks (and CRLF files) without being thrown off."""
    lines = (data_dir / "no_samples.vcf").read_text().splitlines()
    # The header names the build, so no sample of the records is read before the chunks.
    header = [lines[0], "##reference=GRCh37", *(line for line in lines[1:] if line[0] == "#")]
    record = next(line for line in lines if not line.startswith("#"))
    body = [record] * 40
    body[33] = record.replace("\t", " ", 2)  # space-separated: refused with its line
    source = tmp_path / "deep.vcf"
    source.write_bytes(newline.join([*header, *body, ""]).encode())
    with pytest.raises(InputError) as caught:
        _annotate(source, tiny_bundle, tmp_path, chunk_bytes=chunk_bytes)
    assert caught.value.line == len(header) + 34

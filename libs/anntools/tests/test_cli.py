"""The command line as the annotator worker and users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from anntools.bundle import BUNDLE_FORMAT_VERSION
from anntools.cli import EXIT_INPUT_ERROR, main


def test_annotate_writes_vcf_log_and_summary(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    output, log, summary = tmp_path / "o.vcf.gz", tmp_path / "run.log", tmp_path / "s.json"
    code = main(
        [
            "annotate",
            str(data_dir / "no_samples.vcf"),
            "-o",
            str(output),
            "--bundle",
            str(tiny_bundle),
            "--log",
            str(log),
            "--summary-json",
            str(summary),
            "--quiet",
        ]
    )
    assert code == 0
    figures = json.loads(summary.read_text())
    assert figures["variants"] == 3
    assert figures["region_counts"]["CDS"] == 2  # 1:1051 and 1:5950
    assert figures["variants_per_second"] > 0
    assert figures["provenance"]["build"] == "GRCh37"
    assert "annotated 3 variants" in log.read_text()


def test_wrong_build_exits_with_the_input_error_code(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "anntools.cli",
            "annotate",
            str(data_dir / "wrong_build_grch38_contigs.vcf"),
            "-o",
            str(tmp_path / "o.vcf"),
            "--bundle",
            str(tiny_bundle),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_INPUT_ERROR
    assert "GRCh38" in result.stderr and "--build GRCh38" in result.stderr
    assert not (tmp_path / "o.vcf").exists()


def test_bundle_info_verify_and_export(
    tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bundle", "info", "--bundle", str(tiny_bundle)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["build"] == "GRCh37"
    assert [t["name"] for t in info["tracks"]] == [
        "gene_model",
        "cytoband",
        "cpg_islands",
        "known",
        "enhancers",
    ]
    assert all(
        source["sha256"]
        for source in json.loads((tiny_bundle / "manifest.json").read_text())["sources"]
    )
    assert main(["bundle", "verify", "--bundle", str(tiny_bundle)]) == 0
    assert (
        main(
            [
                "bundle",
                "export",
                "--bundle",
                str(tiny_bundle),
                "--out",
                str(tmp_path),
                "--chrom-style",
                "chr",
            ]
        )
        == 0
    )
    genes = (tmp_path / "gene_model.bed").read_text().splitlines()
    assert genes == [
        "chr1\t1000\t2000\tPLUSG",
        "chr1\t5000\t6000\tMINUSG",
        "chr1\t9000\t9500\tNCG",
        "chr1\t20000\t20800\tISO",
        "chr1\t20300\t20500\tOVL",
    ]
    known = (tmp_path / "known.vcf").read_text().splitlines()
    assert known[-3:] == [
        "chr1\t1051\trs111\tA\tG\t.\t.\tCOMMON_SNP",
        "chr1\t1051\trs112\tA\tT\t.\t.\tCOMMON_SNP",
        "chr1\t5950\trs222\tC\tT\t.\t.\tCOMMON_SNP",
    ]


def test_damaged_bundle_fails_verification(tiny_bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "tracks" / "known" / "positions.npy").write_bytes(b"tampered")
    assert main(["bundle", "verify", "--bundle", str(copy)]) == 1


def test_annotating_never_imports_pandas_or_pyarrow_compute(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    # pandas (and unpickling) belong to bundle builds; importing it costs every job ~1-2 s.
    # pyarrow.compute builds ~300 kernel wrappers on import (~45 ms); anntools.arrow calls the
    # kernels it needs without it.
    script = (
        "import sys\n"
        "from anntools import annotate_file\n"
        f"annotate_file({str(data_dir / 'multiallelic.vcf')!r}, {str(tmp_path / 'o.vcf.gz')!r},"
        f" bundle_dir={str(tiny_bundle)!r})\n"
        # an input annotated before takes the INFO-stripping path
        f"annotate_file({str(data_dir / 'reannotated.vcf')!r}, {str(tmp_path / 'r.vcf')!r},"
        f" bundle_dir={str(tiny_bundle)!r})\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
        "assert 'pyarrow.compute' not in sys.modules, 'pyarrow.compute was imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_ensure_prints_a_cached_bundle_without_running_the_builder(
    tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / f"GRCh37-{BUNDLE_FORMAT_VERSION}").symlink_to(tiny_bundle)
    command = ["bundle", "ensure", "--build", "GRCh37", "--cache-dir", str(tmp_path)]
    assert main([*command, "--builder", "/no/such/builder anntools"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / f'GRCh37-{BUNDLE_FORMAT_VERSION}'}\n"


def test_building_where_the_data_packages_are_not_installed_says_where_to_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The runtime environment (the one the tests run in) has neither pandas nor the data
    # packages: they belong to the bundle builder's environment.
    assert main(["bundle", "ensure", "--build", "GRCh38", "--cache-dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "cannot build the GRCh38 bundle in this environment (pandas is not installed)" in error
    assert "make bundles" in error and "--project tools/bundle-builder" in error
    assert not (tmp_path / f"GRCh38-{BUNDLE_FORMAT_VERSION}").exists()


def test_a_bundle_builder_that_cannot_run_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["bundle", "ensure", "--build", "GRCh37", "--cache-dir", str(tmp_path)]
    assert main([*command, "--builder", "/no/such/builder anntools"]) == 1
    error = capsys.readouterr().err
    assert "cannot run the bundle builder `/no/such/builder anntools bundle build" in error
    assert "make bundles" in error
    assert not (tmp_path / f"GRCh37-{BUNDLE_FORMAT_VERSION}").exists()

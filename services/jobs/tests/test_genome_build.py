"""The submit-time build check on every odd file anntools keeps for its own tests: it judges or
refuses, and never fails otherwise (an upload must never make submit answer 500)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gas_jobs.genome_build import BuildRefused, check_build

DATA = Path(__file__).resolve().parents[3] / "libs" / "anntools" / "tests" / "data"
ODD_FILES = sorted(path for path in DATA.glob("*") if path.is_file())


@pytest.mark.parametrize("path", ODD_FILES, ids=lambda path: path.name)
def test_any_upload_is_judged_or_refused_with_a_reason(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    for cache in (None, tmp_path):  # with the bundles at hand (when built), and without
        for start, whole in ((data, True), (data[: len(data) // 2], False)):
            try:
                check = check_build(start, whole=whole, requested="GRCh38", cache_dir=cache)
            except BuildRefused as refused:
                assert str(refused).startswith("This file ")
                assert refused.check.as_record()["reason"]
            else:
                assert check.as_record()["source"] in {"header", "data", "forced", "default"}


def test_a_cut_gzip_start_and_a_contig_past_the_end_are_read_as_far_as_they_go(
    tmp_path: Path,
) -> None:
    vcf = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    vcf += b"X\t156000000\t.\tA\tG\t.\t.\t.\n" * 50
    start = gzip.compress(vcf)[:-12]  # the trailer and the last bytes of data are missing
    check = check_build(start, whole=False, requested=None, cache_dir=tmp_path)
    assert (check.detected, check.source) == ("GRCh38", "data")
    assert "past the end of GRCh37's chromosome X (155,270,560 bp)" in check.reason
    with pytest.raises(BuildRefused, match="looks like GRCh38, not GRCh37"):
        check_build(start, whole=False, requested="GRCh37", cache_dir=tmp_path)

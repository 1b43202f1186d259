"""What submit accepts as a VCF, and what an uploaded file name becomes in S3."""

from __future__ import annotations

import gzip

import pytest

from gas_jobs.service import sanitise_filename
from gas_jobs.sniff import vcf_problem

HEADER = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.mark.parametrize(
    "start",
    [HEADER, gzip.compress(HEADER), b"\xef\xbb\xbf" + HEADER, HEADER.replace(b"\n", b"\r\n")],
    ids=["plain", "gzip", "bom", "crlf"],
)
def test_vcf_headers_are_accepted(start: bytes) -> None:
    assert vcf_problem(start) is None


def test_a_character_cut_at_the_sniff_boundary_is_not_mistaken_for_binary() -> None:
    assert vcf_problem(HEADER + "##comment=Zürich".encode()[:-1]) is None


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (b"chr1\t100\t.\tA\tG\n", "line 1 should be the header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not text"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "cannot be decompressed"),
    ],
)
def test_other_files_are_refused_with_a_reason(start: bytes, expected: str) -> None:
    problem = vcf_problem(start)
    assert problem is not None and expected in problem


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("my sample.vcf.gz", "my_sample.vcf.gz"),
        ("../../etc/passwd", "passwd"),
        ("C:\\data\\run 1.vcf", "run_1.vcf"),
        ("...", "input.vcf"),
    ],
)
def test_file_names_are_made_safe_for_s3_keys(given: str, stored: str) -> None:
    assert sanitise_filename(given) == stored

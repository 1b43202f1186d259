"""What submit accepts as a VCF, and what an uploaded file name becomes in S3."""

from __future__ import annotations

import gzip
import random
import time
import zlib

import pytest

from gas_jobs.service import sanitise_filename
from gas_jobs.sniff import SNIFF_BYTES, text_size_over, vcf_problem

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


def test_a_vcf_with_windows_1252_bytes_in_its_header_text_is_left_to_the_annotator() -> None:
    assert vcf_problem(HEADER.replace(b"#CHROM", b"##comment=M\xfcller\n#CHROM")) is None


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (b"", "empty (0 bytes)"),
        (gzip.compress(b""), "holds no data"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "zip archive"),
        (gzip.compress(b"BAM\x01\x00\x00\x00\x00"), "BAM file"),
        ("##fileformat=VCFv4.2\n".encode("utf-16"), "UTF-16"),
        (b"BZh91AY&SY", "bzip2"),
    ],
    ids=["empty", "empty-gzip", "zip", "bam", "utf-16", "bzip2"],
)
def test_common_wrong_files_are_named(start: bytes, expected: str) -> None:
    problem = vcf_problem(start)
    assert problem is not None and expected in problem


def test_a_gzip_bomb_is_sniffed_without_inflating_it() -> None:
    bomb = gzip.compress(HEADER + b"\0" * (200 * 1024**2), compresslevel=9)
    started = time.perf_counter()
    assert vcf_problem(bomb) is None  # the header is fine; the annotator refuses the rest
    assert text_size_over(bomb, 150 * 1024)
    assert time.perf_counter() - started < 1.0


def test_the_text_size_counts_every_gzip_member() -> None:
    members = gzip.compress(HEADER * 100) + gzip.compress(HEADER * 100)
    size = len(HEADER) * 200
    assert not text_size_over(members, size)
    assert text_size_over(members, size - 1)
    assert text_size_over(HEADER, len(HEADER) - 1) and not text_size_over(HEADER, len(HEADER))


def test_no_upload_makes_the_sniff_raise() -> None:
    """Whatever bytes a user uploads, the answer is None or a message (never an exception,
    which would be a 500 from submit)."""
    rng = random.Random(11)
    samples = [HEADER[:cut] for cut in range(0, len(HEADER), 7)]
    for _ in range(300):
        noise = rng.randbytes(rng.randrange(0, 3000))
        samples += [noise, b"\x1f\x8b" + noise, gzip.compress(noise)[: rng.randrange(1, 40)]]
        samples.append(zlib.compress(noise))
        samples.append(gzip.compress(HEADER + noise)[: rng.randrange(10, 200)])
    samples.append(gzip.compress(b"#" * (SNIFF_BYTES * 3)))
    for sample in samples:
        problem = vcf_problem(sample)
        assert problem is None or problem.endswith((".", ")")), problem
        text_size_over(sample, 1000)


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

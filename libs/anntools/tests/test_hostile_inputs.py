"""Inputs made to hurt: a line with no end, empty alleles, a byte-order mark. Each ends in a
clear message with its line number (or, for the mark, in the same result as without it)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from anntools import InputError, annotate_file
from anntools.vcf import MAX_LINE_BYTES, VcfReader

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def gzip_stream(path: Path, pieces: Iterator[bytes]) -> Path:
    """Write a gzip file from pieces without holding the decompressed text in memory."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    with path.open("wb") as handle:
        for piece in pieces:
            handle.write(compressor.compress(piece))
        handle.write(compressor.flush())
    return path


def endless_line(megabytes: int) -> Iterator[bytes]:
    yield HEADER.encode()
    yield b"1\t100\t.\tA\tG\t50\tPASS\tNOTE="
    for _ in range(megabytes):
        yield b"x" * (1 << 20)


def test_a_gzip_holding_one_giant_line_is_refused_with_its_line(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    source = gzip_stream(tmp_path / "bomb.vcf.gz", endless_line(64))
    assert source.stat().st_size < 150 * 1024  # small enough for the free tier

    with pytest.raises(InputError, match="longer than 10 MiB") as refused:
        annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle)

    assert refused.value.line == 3
    assert not (tmp_path / "out.vcf").exists()


def test_a_header_line_without_end_is_refused_too(tmp_path: Path) -> None:
    pieces = iter([b"##fileformat=VCFv4.2\n##note=", b"y" * (MAX_LINE_BYTES + 1)])
    source = gzip_stream(tmp_path / "header.vcf.gz", pieces)

    with pytest.raises(InputError, match="longer than") as refused:
        VcfReader(source)

    assert refused.value.line == 2


def test_a_long_but_legal_line_is_annotated(tmp_path: Path, tiny_bundle: Path) -> None:
    note = "n" * (3 << 20)  # 3 MiB of INFO spans many read blocks
    source = tmp_path / "long.vcf"
    source.write_text(
        f"{HEADER}1\t1051\t.\tA\tG\t50\tPASS\tNOTE={note}\n1\t5950\t.\tC\tT\t50\tPASS\t.\n"
    )

    summary = annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle)

    lines = (tmp_path / "out.vcf").read_text().splitlines()
    records = [line for line in lines if not line.startswith("#")]
    assert summary["variants"] == 2
    assert records[0].split("\t")[7].startswith(f"NOTE={note};")


@pytest.mark.parametrize(
    ("record", "column"),
    [
        ("1\t1000\t.\t\tA\t50\tPASS\t.", "REF"),
        ("1\t1000\t.\tG\t\t50\tPASS\t.", "ALT"),
        ("\t1000\t.\tG\tA\t50\tPASS\t.", "CHROM"),
    ],
)
def test_empty_alleles_and_chromosomes_are_refused(
    tmp_path: Path, tiny_bundle: Path, record: str, column: str
) -> None:
    source = tmp_path / "empty.vcf"
    source.write_text(f"{HEADER}1\t900\t.\tG\tA\t50\tPASS\t.\n{record}\n")

    with pytest.raises(InputError, match=f"the {column} column is empty") as refused:
        annotate_file(source, tmp_path / "out.vcf", bundle_dir=tiny_bundle)

    assert refused.value.line == 4


@pytest.mark.parametrize("compressed", [False, True])
def test_a_byte_order_mark_changes_nothing(
    data_dir: Path, tiny_bundle: Path, tmp_path: Path, compressed: bool
) -> None:
    plain = (data_dir / "no_samples.vcf").read_bytes()
    marked = b"\xef\xbb\xbf" + plain
    source = tmp_path / ("bom.vcf.gz" if compressed else "bom.vcf")
    source.write_bytes(gzip.compress(marked) if compressed else marked)

    annotate_file(data_dir / "no_samples.vcf", tmp_path / "plain.vcf", bundle_dir=tiny_bundle)
    annotate_file(source, tmp_path / "marked.vcf", bundle_dir=tiny_bundle)

    assert (tmp_path / "marked.vcf").read_bytes() == (tmp_path / "plain.vcf").read_bytes()

"""Is this upload a VCF at all? A cheap look at its first bytes before a worker spends time on it."""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024


def vcf_problem(start: bytes) -> str | None:
    """None when ``start`` (the first bytes of a file) looks like a VCF, else what is wrong."""
    if start.startswith(GZIP_MAGIC):
        try:
            start = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(start)
        except zlib.error:
            return "The file starts like gzip but cannot be decompressed; upload it again."
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(start) - 4:  # not just a character cut at the sniff boundary
            return "The file is not text (or gzipped text); upload a VCF file."
        text = start[: error.start].decode("utf-8")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if not first_line.startswith("#"):
        return (
            "This is not a VCF file: line 1 should be the header '##fileformat=VCFv4.x' "
            f"but starts with {first_line[:40]!r}."
        )
    return None

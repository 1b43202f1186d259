"""Is this upload a VCF at all, and how much text does it hold? Cheap looks at the uploaded
bytes before a worker spends time on them. Nothing here raises on any input: every oddity
becomes a message that says what is wrong and what to do."""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024
UTF8_BOM = "\ufeff"

# Files people upload by mistake, by their first bytes (after gzip/BGZF decompression).
KNOWN_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"BAM\x01", "a BAM file (aligned reads); upload the VCF called from it"),
    (b"BCF\x02", "a BCF file (binary VCF); convert it with `bcftools view -Oz`"),
    (b"PK\x03\x04", "a zip archive; unzip it and upload the VCF inside"),
    (b"BZh", "a bzip2 file; recompress it with gzip or bgzip"),
    (b"\xfd7zXZ\x00", "an xz file; recompress it with gzip or bgzip"),
    (b"\x28\xb5\x2f\xfd", "a zstd file; recompress it with gzip or bgzip"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe", "UTF-16 text; save it as UTF-8 and upload it again"),
    (b"\xfe\xff", "UTF-16 text; save it as UTF-8 and upload it again"),
)


def gunzip_prefix(data: bytes, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of text from gzip ``data`` (every member, as BGZF has many),
    and whether the stream could be read that far. Inflates no more than ``limit`` bytes,
    whatever the compression ratio."""
    out: list[bytes] = []
    total = 0
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while data and total < limit:
            block = decompressor.decompress(data, limit - total)
            out.append(block)
            total += len(block)
            if decompressor.eof:
                data = decompressor.unused_data
                if data and not data.startswith(GZIP_MAGIC):
                    break  # trailing bytes after the last member: zlib-compatible readers stop
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = decompressor.unconsumed_tail
    except zlib.error:
        return b"".join(out), False
    return b"".join(out), True


def text_size_over(data: bytes, limit: int) -> bool:
    """Does the whole file ``data`` hold more than ``limit`` bytes of text?"""
    if not data.startswith(GZIP_MAGIC):
        return len(data) > limit
    text, _ = gunzip_prefix(data, limit + 1)
    return len(text) > limit


def vcf_problem(start: bytes) -> str | None:
    """None when ``start`` (the first bytes of a file) looks like a VCF, else what is wrong."""
    if not start:
        return (
            "The uploaded file is empty (0 bytes); create a new job and upload the VCF file again."
        )
    if start.startswith(GZIP_MAGIC):
        start, readable = gunzip_prefix(start, SNIFF_BYTES)
        if not readable and not start:
            return "The file starts like gzip but cannot be decompressed; upload it again."
        if not start:
            return "The gzip file holds no data; upload the VCF file again."
    start = start[:SNIFF_BYTES]
    for magic, what in KNOWN_FORMATS:
        if start.startswith(magic):
            return (
                f"This is not a VCF file: it is {what}. GAS annotates VCF files (plain or gzipped)."
            )
    # Bytes that are not UTF-8 (Windows-1252 in a description, say) are no reason to refuse:
    # the annotator passes them through. Binary data is, as anntools judges it.
    text = start.decode("utf-8", errors="replace")
    first_line = text.removeprefix(UTF8_BOM).split("\n", 1)[0].rstrip("\r")
    if first_line.startswith("#"):
        return None
    if b"\x00" in start[:4096] or _looks_binary(start[:4096]):
        return "The file is not text (or gzipped text); upload a VCF file."
    return (
        "This is not a VCF file: line 1 should be the header '##fileformat=VCFv4.x' "
        f"but starts with {first_line[:40]!r}."
    )


def _looks_binary(sample: bytes) -> bool:
    printable = sum(32 <= byte < 127 or byte in (9, 10, 13) or byte >= 128 for byte in sample)
    return printable < 0.9 * len(sample)

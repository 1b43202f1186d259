"""Reading VCF text in chunks of whole lines and splitting them into columns with numpy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import pyarrow as pa
from isal import isal_zlib
from numpy.typing import NDArray

from anntools import arrow, native
from anntools.arrow import spans
from anntools.errors import InputError

FIXED_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
CHUNK_BYTES = 512 << 10
# What ISA-L raises for invalid deflate data (its stubs declare an instance, not the class).
INFLATE_ERROR = cast("type[Exception]", isal_zlib.IsalError)
# A longer line is refused: no VCF record or header line needs it, and holding one costs memory.
MAX_LINE_BYTES = 10 << 20
UTF8_BOM = b"\xef\xbb\xbf"
_MAX_POS_DIGITS = 10
_TAB, _NEWLINE, _COMMA = 9, 10, 44


@dataclass
class Header:
    meta_lines: list[str]  # the ## lines
    column_line: str  # the #CHROM line
    line_count: int

    @property
    def column_count(self) -> int:
        return self.column_line.count("\t") + 1

    @property
    def sample_count(self) -> int:
        return max(self.column_count - 9, 0)


class VcfReader:
    """Streams a plain or gzip/BGZF-compressed VCF: the header first, then chunks of lines."""

    def __init__(
        self,
        path: str | Path,
        chunk_bytes: int = CHUNK_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = Path(path)
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        try:
            self._raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        except FileNotFoundError as error:
            raise InputError(f"input file {self.path} does not exist") from error
        except IsADirectoryError as error:
            raise InputError(f"{self.path} is a directory, not a VCF file") from error
        self._size = max(os.fstat(self._raw.fileno()).st_size, 1)
        magic = self._raw.read(2)
        self._raw.seek(0)
        self.compressed = magic == b"\x1f\x8b"
        self._blocks = self._gunzip_blocks() if self.compressed else self._plain_blocks()
        self._pending = b""
        self._next_line = 1
        self.header = self._read_header()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> VcfReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def fraction_read(self) -> float:
        return min(self._raw.tell() / self._size, 1.0)

    def _read(self) -> bytes:
        """The next block of decompressed text (at most ``chunk_bytes``), b"" at the end."""
        return next(self._blocks, b"")

    def _plain_blocks(self) -> Iterator[bytes]:
        while block := self._raw.read(self.chunk_bytes):
            yield block

    def _gunzip_blocks(self) -> Iterator[bytes]:
        """Multi-member gzip (BGZF is one member per 64 KiB block) inflated with ISA-L in large
        steps (~1.5x zlib's speed), overlapping with the annotating threads."""
        decompressor = isal_zlib.decompressobj(31)
        member_open = False
        try:
            while compressed := self._raw.read(self.chunk_bytes):
                data = compressed
                while data:
                    member_open = True
                    block = decompressor.decompress(data, self.chunk_bytes)
                    if block:
                        yield block
                    if decompressor.eof:
                        data = decompressor.unused_data
                        decompressor = isal_zlib.decompressobj(31)
                        member_open = False
                    else:
                        data = decompressor.unconsumed_tail
            while member_open and not decompressor.eof:
                block = decompressor.flush()
                if not block:
                    break
                yield block
        except INFLATE_ERROR as error:
            raise InputError(
                f"the file is not valid gzip/BGZF data ({error})", line=self._next_line
            ) from error
        if member_open and not decompressor.eof:
            raise InputError(
                "the gzip stream ends early: the file is truncated (re-upload or re-compress "
                "it with bgzip)",
                line=self._next_line,
            )

    def _read_header(self) -> Header:
        buffer = self._read().removeprefix(UTF8_BOM)  # editors on Windows add one; it is no data
        if not buffer:
            raise InputError("the input file is empty; upload a VCF with a header and variants")
        if not buffer.startswith(b"##fileformat=VCF"):
            if b"\x00" in buffer[:4096] or _looks_binary(buffer[:4096]):
                raise InputError("this is binary data, not a VCF text file (plain or gzip)", line=1)
            raise InputError(
                "expected '##fileformat=VCFv4.x' as the first line; is this a VCF?", line=1
            )
        meta: list[str] = []
        line_number = 0
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                buffer, newline = self._complete_line(buffer, line_number + 1)
            raw_line, buffer = buffer[:newline], buffer[newline + 1 :]
            line_number += 1
            line = _decode(raw_line, line_number).rstrip("\r")
            if line.startswith("##"):
                meta.append(line)
                if not buffer:
                    buffer = self._read()
                    if not buffer:
                        raise InputError(
                            "the file ends before the '#CHROM' header line; the "
                            "VCF header is incomplete",
                            line=line_number,
                        )
                continue
            if line.startswith("#CHROM"):
                columns = line[1:].split("\t")
                if tuple(columns[:8]) != FIXED_COLUMNS or (
                    len(columns) > 8 and columns[8] != "FORMAT"
                ):
                    raise InputError(
                        "the '#CHROM' header line must list CHROM POS ID REF ALT QUAL "
                        "FILTER INFO [FORMAT samples...] separated by tabs",
                        line=line_number,
                    )
                self._pending = buffer
                self._next_line = line_number + 1
                return Header(meta, line, line_number)
            raise InputError(
                "found a data line before the '#CHROM' header line; the VCF "
                "header is missing or incomplete",
                line=line_number,
            )

    def _complete_line(self, start: bytes, line: int) -> tuple[bytes, int]:
        """Read on until the line that ``start`` begins has ended; return the text read and
        where that line's newline is (one is added at the end of the file)."""
        parts = [start]
        length = len(start)
        while True:
            more = self._read()
            if not more:
                parts.append(b"\n")
                return b"".join(parts), length
            newline = more.find(b"\n")
            if newline >= 0:
                parts.append(more)
                return b"".join(parts), length + newline
            length += len(more)
            self._check_line_length(length, line)
            parts.append(more)

    def _check_line_length(self, length: int, line: int) -> None:
        if length > self.max_line_bytes:
            raise InputError(
                f"the line is longer than {self.max_line_bytes >> 20} MiB without a line "
                "break; a VCF line is one record (is the file damaged or not a VCF?)",
                line=line,
            )

    def chunks(self) -> Iterator[tuple[bytes, int]]:
        """Yield (whole lines ending in '\\n', line number of the first line), about
        ``chunk_bytes`` at a time."""
        carry = self._pending
        self._pending = b""
        finished = False
        while not finished:
            parts = [carry]
            size = len(carry)
            open_line = len(carry) - (carry.rfind(b"\n") + 1)  # bytes after the last newline
            lines_before = self._next_line + carry.count(b"\n")
            while True:  # whole lines of at least chunk_bytes, each block looked at once
                block = self._read()
                if not block:
                    finished = True
                    break
                parts.append(block)
                size += len(block)
                newline = block.rfind(b"\n")
                if newline < 0:
                    open_line += len(block)
                    self._check_line_length(open_line, lines_before)
                    continue
                lines_before += block.count(b"\n")
                open_line = len(block) - newline - 1
                self._check_line_length(open_line, lines_before)
                if size >= self.chunk_bytes:
                    break
            buffer = b"".join(parts)
            cut = len(buffer) if finished else buffer.rfind(b"\n") + 1
            text, carry = buffer[:cut], buffer[cut:]
            # Every newline counted so far is in ``text`` (``carry`` holds none), so the lines
            # need no second count unless normalising changed them.
            lines = lines_before - self._next_line
            if finished and text and not text.endswith(b"\n"):
                text += b"\n"
                lines += 1
            normalised = _normalise(text)
            if normalised is not text:
                text, lines = normalised, normalised.count(b"\n")
            if text:
                first = self._next_line
                self._next_line += lines
                yield text, first


@dataclass
class ChunkColumns:
    """Byte offsets of the columns of every line in a chunk (tab positions, line ends)."""

    text: bytes  # the chunk as split: trailing tabs removed
    data: NDArray[Any]
    line_starts: NDArray[Any]
    line_ends: NDArray[Any]  # index of the '\n'
    tabs: NDArray[Any]  # (lines, 8): tabs after CHROM..INFO; the 8th is the line end without FORMAT
    positions: NDArray[Any]  # POS, 1-based

    @property
    def count(self) -> int:
        return len(self.line_starts)


def split_columns(text: bytes, first_line: int, column_count: int) -> ChunkColumns:
    data = np.frombuffer(text, dtype=np.uint8)
    line_ends = np.flatnonzero(data == _NEWLINE)
    line_starts = np.empty_like(line_ends)
    line_starts[0] = 0
    line_starts[1:] = line_ends[:-1] + 1
    fast = native.vcf_columns(text, line_ends, column_count)
    if fast is not None:
        return ChunkColumns(text, data, line_starts, line_ends, *fast)
    if np.any(data == 0):
        bad = int(np.searchsorted(line_ends, np.flatnonzero(data == 0)[0]))
        raise InputError(
            "binary data (NUL bytes) inside the VCF body; the file is corrupt",
            line=first_line + bad,
        )
    tab_positions = np.flatnonzero(data == _TAB)
    first_tab = np.searchsorted(tab_positions, line_starts)
    tab_counts = np.searchsorted(tab_positions, line_ends) - first_tab
    wrong = np.flatnonzero(tab_counts != column_count - 1)
    if len(wrong):
        # A tab at the end of a line is an empty extra field (some writers add one); bcftools
        # reads such lines, so it is dropped here rather than refused.
        trailing_tab = (tab_counts[wrong] == column_count) & (data[line_ends[wrong] - 1] == _TAB)
        if np.all(trailing_tab):
            kept = np.delete(data, line_ends[wrong] - 1).tobytes()
            return split_columns(kept, first_line, column_count)
        wrong = wrong[~trailing_tab]
        row = int(wrong[0])
        found = int(tab_counts[row]) + 1
        if found < 8:
            message = f"expected 8 or more tab-separated columns, found {found}"
            start, end = int(line_starts[row]), int(line_ends[row])
            if found == 1 and text[start:end].count(b" ") >= 7:
                message += " (the columns are separated by spaces; VCF needs tabs)"
        else:
            message = (
                f"expected {column_count} tab-separated columns as in the '#CHROM' "
                f"header, found {found}"
            )
        raise InputError(message, line=first_line + row)
    wanted = min(column_count - 1, 8)
    tabs = np.empty((len(line_starts), 8), dtype=np.int64)
    tabs[:, :wanted] = tab_positions[first_tab[:, None] + np.arange(wanted)]
    if wanted < 8:
        tabs[:, 7] = line_ends
    _refuse_empty_fields(line_starts, tabs, first_line)
    positions = _parse_positions(text, data, tabs[:, 0], tabs[:, 1], first_line)
    return ChunkColumns(text, data, line_starts, line_ends, tabs, positions)


def _refuse_empty_fields(line_starts: NDArray[Any], tabs: NDArray[Any], first_line: int) -> None:
    """CHROM, REF and ALT must hold something (VCF writes '.' for a missing value)."""
    widths = {
        "CHROM": tabs[:, 0] - line_starts,
        "REF": tabs[:, 3] - tabs[:, 2] - 1,
        "ALT": tabs[:, 4] - tabs[:, 3] - 1,
    }
    empty = {name: np.flatnonzero(width < 1) for name, width in widths.items()}
    found = [(int(rows[0]), name) for name, rows in empty.items() if len(rows)]
    if found:
        row, name = min(found)
        hint = " ('.' if the record has no alternate allele)" if name == "ALT" else ""
        raise InputError(
            f"the {name} column is empty; every record needs its {name} value{hint}",
            line=first_line + row,
        )


def _parse_positions(
    text: bytes, data: NDArray[Any], before: NDArray[Any], after: NDArray[Any], first_line: int
) -> NDArray[Any]:
    """POS as integers: Arrow's string-to-int cast on zero-copy slices; on a bad value, the
    numpy parser finds the offending line for the error message."""
    count = len(before)
    try:
        parsed = arrow.cast(spans(text, before + 1, after), pa.int64())
    except pa.ArrowInvalid:
        return _parse_positions_checked(data, before, after, first_line)
    values = np.frombuffer(parsed.buffers()[1], dtype=np.int64)[
        parsed.offset : parsed.offset + count
    ]
    if count and int(values.min()) < 1:
        return _parse_positions_checked(data, before, after, first_line)
    return values


def _parse_positions_checked(
    data: NDArray[Any], before: NDArray[Any], after: NDArray[Any], first_line: int
) -> NDArray[Any]:
    widths = after - before - 1
    bad = (widths < 1) | (widths > _MAX_POS_DIGITS)
    values = np.zeros(len(before), dtype=np.int64)
    last = len(data) - 1
    for digit_index in range(int(min(widths.max(), _MAX_POS_DIGITS))):
        inside = digit_index < widths
        digits = data[np.minimum(before + 1 + digit_index, last)].astype(np.int64) - 48
        bad |= inside & ((digits < 0) | (digits > 9))
        values = np.where(inside, values * 10 + digits, values)
    bad |= values < 1
    if np.any(bad):
        row = int(np.flatnonzero(bad)[0])
        start, end = int(before[row]) + 1, int(after[row])
        shown = bytes(data[start:end]).decode("utf-8", "replace")[:30]
        raise InputError(f"POS {shown!r} is not a positive integer", line=first_line + row)
    return values


def _normalise(text: bytes) -> bytes:
    """CRLF to LF and blank lines dropped, so every line splits the same way."""
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")
    if text.startswith(b"\n") or b"\n\n" in text:
        text = b"\n".join(line for line in text.split(b"\n") if line) + b"\n"
        if text == b"\n":
            return b""
    return text


def _decode(raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError("the header is not UTF-8 text; is this a VCF?", line=line) from error


def _looks_binary(sample: bytes) -> bool:
    printable = sum(32 <= byte < 127 or byte in (9, 10, 13) for byte in sample)
    return printable < 0.9 * len(sample)

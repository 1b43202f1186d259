"""The BGZF writer: blocks any gzip reader inflates, and bytes that depend only on the text."""

from __future__ import annotations

import gzip
import io
import random
import struct

from anntools.bgzf import BLOCK_INPUT, EOF_BLOCK, BgzfWriter


def _bgzf(text: bytes, pieces: list[int]) -> bytes:
    sink = io.BytesIO()
    sink.close = lambda: None  # type: ignore[method-assign]  # read it after the writer closes
    writer = BgzfWriter(sink)
    start = 0
    for size in pieces:
        writer.write(memoryview(text)[start : start + size])
        start += size
    writer.write(text[start:])
    writer.close()
    return sink.getvalue()


def test_the_same_text_gives_the_same_bytes_however_it_is_written() -> None:
    rng = random.Random(5)
    line = "1\t{}\t.\tA\tG\t50\tPASS\tCSQ=G|intron_variant|MODIFIER|GENE{}|||||\n"
    text = "".join(line.format(i, rng.randrange(500)) for i in range(40_000)).encode()
    written = {_bgzf(text, [rng.randrange(1, 300_000) for _ in range(8)]) for _ in range(4)}
    assert len(written) == 1
    data = written.pop()
    assert gzip.decompress(data) == text
    assert data.endswith(EOF_BLOCK)
    # Every block but the EOF marker holds at most BLOCK_INPUT bytes of text, and its BSIZE
    # field (the block's size less one) walks the file from block to block.
    offset, blocks = 0, 0
    while offset < len(data) - len(EOF_BLOCK):
        block_size = struct.unpack_from("<H", data, offset + 16)[0] + 1
        assert struct.unpack_from("<I", data, offset + block_size - 4)[0] <= BLOCK_INPUT
        offset += block_size
        blocks += 1
    assert offset == len(data) - len(EOF_BLOCK)
    assert blocks == -(-len(text) // BLOCK_INPUT)

"""The compiled CSQ writer (anntools/_csq.c) against the Python side it serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from anntools import consequences, native, vcf
from anntools.bundle import load_bundle


def test_the_c_rules_use_the_windows_flags_and_term_bits_of_consequences() -> None:
    rules = native.rules()
    assert rules.pop("UPSTREAM_BP") == consequences.UPSTREAM_BP
    assert rules.pop("SPLICE_REGION_EXON_BP") == consequences.SPLICE_REGION_EXON_BP
    assert rules.pop("SPLICE_REGION_INTRON_BP") == consequences.SPLICE_REGION_INTRON_BP
    assert rules.pop("START_CODON") == consequences.START_CODON
    assert rules.pop("STOP_CODON") == consequences.STOP_CODON
    for term, bit in rules.items():
        assert bit == 1 << consequences.TERM_NAMES.index(term), term


def test_gather_concatenates_the_picked_strings_of_several_arrays() -> None:
    sliced = pa.array(["zz", "C", "", "DDD"])[1:]
    arrays = [pa.array(["a", "bb"]), sliced, pa.array([""], pa.string()), pa.array(["é"])]
    order = np.array([4, 0, 1, 1, 2, 3, 5, 6, 0], dtype=np.int32)
    expected = "".join(pc.take(pa.concat_arrays(arrays), pa.array(order)).to_pylist())
    assert native.gather(arrays, order).tobytes().decode() == expected == "DDDabbbbCé" + "a"


def test_an_empty_gather_is_empty() -> None:
    assert native.gather([pa.array(["a"])], np.zeros(0, dtype=np.int32)).tobytes() == b""


def _numpy_split(text: bytes, columns: int, monkeypatch: pytest.MonkeyPatch) -> vcf.ChunkColumns:
    with monkeypatch.context() as patch:
        patch.setattr(native, "vcf_columns", lambda *_: None)
        return vcf.split_columns(text, 1, columns)


@pytest.mark.parametrize("columns", [8, 9, 11])
def test_the_c_column_split_gives_what_numpy_gives(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = "\tGT:DP\t0/1:3\t1/1:7"[: {8: 0, 9: 6, 11: 19}[columns]]
    text = "".join(
        f"chr{1 + i % 3}\t{1 + 37 * i**2}\t{'rs1' if i % 2 else '.'}\tA\tC,GT\t50\tPASS\t"
        f"{'DP=3' if i % 3 else '.'}{extra}\n"
        for i in range(200)
    ).encode()
    fast = vcf.split_columns(text, 1, columns)
    slow = _numpy_split(text, columns, monkeypatch)
    assert np.array_equal(fast.tabs, slow.tabs)
    assert np.array_equal(fast.positions, slow.positions)
    assert fast.positions[-1] == 1 + 37 * 199**2


@pytest.mark.parametrize(
    "line",
    [
        b"1\t5\t.\tA\tC\t.\t.\t.\t\n",  # a trailing tab (the numpy path drops it)
        b"1\t5\t.\tA\tC\t.\t.\n",  # a column missing
        b"1\t5\t.\tA\tC\t.\t.\t.\tGT\n",  # a column too many
        b"\t5\t.\tA\tC\t.\t.\t.\n",  # no CHROM
        b"1\t5\t.\t\tC\t.\t.\t.\n",  # no REF
        b"1\t5\t.\tA\t\t.\t.\t.\n",  # no ALT
        b"1\t0\t.\tA\tC\t.\t.\t.\n",  # POS 0
        b"1\t+5\t.\tA\tC\t.\t.\t.\n",  # a sign Arrow's cast reads
        b"1\t1234567890123456789\t.\tA\tC\t.\t.\t.\n",  # too many digits
        b"1\t5\t.\tA\tC\t.\t.\tDP=\x003\n",  # a NUL byte
    ],
)
def test_the_c_column_split_leaves_unusual_lines_to_numpy(line: bytes) -> None:
    text = b"1\t4\t.\tA\tC\t.\t.\t.\n" + line
    line_ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    assert native.vcf_columns(text, line_ends, 8) is None


def test_pairs_are_each_alleles_transcripts_in_order_whatever_the_chunk_holds(
    grch37_bundle: Path,
) -> None:
    models = load_bundle(grch37_bundle).transcripts
    assert models is not None
    rng = np.random.default_rng(3)
    first = np.sort(rng.choice(models.tx_start, 300) + rng.integers(-6000, 6000, 300))
    last = first + rng.integers(0, 3, 300) * rng.integers(1, 20_000, 300)
    allele, tx = consequences.pairs_for(models, first, last)
    expected = []
    for index, (a, b) in enumerate(zip(first.tolist(), last.tolist(), strict=True)):
        window_start = np.maximum(models.tx_start - consequences.UPSTREAM_BP, 0)
        near = (window_start <= a) & (models.tx_end + consequences.UPSTREAM_BP > a)
        near |= (window_start <= b) & (models.tx_end + consequences.UPSTREAM_BP > b)
        expected += [(index, int(t)) for t in np.flatnonzero(near)]
    assert list(zip(allele.tolist(), tx.tolist(), strict=True)) == expected
    # An allele gets the same pairs alone as among others.
    alone = consequences.pairs_for(models, first[7:8], last[7:8])
    assert alone[1].tolist() == tx[allele == 7].tolist()

"""The compiled CSQ writer (anntools/_csq.c) against the Python side it serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
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


def _lines(text: str) -> pa.Array:
    """The five pieces of each line, as engine._pieces cuts them."""
    pieces = []
    for line in text.splitlines():
        c = line.split("\t")
        rest = "".join(f"\t{column}" for column in c[8:])
        pieces += [f"{c[0]}\t{c[1]}\t", c[2], "\t" + "\t".join(c[3:7]) + "\t", c[7], rest + "\n"]
    return pa.array(pieces, pa.string())


def test_assembled_lines_put_new_ids_and_info_after_the_inputs_own() -> None:
    text = (
        "1\t10\t.\tA\tG\t.\tPASS\t.\n"  # nothing of its own, nothing added
        "1\t20\trs9\tA\tG\t.\tPASS\tDP=3\tGT\t0/1\n"  # its own, and ours after them
        "1\t30\t.\tA\tG\t.\tPASS\t.\n"  # ours instead of its '.'
    )
    pieces = _lines(text)
    id_present, info_present = np.array([0, 1, 0], bool), np.array([0, 1, 0], bool)
    ids = (pa.array(["rs1", "rs2"]), np.array([-1, 0, 1]))
    # A column whose array is a slice (Arrow offsets shifted).
    genes = (pa.array(["x", "GENE=A", "GENE=B"])[1:], np.array([-1, 1, 0]))
    flags = (pa.array(["COMMON", "CPG"]), np.array([-1, 0, 1]))
    lines = native.assemble_lines(pieces, id_present, info_present, [ids], [genes, flags])
    assert lines.tobytes().decode().splitlines() == [
        "1\t10\t.\tA\tG\t.\tPASS\t.",
        "1\t20\trs9;rs1\tA\tG\t.\tPASS\tDP=3;GENE=B;COMMON\tGT\t0/1",
        "1\t30\trs2\tA\tG\t.\tPASS\tGENE=A;CPG",
    ]


def test_assembled_lines_take_a_replaced_info() -> None:
    pieces = _lines("1\t10\t.\tA\tG\t.\tPASS\tOLD=1\n2\t5\t.\tC\tT\t.\tPASS\tOLD=2\n")
    info = pa.array(["DP=1", ""])
    present = np.array([1, 0], bool)
    extra = (pa.array(["NEW"]), np.array([0, -1]))
    lines = native.assemble_lines(pieces, np.zeros(2, bool), present, [], [extra], info)
    assert lines.tobytes().decode().splitlines() == [
        "1\t10\t.\tA\tG\t.\tPASS\tDP=1;NEW",
        "2\t5\t.\tC\tT\t.\tPASS\t.",
    ]


def test_no_lines_assemble_to_nothing() -> None:
    empty = pa.array([], pa.string())
    assert native.assemble_lines(empty, np.zeros(0, bool), np.zeros(0, bool), [], []).size == 0


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


def test_a_buffer_given_back_is_handed_out_again_and_the_pool_stays_bounded() -> None:
    pool = native.BufferPool(keep=1)
    first = pool.take(100)
    first[:] = 7
    pool.give(first.data)
    again = pool.take(90)  # fits in the buffer given back: the same memory
    assert len(again) == 90 and np.shares_memory(again, first)
    bigger = pool.take(10_000)  # does not fit: a new buffer
    assert not np.shares_memory(bigger, first)
    pool.give(again.data)
    pool.give(bigger.data)  # past keep=1: dropped, not kept
    assert np.shares_memory(pool.take(50), first)
    assert not np.shares_memory(pool.take(50), first)


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_galloping_search_equals_numpys_searchsorted(side: str) -> None:
    rng = np.random.default_rng(5)
    for size in (0, 1, 7, 5_000):
        # Repeated values, and queries below, between, on and above them.
        values = np.sort(rng.integers(10, 2**32 - 10, size) // 1000 * 1000).astype(np.uint32)
        picks = values[rng.integers(0, size, 300)] if size else np.zeros(0, np.uint32)
        queries = np.concatenate(
            [picks, picks + 1, rng.integers(0, 2**32, 300), [0, 2**32 - 1]]
        ).astype(np.uint32)
        for ordered in (np.sort(queries), queries):  # a sorted VCF's chunk, and any order
            expected = np.searchsorted(values, ordered, side=side)  # type: ignore[call-overload]
            assert np.array_equal(native.search_sorted(values, ordered, side), expected)

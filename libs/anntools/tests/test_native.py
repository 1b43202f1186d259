"""The compiled CSQ writer (anntools/_csq.c) against the Python side it serves."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anntools import consequences, native


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

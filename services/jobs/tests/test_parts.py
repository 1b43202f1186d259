"""How a file is cut into parts: within S3's limits of 10,000 parts of 5 MiB to 5 GiB."""

from __future__ import annotations

import pytest

from gas_jobs.parts import MAX_PARTS, MiB, plan_parts


def test_a_file_is_cut_into_parts_of_the_configured_size() -> None:
    assert plan_parts(100 * MiB, part_bytes=16 * MiB) == (16 * MiB, 7)
    assert plan_parts(1, part_bytes=16 * MiB) == (16 * MiB, 1)


def test_parts_are_never_below_s3s_minimum() -> None:
    assert plan_parts(12 * MiB, part_bytes=1 * MiB) == (5 * MiB, 3)


def test_a_huge_file_gets_larger_parts_to_stay_within_10000() -> None:
    size = 2 * 1024**4  # a 2 TiB gVCF
    part, count = plan_parts(size, part_bytes=16 * MiB)
    assert count <= MAX_PARTS and part % MiB == 0 and part * count >= size
    assert part == 210 * MiB


def test_a_file_beyond_10000_parts_of_5_gib_is_refused() -> None:
    with pytest.raises(ValueError, match="10000 parts"):
        plan_parts(10_000 * 5 * 1024**3 + 1, part_bytes=16 * MiB)

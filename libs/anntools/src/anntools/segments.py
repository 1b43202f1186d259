"""Piecewise-constant annotation: a track becomes sorted segment starts plus a label per segment.

Annotating a variant is then one ``searchsorted`` (which segment holds the position) and one
``take`` (that segment's pre-rendered INFO text), for a whole chunk of variants at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


def label_sets(
    starts: NDArray[Any], ends: NDArray[Any], codes: NDArray[Any]
) -> tuple[NDArray[Any], list[tuple[int, ...]]]:
    """Split the axis where the set of overlapping intervals changes.

    Intervals are half-open ``[start, end)`` with an integer label ``code``. Returns the segment
    starts (the first is always 0) and, per segment, the distinct codes covering it in the order
    their intervals start. A sweep in Python: run at bundle build time only.
    """
    positions = np.concatenate([starts, ends]).astype(np.int64)
    deltas = np.concatenate([np.ones(len(starts), np.int8), -np.ones(len(ends), np.int8)])
    all_codes = np.concatenate([codes, codes])
    # At one position, ends are applied before starts (half-open intervals touch, not overlap).
    order = np.lexsort((deltas, positions))
    position_list = positions[order].tolist()
    delta_list = deltas[order].tolist()
    code_list = all_codes[order].tolist()
    active: dict[int, int] = {}
    boundaries: list[int] = [0]
    sets: list[tuple[int, ...]] = [()]
    count = len(position_list)
    index = 0
    while index < count:
        position = position_list[index]
        while index < count and position_list[index] == position:
            code = code_list[index]
            if delta_list[index] > 0:
                active[code] = active.get(code, 0) + 1
            else:
                remaining = active[code] - 1
                if remaining:
                    active[code] = remaining
                else:
                    del active[code]
            index += 1
        current = tuple(active)
        if current != sets[-1]:
            if boundaries[-1] == position:
                sets[-1] = current
            else:
                boundaries.append(position)
                sets.append(current)
    return np.asarray(boundaries, dtype=np.int64), sets


def covered(starts: NDArray[Any], ends: NDArray[Any], boundaries: NDArray[Any]) -> NDArray[Any]:
    """Whether each segment is inside at least one interval.

    ``boundaries`` must contain every interval start and end, so coverage is constant per segment.
    """
    opened = np.searchsorted(np.sort(starts), boundaries, side="right")
    closed = np.searchsorted(np.sort(ends), boundaries, side="right")
    return (opened - closed) > 0


def segment_index(boundaries: NDArray[Any], positions: NDArray[Any]) -> NDArray[Any]:
    """Index of the segment holding each position (positions must be >= 0)."""
    return np.searchsorted(boundaries, positions, side="right") - 1


def combine(
    segmentations: Sequence[tuple[NDArray[Any], NDArray[Any]]],
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Overlay segmentations: returns union boundaries and a (segments x tracks) id matrix,
    with consecutive segments holding identical ids merged."""
    boundaries = np.unique(np.concatenate([bounds for bounds, _ in segmentations]))
    columns = [ids[segment_index(bounds, boundaries)] for bounds, ids in segmentations]
    matrix = np.stack(columns, axis=1)
    changed = np.ones(len(boundaries), dtype=bool)
    changed[1:] = np.any(matrix[1:] != matrix[:-1], axis=1)
    return boundaries[changed], matrix[changed]


def unique_rows(matrix: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Distinct rows and, for every row, the index of its distinct row."""
    distinct, inverse = np.unique(matrix, axis=0, return_inverse=True)
    return distinct, inverse.reshape(-1)

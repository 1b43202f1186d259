"""Arrow arrays over numpy buffers without copying, and without the pyarrow 11 calls
(``pa.array``, ``to_numpy``, Python scalars in compute functions) that import pandas.

The few Arrow kernels anntools uses are called here through ``pyarrow._compute.call_function``,
the entry point ``pyarrow.compute``'s functions call: importing ``pyarrow.compute`` builds a
Python wrapper with a docstring for each of its ~300 kernels (~45 ms, a twentieth of annotating
1M variants, before any work can start). Nothing on the annotation path imports it."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from pyarrow import _compute as kernels


def use_lean_memory_pool() -> None:
    """Arrow buffers from jemalloc (the system allocator where pyarrow has none), unless
    ARROW_DEFAULT_MEMORY_POOL says otherwise: with mimalloc, the default of recent pyarrow,
    annotating 1M variants peaks at ~240 MiB resident instead of ~170 MiB, as fast."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)


def slices(text: bytes, starts: NDArray[Any], ends: NDArray[Any]) -> pa.Array:
    """A zero-copy array whose even elements are text[start:end] (odd ones are the gaps)."""
    offsets = np.empty(2 * len(starts) + 1, dtype=np.int32)
    offsets[0:-1:2] = starts
    offsets[1:-1:2] = ends
    offsets[-1] = len(text)
    return pa.Array.from_buffers(
        pa.string(), 2 * len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


def indices(values: NDArray[Any]) -> pa.Array:
    """numpy integers as an Arrow array without copying."""
    if values.dtype == np.int32:
        values = np.ascontiguousarray(values)
        return pa.Array.from_buffers(pa.int32(), len(values), [None, pa.py_buffer(values)])
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def booleans(values: NDArray[Any]) -> pa.Array:
    bits = np.packbits(values, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def strings(values: list[str]) -> pa.Array:
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def to_numpy_bool(array: pa.Array) -> NDArray[Any]:
    """A null-free BooleanArray as numpy."""
    bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    unpacked: NDArray[np.uint8] = np.unpackbits(bits, bitorder="little")
    return unpacked[array.offset : array.offset + len(array)].astype(bool)


def spans(text: bytes, starts: NDArray[Any], ends: NDArray[Any]) -> pa.Array:
    """text[start:end] for each pair, as a new array (one take over ``slices``)."""
    return take(slices(text, starts, ends), indices(2 * np.arange(len(starts))))


_TAKE = kernels.TakeOptions(boundscheck=True)
_FILTER = kernels.FilterOptions()


def take(values: pa.Array, positions: pa.Array) -> pa.Array:
    """``pyarrow.compute.take``: values[positions[i]] for each i."""
    return kernels.call_function("take", [values, positions], _TAKE)


def keep(values: pa.Array, mask: pa.Array) -> pa.Array:
    """``pyarrow.compute.filter``: the values where ``mask`` (a BooleanArray) is true."""
    return kernels.call_function("filter", [values, mask], _FILTER)


def equal(left: pa.Array, right: pa.Array) -> pa.Array:
    return kernels.call_function("equal", [left, right])


def either(left: pa.Array, right: pa.Array) -> pa.Array:
    """``pyarrow.compute.or_``."""
    return kernels.call_function("or", [left, right])


def contains(values: pa.Array, pattern: str) -> pa.Array:
    """``pyarrow.compute.match_substring``: whether each string holds ``pattern``."""
    return kernels.call_function(
        "match_substring", [values], kernels.MatchSubstringOptions(pattern)
    )


def is_in(values: pa.Array, value_set: pa.Array) -> pa.Array:
    return kernels.call_function("is_in", [values], kernels.SetLookupOptions(value_set))


def upper(values: pa.Array) -> pa.Array:
    """``pyarrow.compute.utf8_upper``."""
    return kernels.call_function("utf8_upper", [values])


def join_lists(lists: pa.Array, separator: pa.Scalar) -> pa.Array:
    """``pyarrow.compute.binary_join``: each list's strings joined by ``separator``."""
    return kernels.call_function("binary_join", [lists, separator])


def cast(values: pa.Array, target: pa.DataType) -> pa.Array:
    """``pyarrow.compute.cast`` (safe: raises ``pa.ArrowInvalid`` on a value that does not fit)."""
    return kernels.call_function("cast", [values], kernels.CastOptions.safe(target))

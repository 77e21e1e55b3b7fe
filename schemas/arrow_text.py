"""Text columns as single Arrow arrays, and what their UTF-8 bytes tell at a glance (no Python
per value): the transforms read and skip work on the buffers themselves."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

Int64Array = npt.NDArray[np.int64]

# Bytes that may start or end a value `utf8_trim_whitespace` would change: ASCII whitespace,
# and any non-ASCII byte (Unicode has spaces of its own).
_MAY_TRIM = np.zeros(256, dtype=bool)
_MAY_TRIM[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, *range(0x80, 0x100)]] = True
_NO_BYTES = np.zeros(0, dtype=np.uint8)


def text_array(values: pd.Series) -> pa.Array:
    """A column's text as one Arrow large-string array (no copy when it is one already)."""
    text = pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text


def offsets_and_data(text: pa.Array) -> tuple[Int64Array, npt.NDArray[np.uint8]]:
    """A string array's value offsets (int64, into `data`) and its whole data buffer."""
    offset_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    window = slice(text.offset, text.offset + len(text) + 1)
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[window].astype(np.int64, copy=False)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else _NO_BYTES
    return offsets, data


def may_trim(text: pa.Array) -> bool:
    """False when no value starts or ends with a byte `utf8_trim_whitespace` could remove."""
    offsets, data = offsets_and_data(text)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    return bool(len(data)) and bool(
        _MAY_TRIM[data[starts[filled]]].any() or _MAY_TRIM[data[ends[filled] - 1]].any()
    )


def has_empty(text: pa.Array) -> bool:
    """Whether a value (not a null) is the empty string."""
    offsets, _ = offsets_and_data(text)
    empty = offsets[1:] == offsets[:-1]
    if not empty.any():
        return False
    return bool((empty & np.asarray(text.is_valid().to_numpy(zero_copy_only=False))).any())


def ascii_digits(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which bytes are the ASCII digits 0-9."""
    return np.asarray((data - np.uint8(48)) < 10, dtype=bool)  # uint8 wraps below "0"


def counts_within(flags: npt.NDArray[np.bool_], offsets: Int64Array) -> Int64Array:
    """How many flags are set within each value of a string array: `flags` has one per byte
    of its data buffer, value i being bytes `offsets[i]:offsets[i + 1]`. One pass over the
    bytes (`reduceat`), no running total over all of them."""
    counts = np.zeros(len(offsets) - 1, dtype=np.int64)
    filled = offsets[1:] > offsets[:-1]
    if filled.any():  # a filled value's sum runs to the next filled value's start: its end
        first, last = int(offsets[0]), int(offsets[-1])
        starts = offsets[:-1][filled] - first
        counts[filled] = np.add.reduceat(flags[first:last], starts, dtype=np.int64)
    return counts

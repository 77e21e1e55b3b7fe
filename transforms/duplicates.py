"""Duplicates within a run: rows with the same normalised key; the later row wins.

Only rows that are valid and not expired take part (an invalid or expired row never hides a
good one). Keys are kept for the whole run, compactly, because the winner may come last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

KEY_SEPARATOR = "\x1f"


def key_values(contacts: pd.DataFrame, keys: tuple[str, ...]) -> pa.Array:
    """The normalised key of each contact as text (several key fields joined)."""
    parts = [contacts[k].astype("str").fillna("") for k in keys]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + KEY_SEPARATOR + part
    return pa.array(joined, type=pa.large_string(), from_pandas=True)


@dataclass(frozen=True)
class DuplicateVerdict:
    """For each row of the run in order: is it a duplicate, and which row beat it."""

    duplicate: npt.NDArray[np.bool_]
    winner: npt.NDArray[np.int64]


class DuplicateFinder:
    """Collect keys batch by batch, then decide which rows lost to a later one."""

    def __init__(self) -> None:
        self._chunks: list[pa.Array] = []
        self.rows = 0

    def add(self, keys: pa.Array) -> None:
        """Record the keys of the next rows of the run, in run order."""
        self._chunks.append(keys)
        self.rows += len(keys)

    def verdict(self) -> DuplicateVerdict:
        """Rows whose key appears again later are duplicates; `winner` is that last row."""
        if not self.rows:
            empty = np.zeros(0, dtype=np.int64)
            return DuplicateVerdict(duplicate=empty.astype(bool), winner=empty)
        keys = pa.chunked_array(self._chunks, type=pa.large_string()).combine_chunks()
        codes = np.asarray(keys.dictionary_encode().indices.to_numpy(), dtype=np.int64)
        order = np.arange(self.rows, dtype=np.int64)
        # The first occurrence in reverse order is the last occurrence in run order.
        seen, first_from_end = np.unique(codes[::-1], return_index=True)
        last = np.empty(int(codes.max()) + 1, dtype=np.int64)
        last[seen] = self.rows - 1 - first_from_end
        winner = last[codes]
        return DuplicateVerdict(duplicate=winner != order, winner=winner)

"""Duplicates within a run: rows with the same normalised key; the later row wins.

Only rows that are valid and not expired take part (an invalid or expired row never hides a
good one). Keys are kept for the whole run, compactly, because the winner may come last.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from schemas.fields import NUMBER_FIELDS

KEY_SEPARATOR = "\x1f"


def key_values(contacts: pd.DataFrame, keys: tuple[str, ...]) -> pa.Array:
    """The normalised key of each contact as text (several key fields joined)."""
    parts = [_one_form(contacts[k].astype("str").fillna(""), k) for k in keys]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + KEY_SEPARATOR + part
    return pa.array(joined, type=pa.large_string(), from_pandas=True)


def _one_form(values: pd.Series, key: str) -> pd.Series:
    """A phone key in one form: an E.164 domain takes `+12125551234` and `2125551234` (and
    `+44...` and `01144...`) as they are, but they are one phone, so one key."""
    if key not in NUMBER_FIELDS or not values.str.startswith("+").any():
        return values
    national = values.str.replace(r"^\+1(\d{10})$", r"\1", regex=True)
    return national.str.replace(r"^\+", "011", regex=True)


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

    def verdict(self, taking: npt.NDArray[np.bool_] | None = None) -> DuplicateVerdict:
        """Rows whose key appears again later are duplicates; `winner` is that last row.
        With `taking`, only those rows count: the others neither win nor lose."""
        order = np.arange(self.rows, dtype=np.int64)
        if not self.rows:
            return DuplicateVerdict(duplicate=order.astype(bool), winner=order)
        keys = pa.chunked_array(self._chunks, type=pa.large_string()).combine_chunks()
        codes = np.asarray(keys.dictionary_encode().indices.to_numpy(), dtype=np.int64)
        rows = order if taking is None else np.flatnonzero(taking)
        winner = order.copy()
        if len(rows):
            # The first occurrence in reverse order is the last occurrence in run order.
            taken = codes[rows]
            seen, first_from_end = np.unique(taken[::-1], return_index=True)
            last = np.empty(int(codes.max()) + 1, dtype=np.int64)
            last[seen] = rows[len(rows) - 1 - first_from_end]
            winner[rows] = last[taken]
        return DuplicateVerdict(duplicate=winner != order, winner=winner)


# Random odd weights, one per byte position (positions past the end wrap around), and a
# multiplier for the length: a key's hash is its weighted byte sum, mixed (splitmix64).
_WEIGHTS = np.random.default_rng(0x5EED_F1E9).integers(1, 2**63, size=1024, dtype=np.uint64) | 1
_LENGTH_WEIGHT = np.uint64(0x9E3779B97F4A7C15)


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def key_hashes(keys: pa.Array) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each key, vectorised over the UTF-8 bytes (null keys hash as "").

    Equal keys always hash alike; two different keys share a hash with odds near 2**-64, and
    where they do, both rows are only held back for the exact comparison (see KeyCensus)."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    keys = keys.cast(pa.large_string())
    _, offset_buffer, data_buffer = keys.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[
        keys.offset : keys.offset + len(keys) + 1
    ]
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    if data_buffer is None or offsets[-1] == 0:
        return _mix(lengths.astype(np.uint64) * _LENGTH_WEIGHT)
    start = np.frombuffer(offset_buffer, dtype=np.int64)[keys.offset]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[start : start + offsets[-1]]
    sums = _sums_by_length(data, offsets, lengths)
    if sums is None:
        position = np.arange(len(data), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        weighted = data.astype(np.uint64) * _WEIGHTS[position & (len(_WEIGHTS) - 1)]
        running = np.concatenate([np.zeros(1, np.uint64), np.cumsum(weighted, dtype=np.uint64)])
        sums = running[offsets[1:]] - running[offsets[:-1]]
    return _mix(sums + lengths.astype(np.uint64) * _LENGTH_WEIGHT)


# Keys of a few lengths, none longer than this (phone numbers: 10 digits, and some 011 ones),
# are summed a byte position at a time, each length apart.
_SHORT_KEY = 64
_FEW_LENGTHS = 8


def _sums_by_length(
    data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64] | None:
    """Each key's weighted byte sum, as `key_hashes` defines it, for keys of a few short
    lengths (None otherwise): one pass per byte position instead of one gather per byte."""
    if lengths.max() > _SHORT_KEY:
        return None
    widths = np.flatnonzero(np.bincount(lengths))
    if len(widths) > _FEW_LENGTHS:
        return None
    sums = np.zeros(len(lengths), dtype=np.uint64)
    padded = np.concatenate((data, np.zeros(_SHORT_KEY, dtype=np.uint8)))
    rows: slice | npt.NDArray[np.intp]
    for width in widths[widths > 0].tolist():
        if len(widths) == 1:  # one length: the bytes are a matrix already
            rows = slice(None)
            block = data.reshape(-1, width)
        else:
            rows = np.flatnonzero(lengths == width)
            block = np.lib.stride_tricks.sliding_window_view(padded, width)[offsets[rows]]
        columns = np.ascontiguousarray(block.T)
        part = columns[0] * _WEIGHTS[0]
        for position in range(1, width):
            part += columns[position] * _WEIGHTS[position]
        sums[rows] = part
    return sums


class KeyCensus:
    """A first, light pass over the run's keys: which key hashes occur more than once.

    A row whose key is not contested can be sent the moment it is valid (no later row can
    beat it); rows with a contested key wait for the end of the run. 8 bytes a row."""

    def __init__(self) -> None:
        self._hashes: list[npt.NDArray[np.uint64]] = []
        self.rows = 0

    def add(self, hashes: npt.NDArray[np.uint64]) -> None:
        """Count the key hashes of the next rows (rows without a key are left out)."""
        self._hashes.append(hashes)
        self.rows += len(hashes)

    def contested(self) -> ContestedKeys:
        """The hashes seen at least twice, sorted."""
        if not self._hashes:
            return ContestedKeys(np.zeros(0, dtype=np.uint64))
        every = np.concatenate(self._hashes)
        self._hashes = []
        every.sort()
        repeated = every[1:][every[1:] == every[:-1]]
        return ContestedKeys(np.unique(repeated))


@dataclass(frozen=True)
class ContestedKeys:
    """Sorted key hashes that more than one row of the run holds."""

    hashes: npt.NDArray[np.uint64]

    def __len__(self) -> int:
        return len(self.hashes)

    @cached_property
    def _buckets(self) -> tuple[npt.NDArray[np.bool_], np.uint64]:
        """Which buckets of the hashes' top bits hold a contested hash (at least 16 buckets a
        hash), and the shift that gives a hash's bucket."""
        bits = int(np.clip(np.ceil(np.log2(16 * len(self.hashes) + 1)), 16, 26))
        shift = np.uint64(64 - bits)
        taken = np.zeros(1 << bits, dtype=bool)
        taken[self.hashes >> shift] = True
        return taken, shift

    def holds(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """For each hash: is it contested?"""
        found = np.zeros(len(hashes), dtype=bool)
        if not len(self.hashes):
            return found
        # Nearly every key is not contested: its bucket says so, with no search.
        taken, shift = self._buckets
        maybe = np.flatnonzero(taken[hashes >> shift])
        at = np.searchsorted(self.hashes, hashes[maybe]).clip(max=len(self.hashes) - 1)
        found[maybe] = self.hashes[at] == hashes[maybe]
        return found

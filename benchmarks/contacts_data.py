"""Generated contacts for the benchmarks: distinct numbers (or a share of repeats), guard
windows in the mix of forms an export holds, written in slices so any size fits in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ZONES = np.array(["", "America/Chicago", "America/Los_Angeles", "America/Denver"])
SLICE_ROWS = 250_000


def _slice(rng: np.random.Generator, numbers: np.ndarray, first_id: int) -> pd.DataFrame:
    rows = len(numbers)
    text = pd.Series(numbers.astype(str))
    styled = text.str.slice(0, 3) + "-" + text.str.slice(3, 6) + "-" + text.str.slice(6)
    text = text.where(rng.random(rows) < 0.5, styled)
    start = pd.Timestamp("2027-12-01") + pd.to_timedelta(rng.integers(0, 90 * 24, rows), "h")
    end = start + pd.to_timedelta(rng.integers(60, 600, rows), "min")
    iso = start.strftime("%Y-%m-%d %H:%M")
    epoch = pd.Series((start.tz_localize("UTC").asi8 // 1_000_000).astype(str))
    form = rng.random(rows) < 0.8
    return pd.DataFrame(
        {
            "number1": text,
            "first_name": rng.choice(["Ann", "Bo", "Carmen", "Dev"], rows),
            "last_name": rng.choice(["Lee", "Okafor", "Garcia", "Patel"], rows),
            "city": rng.choice(["Chicago", "Denver", "Boston"], rows),
            "guard_start": np.where(form, iso, epoch),
            "guard_end": np.where(
                form, end.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            "timezone": rng.choice(ZONES, rows),
            "account_id": pd.Series(np.arange(first_id, first_id + rows).astype(str)),
        }
    )


def generate(path: Path, rows: int, *, repeats: float = 0.0, seed: int = 7) -> None:
    """`rows` contacts as CSV; a `repeats` share of rows reuse an earlier row's number."""
    rng = np.random.default_rng(seed)
    numbers = 2_000_000_000 + rng.permutation(rows).astype(np.int64) * 37
    again = np.flatnonzero(rng.random(rows) < repeats)
    again = again[again > 0]
    numbers[again] = numbers[rng.integers(0, again)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        for first in range(0, rows, SLICE_ROWS):
            part = _slice(rng, numbers[first : first + SLICE_ROWS], first)
            part.to_csv(handle, index=False, header=first == 0)

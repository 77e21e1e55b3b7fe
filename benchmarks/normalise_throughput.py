"""Rows per second for reading, validating and normalising generated contacts, next to the time
pyarrow alone takes to read the same file, measured in one run.

    python benchmarks/normalise_throughput.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pa_csv

from contacts_etl.preview import PreviewRequest, run_preview

ZONES = np.array(["", "America/Chicago", "America/Los_Angeles", "America/Denver"])


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Distinct contacts with numbers and guard windows in the mix of forms an export holds."""
    rng = np.random.default_rng(seed)
    # Distinct numbers: every row is a contact of its own (the load benchmark counts them).
    distinct = 2_000_000_000 + rng.permutation(rows).astype(np.int64) * 37
    numbers = pd.Series(distinct.astype(str))
    styled = numbers.str.slice(0, 3) + "-" + numbers.str.slice(3, 6) + "-" + numbers.str.slice(6)
    numbers = numbers.where(rng.random(rows) < 0.5, styled)
    start = pd.Timestamp("2027-12-01") + pd.to_timedelta(rng.integers(0, 90 * 24, rows), "h")
    end = start + pd.to_timedelta(rng.integers(60, 600, rows), "min")
    iso = start.strftime("%Y-%m-%d %H:%M")
    epoch = pd.Series((start.tz_localize("UTC").asi8 // 1_000_000).astype(str))
    form = rng.random(rows) < 0.8
    frame = pd.DataFrame(
        {
            "number1": numbers,
            "first_name": rng.choice(["Ann", "Bo", "Carmen", "Dev"], rows),
            "last_name": rng.choice(["Lee", "Okafor", "Garcia", "Patel"], rows),
            "city": rng.choice(["Chicago", "Denver", "Boston"], rows),
            "guard_start": np.where(form, iso, epoch),
            "guard_end": np.where(
                form, end.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            "timezone": rng.choice(ZONES, rows),
            "account_id": pd.Series(np.arange(rows).astype(str)),
        }
    )
    frame.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "contacts.csv"
        generate(path, rows)
        size = path.stat().st_size

        began = time.perf_counter()
        pa_csv.read_csv(path)
        read_seconds = time.perf_counter() - began

        began = time.perf_counter()
        result = run_preview(
            PreviewRequest(sources=[str(path)], as_of=pd.Timestamp("2026-11-27T00:00Z"))
        )
        pipeline_seconds = time.perf_counter() - began

    counts = result.counts
    assert counts.balanced(), counts
    print(f"file: {rows:,} rows, {size / 1e6:,.1f} MB")
    print(f"{'step':<38}{'seconds':>10}{'rows/s':>14}")
    print(f"{'pyarrow.csv.read_csv alone':<38}{read_seconds:>10.2f}{rows / read_seconds:>14,.0f}")
    print(
        f"{'read + validate + normalise + dedupe':<38}{pipeline_seconds:>10.2f}"
        f"{rows / pipeline_seconds:>14,.0f}"
    )
    print(f"ratio to pyarrow alone: {pipeline_seconds / read_seconds:.1f}x")
    print(f"buckets: {counts.buckets()}")


if __name__ == "__main__":
    main()

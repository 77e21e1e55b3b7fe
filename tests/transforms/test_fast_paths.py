"""The shortcuts the transforms take on large or repetitive batches give exactly what the plain
way gives: hashes of keys of a few lengths, rows filtered column by column or taken, text
cleaned only where its bytes say so, guard times read once per distinct value, zones grouped
without a sort, and rows of contested keys kept in memory rather than on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts_etl import pipeline
from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.pipeline import ContactPipeline
from sources import ReadOptions, open_sources
from transforms import duplicates, guard_windows, instants, zones
from transforms.calling_hours import CallingHours
from transforms.duplicates import key_hashes
from transforms.guard_windows import normalise_guard_windows
from transforms.instants import read_instants, read_text_instants
from transforms.normalise import NormaliseOptions, _clean_text, rows_where
from transforms.row_faults import RowFaults


def general_hashes(keys: list[str | None]) -> list[int]:
    """key_hashes' byte-by-byte path, whatever the keys' lengths."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(duplicates, "_sums_by_length", lambda *_: None)
        return [int(h) for h in key_hashes(pa.array(keys, pa.large_string()))]


_KEY = st.one_of(
    st.none(),
    st.text(alphabet="0123456789+", min_size=10, max_size=10),
    st.text(alphabet="0123456789é", max_size=16),
    st.text(min_size=60, max_size=70),
)


@given(keys=st.lists(_KEY, min_size=1, max_size=40), cut=st.integers(0, 3))
def test_hashes_of_keys_by_length_are_the_byte_by_byte_hashes(
    keys: list[str | None], cut: int
) -> None:
    array = pa.array(keys, pa.large_string()).slice(min(cut, len(keys)))
    expected = general_hashes(keys)[min(cut, len(keys)) :]
    assert key_hashes(array).tolist() == expected
    # A key hashes alike alone and among others (the census and the main pass see different
    # neighbours, so may take different paths).
    alone = [key_hashes(pa.array([key], pa.large_string()))[0] for key in keys[cut:]]
    assert alone == expected


def mixed_frame(rows: int) -> pd.DataFrame:
    numbers = np.arange(rows)
    return pd.DataFrame(
        {
            "text": pd.Series([f"v{n}" if n % 7 else None for n in numbers], dtype="str"),
            "line": numbers.astype("int64"),
            "at": pd.to_datetime(numbers * 60, unit="s", utc=True).as_unit("ns"),
            "flag": numbers % 3 == 0,
            "obj": pd.Series([[n] for n in numbers], dtype=object),
        },
        index=pd.RangeIndex(rows) + 5,
    )


@pytest.mark.parametrize("share", [0.0, 0.05, 0.5, 0.97, 1.0])
def test_rows_where_is_boolean_indexing(share: float) -> None:
    frame = mixed_frame(400)
    mask = np.random.default_rng(3).random(len(frame)) < share
    pd.testing.assert_frame_equal(rows_where(frame, mask), frame[mask])
    pd.testing.assert_series_equal(rows_where(frame["text"], mask), frame["text"][mask])


@given(st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=30))
def test_text_is_cleaned_as_strip_and_blank_to_missing_would(values: list[str | None]) -> None:
    series = pd.Series(values, dtype="str")
    stripped = series.str.strip()
    pd.testing.assert_series_equal(_clean_text(series), stripped.where(stripped != ""))


_TIMES = [
    "2027-12-01 09:00",
    "2027-12-01T09:00:30Z",
    "1828342800000",
    "1828342800",
    " 2027-03-14 02:30 ",
    "03/14/2027 2:30 AM",
    "2027-02-30 10:00",
    "soon",
    "",
    None,
]


@settings(max_examples=25, deadline=None)
@given(picks=st.lists(st.integers(0, len(_TIMES) - 1), min_size=1, max_size=40))
def test_repeated_times_read_once_each_read_as_every_row_would(picks: list[int]) -> None:
    # Long enough to be sampled, and with few distinct values: each is read once.
    rows = [_TIMES[i] for i in picks] * (3 * instants._SAMPLE // len(picks) + 1)
    series = pd.Series(rows, dtype="str")
    read = read_instants(series)
    one_by_one = read_text_instants(pa.array(rows, pa.large_string()))
    assert read.ns.tolist() == one_by_one.ns.tolist()
    assert read.is_utc.tolist() == one_by_one.is_utc.tolist()
    assert read.fault.tolist() == one_by_one.fault.tolist()


def guard_frame(rows: int, seed: int) -> pd.DataFrame:
    """Windows in few distinct texts (so read once each), many around transitions."""
    rng = np.random.default_rng(seed)
    starts = ["2027-03-14 02:30", "2027-11-07 01:30", "2027-12-01 09:00", "1828342800000"]
    ends = ["2027-03-14 03:00", "2027-11-07 01:45", "2027-12-01T17:00:00Z", "2027-12-02 02:30"]
    zone_names = ["", "America/New_York", "Australia/Lord_Howe", "Mars/Base", "Europe/Paris"]
    return pd.DataFrame(
        {
            "guard_start": rng.choice(starts, rows),
            "guard_end": rng.choice(ends, rows),
            "timezone": rng.choice(zone_names, rows),
        },
        dtype="str",
    )


@pytest.mark.parametrize("hours", [None, CallingHours.parse("08:00-21:00")])
def test_guard_windows_read_once_per_distinct_value_match_small_batches(
    hours: CallingHours | None,
) -> None:
    frame = guard_frame(3 * instants._SAMPLE, seed=5)
    whole_faults = RowFaults(frame.index)
    whole = normalise_guard_windows(frame, "America/Chicago", whole_faults, calling_hours=hours)
    # The same rows in batches too small to be read value by value.
    for start in range(0, len(frame), 1_000):
        part = frame.iloc[start : start + 1_000]
        faults = RowFaults(part.index)
        windows = normalise_guard_windows(part, "America/Chicago", faults, calling_hours=hours)
        assert windows.start.tolist() == whole.start[start : start + 1_000].tolist()
        assert windows.end.tolist() == whole.end[start : start + 1_000].tolist()
        expected = faults.reason.tolist()
        assert whole_faults.reason.iloc[start : start + 1_000].tolist() == expected


def test_zone_groups_without_a_sort_are_the_sorted_groups() -> None:
    rng = np.random.default_rng(9)
    codes = rng.integers(-1, 6, 500).astype(np.intp)
    row_zones = zones.RowZones(codes, [f"Zone/{n}" for n in range(6)])
    rows = rng.random(500) < 0.7
    rows &= row_zones.known

    def flat(groups: list[tuple[str, npt.NDArray[Any]]]) -> list[tuple[str, list[int]]]:
        return [(name, sorted(group.tolist())) for name, group in groups]

    few = zones._zone_groups(rows, row_zones)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zones, "_FEW_ZONES", 0)
        sorted_groups = zones._zone_groups(rows, row_zones)
    assert flat(few) == flat(sorted_groups)


@pytest.mark.parametrize("space", [10, 1_000])
def test_distinct_pairs_by_table_or_sort_are_np_unique(space: int) -> None:
    keys = np.random.default_rng(4).integers(0, space, 300).astype(np.intp)
    distinct, inverse = guard_windows._distinct(keys, space)
    expected, expected_inverse = np.unique(keys, return_inverse=True)
    assert distinct.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.tolist()


class _Rejects:
    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []

    def write(self, rows: pd.DataFrame) -> None:
        self.frames.append(rows)


def _run(tmp_path: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    text = "number1,guard_start,guard_end,first_name\n" + "".join(
        f"{5551200000 + n % 40},2027-12-01 09:00,2027-12-01 17:00,Row{n}\n" for n in range(300)
    )
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding="utf-8")
    work = tmp_path / name
    work.mkdir()
    rejects = _Rejects()
    run = ContactPipeline(
        open_sources([str(path)], ReadOptions(batch_rows=25)),
        ColumnMapping.load(None),
        NormaliseOptions(),
        pd.Timestamp("2026-11-27T00:00Z"),
        work,
        rejects,
    )
    sent = pd.concat([batch.contacts for batch in run.contacts()], ignore_index=True)
    return sent, pd.concat(rejects.frames, ignore_index=True), run.counts


def test_rows_of_contested_keys_held_on_disk_or_in_memory_end_alike(tmp_path: Path) -> None:
    in_memory = _run(tmp_path, "memory")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "HELD_FILE_ROWS", 7)  # a file every batch or so
        on_disk = _run(tmp_path, "disk")
    pd.testing.assert_frame_equal(in_memory[0], on_disk[0])
    pd.testing.assert_frame_equal(in_memory[1], on_disk[1])
    assert in_memory[2] == on_disk[2]
    assert len(in_memory[0]) == 40

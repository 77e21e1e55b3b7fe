"""Parquet: timestamps stay datetimes, other columns become text, rows numbered from 1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.errors import SourceError
from sources import ORIGIN_COLUMNS
from tests.sources.sources_helpers import cells, open_one, read_frame, write


def _contacts(tmp_path: Path) -> Path:
    table = pa.table(
        {
            "phone": pa.array([5551208111, None, 42], pa.int64()),
            "score": pa.array([5551208111.0, 1.5, float("nan")], pa.float64()),
            "ratio": pa.array([None, -0.25, 3.0], pa.float32()),
            "name": pa.array(["Ann", None, ""], pa.string()),
            "vip": pa.array([True, False, None]),
            "day": pa.array([dt.date(2024, 3, 1), None, dt.date(2024, 3, 3)]),
            "kind": pa.array(["a", "b", "a"]).dictionary_encode(),
            "naive": pa.array(
                [dt.datetime(2024, 3, 1, 9, 30), None, dt.datetime(2024, 3, 3)], pa.timestamp("ms")
            ),
            "aware": pa.array(
                [dt.datetime(2024, 3, 1, 14, 30), dt.datetime(2024, 3, 2), None],
                pa.timestamp("us", tz="America/Chicago"),
            ),
        }
    )
    path = tmp_path / "c.parquet"
    pq.write_table(table, path)
    return path


def test_columns_and_conversions(tmp_path: Path) -> None:
    path = _contacts(tmp_path)
    source = open_one(path)
    names = ["phone", "score", "ratio", "name", "vip", "day", "kind", "naive", "aware"]
    assert source.columns == names
    frame = read_frame(path)
    assert list(frame.columns) == [*names, *ORIGIN_COLUMNS]
    text = ["phone", "score", "ratio", "name", "vip", "day", "kind"]
    for column in text:
        assert pd.api.types.is_string_dtype(frame[column].dtype), column
    assert cells(frame, text) == [
        ["5551208111", "5551208111", None, "Ann", "true", "2024-03-01", "a"],
        [None, "1.5", "-0.25", None, "false", None, "b"],
        ["42", None, "3", "", None, "2024-03-03", "a"],
    ]
    assert frame["source_line"].tolist() == [1, 2, 3]
    assert frame["source_file"].tolist() == [str(path)] * 3
    assert frame["_read_fault"].isna().all()
    assert frame["_raw_record"].isna().all()


def test_whole_decimals_read_as_the_integers_floats_give(tmp_path: Path) -> None:
    from decimal import Decimal

    values = [Decimal("2125551234.00"), Decimal("12.50"), None, Decimal("-3.00")]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"phone": pa.array(values, pa.decimal128(14, 2))}), path)
    assert cells(read_frame(path), ["phone"]) == [["2125551234"], ["12.50"], [None], ["-3"]]


def test_column_names_are_trimmed_as_a_csv_header_is(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({" number1 ": ["2125551234"], "city": ["Oslo"]}), path)
    source = open_one(path)
    assert source.columns == ["number1", "city"]
    assert cells(read_frame(path), ["number1", "city"]) == [["2125551234", "Oslo"]]


def test_timestamps_stay_datetimes(tmp_path: Path) -> None:
    frame = read_frame(_contacts(tmp_path))
    assert frame["naive"].dtype == "datetime64[ms]"
    assert isinstance(frame["aware"].dtype, pd.DatetimeTZDtype)
    assert str(frame["aware"].dt.tz) == "America/Chicago"
    assert frame["naive"].iloc[0] == pd.Timestamp("2024-03-01 09:30")
    assert pd.isna(frame["naive"].iloc[1])
    assert frame["aware"].iloc[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert pd.isna(frame["aware"].iloc[2])


def test_rows_are_numbered_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "n.pq"
    pq.write_table(pa.table({"n": pa.array(range(1000), pa.int64())}), path, row_group_size=300)
    batches = list(open_one(path, batch_rows=128).batches())
    assert max(len(batch.frame) for batch in batches) <= 128
    frame = pd.concat([batch.frame for batch in batches], ignore_index=True)
    assert frame["source_line"].tolist() == list(range(1, 1001))
    assert frame["n"].tolist() == [str(n) for n in range(1000)]


def test_empty_table_yields_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"phone": pa.array([], pa.string())}), path)
    assert open_one(path).columns == ["phone"]
    assert read_frame(path).empty


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"phone\n555\n", "not a readable Parquet file"),
    ],
)
def test_not_parquet_is_a_source_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path / "bad.parquet", data)
    with pytest.raises(SourceError) as caught:
        open_one(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_duplicate_parquet_column_names(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["phone", "phone"])
    pq.write_table(table, path)
    with pytest.raises(SourceError, match="names column 'phone' twice"):
        open_one(path)


def test_whole_floats_past_their_exact_integers_are_read_faults(tmp_path: Path) -> None:
    # float32 keeps 5551208111 as 5551207936: a different person's number.
    path = tmp_path / "f.parquet"
    table = pa.table(
        {
            "number1": pa.array([5551208111.0, 1234567.0, None, 2.5e7], pa.float32()),
            "wide": pa.array([5551208111.0, 2.0**53, 2.0**53 + 2, 0.5], pa.float64()),
        }
    )
    pq.write_table(table, path)
    frame = read_frame(path)
    faults = frame["_read_fault"].tolist()
    assert faults[0].startswith("number1 '5551207936' is stored as float32")
    assert "16,777,216" in faults[0]
    assert pd.isna(faults[1])  # below 2**24 every whole float32 is exact
    assert "wide '9007199254740994' is stored as float64" in faults[2]
    assert faults[3].startswith("number1 '25000000' is stored as float32")  # may be rounded
    assert frame["number1"].tolist()[:2] == ["5551207936", "1234567"]

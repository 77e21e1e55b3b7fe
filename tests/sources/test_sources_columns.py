"""Reading only some columns (the key census) gives the same rows, lines and values as reading
them all, for CSV (fast and careful paths) and Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.sources.sources_helpers import open_one, write

ORIGIN = ["source_file", "source_line", "_read_fault", "_raw_record"]


def both_ways(path: Path, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    source = open_one(path, batch_rows=3)
    every = pd.concat([b.frame for b in source.batches()], ignore_index=True)
    some = pd.concat([b.frame for b in source.batches(columns)], ignore_index=True)
    return every, some


@pytest.mark.parametrize(
    "text",
    [
        'number1,city,first_name\n555-120-8111,Boston,Ann\n"5551208112",Denver,"B\nob"\n'
        "5551208113,Chicago,Cy\n",
        # a ragged row: that run is read record by record
        "number1,city,first_name\n5551208111,Boston,Ann\n5551208112,Denver\n"
        "5551208113,Chicago,Cy,extra\n5551208114,Reno,Di\n",
    ],
)
def test_csv_columns_read_alike(tmp_path: Path, text: str) -> None:
    every, some = both_ways(write(tmp_path / "c.csv", text), ["number1"])
    assert list(some.columns) == ["number1", *ORIGIN]
    assert some.equals(every[["number1", *ORIGIN]])


def test_parquet_columns_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pd.DataFrame({"city": ["Boston", "Reno"], "number1": ["5551208111", None]}).to_parquet(path)
    every, some = both_ways(path, ["number1"])
    assert list(some.columns) == ["number1", *ORIGIN]
    assert some.equals(every[["number1", *ORIGIN]])

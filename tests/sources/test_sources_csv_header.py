"""The header is read when a source is opened: delimiter, names, and clear errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from schemas.errors import SourceError
from sources import CsvSource
from tests.sources.sources_helpers import cells, open_one, read_frame, write


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["name", "phone", "city"]) + "\n"
    text += delimiter.join(["Ann", "555", '"Paris, France; Europe | EU\tx"']) + "\n"
    path = write(tmp_path / "c.csv", text)
    source = open_one(path)
    assert isinstance(source, CsvSource)
    assert source.delimiter == delimiter
    frame = read_frame(path)
    assert cells(frame, ["name", "phone", "city"]) == [
        ["Ann", "555", "Paris, France; Europe | EU\tx"]
    ]


def test_sniffer_decides_when_the_header_holds_several_candidates(tmp_path: Path) -> None:
    rows = ["Smith, Ann;555;Paris\n", "Lee;556;Rome\n", "Ng, Bo, Jr;557;Oslo\n"] * 5
    source = open_one(write(tmp_path / "c.csv", "last, first;phone;city\n" + "".join(rows)))
    assert isinstance(source, CsvSource)
    assert source.delimiter == ";"
    assert source.columns == ["last, first", "phone", "city"]


def test_given_delimiter_wins_over_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "a;b,c\n1;2,3\n")
    assert open_one(path, delimiter=",").columns == ["a;b", "c"]


def test_single_column_file(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", "phone\n555\n\n556\n"))
    assert cells(frame, ["phone"]) == [["555"], ["556"]]
    assert frame["source_line"].tolist() == [2, 4]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "c.csv: the file is empty"),
        (b"\xef\xbb\xbf", "c.csv: the file is empty"),
        (b"\na,b\n1,2\n", "c.csv line 1: the header line is blank"),
        (b"  \r\n", "c.csv line 1: the header line is blank"),
        (b"a,phone,b,c,phone\n", "c.csv: the header names column 'phone' twice (columns 2 and 5)"),
        (b" phone ,phone\n", "c.csv: the header names column 'phone' twice (columns 1 and 2)"),
        (b"a,,c\n", "c.csv: the header's column 2 has no name"),
        (b"a, \n", "c.csv: the header's column 2 has no name"),
        (b"a,_read_fault\n", "c.csv: the header's column 2 is named '_read_fault'"),
    ],
)
def test_header_problems_are_one_line_errors(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        open_one(write(tmp_path / "c.csv", data))
    text = str(caught.value)
    assert text.startswith(str(tmp_path / message.split(":", 1)[0].split(" line")[0]))
    assert message.split("c.csv", 1)[1] in text
    assert "\n" not in text


def test_fifty_thousand_columns_open_quickly(tmp_path: Path) -> None:
    header = ",".join(f"column_{i}" for i in range(50_000))
    path = write(tmp_path / "c.csv", header + "\n" + ",".join(["x"] * 50_000) + "\n")
    started = time.perf_counter()
    source = open_one(path, block_bytes=64 << 10)
    assert time.perf_counter() - started < 2.0
    assert len(source.columns) == 50_000
    assert source.columns[-1] == "column_49999"

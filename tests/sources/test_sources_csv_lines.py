"""CSV rows keep the line a text editor shows where their record starts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sources import ORIGIN_COLUMNS
from tests.sources.sources_helpers import cells, read_frame, write


def test_columns_are_header_names_then_origin(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", " name , phone\nAnn,555\n"))
    assert list(frame.columns) == ["name", "phone", *ORIGIN_COLUMNS]
    assert frame["source_file"].tolist() == [str(tmp_path / "c.csv")]
    assert frame["source_line"].dtype == "int64"
    assert frame["_read_fault"].isna().tolist() == [True]
    assert frame["_raw_record"].isna().tolist() == [True]


def test_values_are_strings_and_empty_cells_are_na(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", 'a,b,c\n1,,"x"\n"",NA,null\n'))
    for column in ["a", "b", "c"]:
        assert pd.api.types.is_string_dtype(frame[column].dtype)
    assert cells(frame, ["a", "b", "c"]) == [["1", None, "x"], [None, "NA", "null"]]


def test_multiline_quoted_field_counts_all_its_lines(tmp_path: Path) -> None:
    text = 'name,note\nAnn,"one\ntwo\nthree"\nBob,x\n"Cy\n",y\n'
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert frame["source_line"].tolist() == [2, 5, 6]
    assert frame["note"].tolist() == ["one\ntwo\nthree", "x", "y"]
    assert frame["name"].tolist() == ["Ann", "Bob", "Cy\n"]


def test_blank_lines_are_counted_but_are_not_rows(tmp_path: Path) -> None:
    text = "a,b\n\n1,2\n\n\n3,4\n\n"
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert cells(frame, ["a", "b"]) == [["1", "2"], ["3", "4"]]
    assert frame["source_line"].tolist() == [3, 6]


def test_crlf_lines_number_like_lf_and_keep_quoted_crlf(tmp_path: Path) -> None:
    text = 'a,b\r\n1,2\r\n\r\n3,"x\r\ny"\r\n5,6\r\n'
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert cells(frame, ["a", "b"]) == [["1", "2"], ["3", "x\r\ny"], ["5", "6"]]
    assert frame["source_line"].tolist() == [2, 4, 6]


def test_bom_is_stripped_from_the_first_name(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", b"\xef\xbb\xbfphone,name\r\n555,Ann\r\n"))
    assert list(frame.columns[:2]) == ["phone", "name"]
    assert frame["source_line"].tolist() == [2]


@pytest.mark.parametrize("ending", ["", "\n", "\n\n", "\r\n", "\r\n\r\n"])
def test_last_line_with_or_without_line_end(tmp_path: Path, ending: str) -> None:
    frame = read_frame(write(tmp_path / "c.csv", "a,b\n1,2\n3,4" + ending))
    assert cells(frame, ["a", "b"]) == [["1", "2"], ["3", "4"]]
    assert frame["source_line"].tolist() == [2, 3]


def test_header_spanning_lines_moves_the_first_data_line(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", '"first\nname",phone\nAnn,555\n'))
    assert list(frame.columns[:2]) == ["first\nname", "phone"]
    assert frame["source_line"].tolist() == [3]


def test_header_only_file_yields_no_rows(tmp_path: Path) -> None:
    assert read_frame(write(tmp_path / "c.csv", "a,b\n")).empty
    assert read_frame(write(tmp_path / "d.csv", "a,b")).empty


def test_quotes_embedded_delimiters_and_escaped_quotes(tmp_path: Path) -> None:
    text = 'name,company\n"O""Neil, Pat","Acme, ""Inc."""\n'
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert cells(frame, ["name", "company"]) == [['O"Neil, Pat', 'Acme, "Inc."']]


def test_stray_quotes_inside_unquoted_fields_are_text(tmp_path: Path) -> None:
    text = 'name,height\nAnn,5\'11"\nBob,6\'0"\n"Cy"x,"1"\n'
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert cells(frame, ["name", "height"]) == [["Ann", "5'11\""], ["Bob", "6'0\""], ["Cyx", "1"]]
    assert frame["source_line"].tolist() == [2, 3, 4]
    assert frame["_read_fault"].isna().all()


def test_a_ten_megabyte_line_is_one_record(tmp_path: Path) -> None:
    big = "y" * 10_000_000
    frame = read_frame(write(tmp_path / "c.csv", f"a,b\n1,{big}\n2,3\n"), block_bytes=1 << 20)
    assert frame["b"].str.len().tolist() == [10_000_000, 1]
    assert frame["source_line"].tolist() == [2, 3]


def test_header_names_lose_surrounding_whitespace(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", "  first name , phone \n Ann , 5 \n"))
    assert list(frame.columns[:2]) == ["first name", "phone"]
    assert cells(frame, ["first name", "phone"]) == [[" Ann ", " 5 "]]

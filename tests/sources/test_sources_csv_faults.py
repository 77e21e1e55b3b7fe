"""Records that cannot be read as the header's fields become rows with a reason; fatal problems
become one-line SourceErrors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from schemas.errors import SettingError, SourceError
from tests.sources.sources_helpers import cells, open_one, read_frame, write


def test_bad_utf8_row_is_faulty_and_the_rest_is_read(tmp_path: Path) -> None:
    data = b"name,city,phone\nAnn,Paris,1\nJos\xe9,Le\xf3n,2\nBob,Rome,3\n"
    frame = read_frame(write(tmp_path / "c.csv", data))
    assert frame["source_line"].tolist() == [2, 3, 4]
    assert frame["_read_fault"].isna().tolist() == [True, False, True]
    assert frame.loc[1, "_read_fault"] == (
        "not valid UTF-8 (byte 0xe9 at column 1); the file may be latin-1"
    )
    assert frame.loc[1, "_raw_record"] == "Jos\ufffd,Le\ufffdn,2"
    assert cells(frame, ["name", "phone"]) == [["Ann", "1"], ["Jos\ufffd", "2"], ["Bob", "3"]]


def test_latin1_setting_reads_accented_bytes(tmp_path: Path) -> None:
    data = "name,city\nJosé,León\n".encode("latin-1")
    frame = read_frame(write(tmp_path / "c.csv", data), encoding="latin1")
    assert cells(frame, ["name", "city"]) == [["José", "León"]]
    assert frame["_read_fault"].isna().all()


def test_latin1_header_names(tmp_path: Path) -> None:
    data = "prénom;téléphone\nZoë;1\n".encode("latin-1")
    source = open_one(write(tmp_path / "c.csv", data), encoding="iso-8859-1")
    assert source.columns == ["prénom", "téléphone"]


def test_ragged_rows_are_faulty_with_values_filled_positionally(tmp_path: Path) -> None:
    text = "a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5,6,7\n1,2\n9,8,7,6,5\n"
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert frame["_read_fault"].tolist()[1:3] == [
        "row has 7 fields, the header has 5",
        "row has 2 fields, the header has 5",
    ]
    assert frame["_raw_record"].tolist()[1:3] == ["1,2,3,4,5,6,7", "1,2"]
    assert cells(frame, ["a", "b", "c", "d", "e"])[1:3] == [
        ["1", "2", "3", "4", "5"],
        ["1", "2", None, None, None],
    ]
    assert frame["source_line"].tolist() == [2, 3, 4, 5]
    assert frame["_read_fault"].isna().tolist() == [True, False, False, True]


def test_faulty_row_after_a_multiline_record_keeps_its_line(tmp_path: Path) -> None:
    text = 'a,b\n1,"x\ny"\n2\n3,4\n'
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert frame["source_line"].tolist() == [2, 4, 5]
    assert frame["_read_fault"].notna().tolist() == [False, True, False]


def test_one_bad_row_among_many_leaves_the_others_good(tmp_path: Path) -> None:
    lines = [f"{i},name{i}" for i in range(5000)]
    lines[3210] = "3210,x,extra"
    frame = read_frame(write(tmp_path / "c.csv", "id,name\n" + "\n".join(lines) + "\n"))
    assert len(frame) == 5000
    assert frame["source_line"].tolist() == list(range(2, 5002))
    faulty = frame[frame["_read_fault"].notna()]
    assert faulty["source_line"].tolist() == [3212]
    assert frame["id"].tolist() == [str(i) for i in range(5000)]


def test_nul_bytes_are_data(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", b"a,b\n1,x\x00y\n2,z\n"))
    assert cells(frame, ["a", "b"]) == [["1", "x\x00y"], ["2", "z"]]
    assert frame["_read_fault"].isna().all()


def test_bare_carriage_return_inside_a_row_is_a_fault(tmp_path: Path) -> None:
    frame = read_frame(write(tmp_path / "c.csv", b"a,b\n1,x\ry\n2,z\n"))
    assert frame["source_line"].tolist() == [2, 3]
    faults = frame["_read_fault"].tolist()
    assert "carriage return" in str(faults[0])
    assert pd.isna(faults[1])


def test_bare_carriage_return_is_a_fault_even_when_pyarrows_row_count_matches(
    tmp_path: Path,
) -> None:
    """pyarrow splits `1,x\ry` in two rows and skips the CR-only line: as many rows as records,
    but not the same rows. The record with a CR is still one faulted row, on its own line."""
    frame = read_frame(write(tmp_path / "c.csv", b"a,b\n1,x\ry,2\n\r\r\n3,z\n"))
    assert frame["source_line"].tolist() == [2, 3, 4]
    faults = frame["_read_fault"].tolist()
    assert "carriage return" in str(faults[0])
    assert pd.notna(faults[1])
    assert pd.isna(faults[2])
    assert cells(frame.iloc[2:], ["a", "b"]) == [["3", "z"]]


def test_unclosed_quote_names_the_line_where_it_opens(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", 'a,b\n1,2\n3,"never\n4,5\n6,7\n')
    source = open_one(path)
    with pytest.raises(SourceError, match=r"c\.csv line 3: a quoted field opened here never"):
        list(source.batches())


def test_unclosed_quote_stops_at_the_record_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sources.csv_source.MAX_RECORD_BYTES", 4096)
    path = write(tmp_path / "c.csv", 'a,b\n1,2\n3,"never\n' + "4,5\n" * 100_000)
    batches = open_one(path, block_bytes=1024).batches()
    with pytest.raises(SourceError, match=r"line 3: a quoted field opened here never closes"):
        list(batches)


@pytest.mark.parametrize("block_bytes", [1024, 8 << 20])
def test_a_quote_that_swallows_lines_is_fatal_naming_where_it_opens_and_closes(
    tmp_path: Path, block_bytes: int
) -> None:
    # A quote meant as text opens a field at line 3 that, by CSV's grammar, closes 2,000
    # lines later: those rows would vanish into one field.
    rows = "".join(f"{n},ok\n" for n in range(2_000))
    path = write(tmp_path / "c.csv", f'a,b\n1,2\n3,"The Rock\n{rows}4,Rock" Johnson\n5,6\n')
    batches = open_one(path, block_bytes=block_bytes).batches()
    with pytest.raises(SourceError, match=r"c\.csv line 3: a quoted field opened here runs to "
                       r"line 2004, where text follows its closing quote"):  # fmt: skip
        list(batches)


def test_quoted_line_breaks_and_a_quote_in_one_line_text_are_still_read(tmp_path: Path) -> None:
    text = 'a,b\n1,"two\nlines"\n2,"said ""hi"" then"\n3,5\'11"\n4,"x"y\n'
    frame = read_frame(write(tmp_path / "c.csv", text))
    assert cells(frame, ["a", "b"]) == [
        ["1", "two\nlines"],
        ["2", 'said "hi" then'],
        ["3", "5'11\""],
        ["4", "xy"],
    ]
    assert frame["source_line"].tolist() == [2, 4, 5, 6]


def test_unclosed_quote_in_the_header(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"c\.csv line 1: a quoted field opened here never"):
        open_one(write(tmp_path / "c.csv", 'a,"b\n1,2\n'))


def test_header_with_bad_utf8_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_one(write(tmp_path / "c.csv", b"name,pr\xe9nom\n1,2\n"))
    assert caught.value.worded({"encoding": "--encoding"}) == (
        f"{tmp_path / 'c.csv'} line 1 column 8: the header is not valid UTF-8 (byte 0xe9); "
        "try --encoding latin-1"
    )


def test_old_mac_line_ends_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="carriage return"):
        open_one(write(tmp_path / "c.csv", b"a,b\r1,2\r3,4\r"))


@pytest.mark.parametrize("typed", ["\\t", "tab", "\t"])
def test_a_tab_delimiter_as_a_shell_passes_it(tmp_path: Path, typed: str) -> None:
    path = write(tmp_path / "c.tsv", "a\tb\n1,5\t2\n")
    assert cells(read_frame(path, delimiter=typed), ["a", "b"]) == [["1,5", "2"]]


@pytest.mark.parametrize("delimiter", ["ab", '"', "\n"])
def test_an_unusable_delimiter_is_a_setting_error(tmp_path: Path, delimiter: str) -> None:
    with pytest.raises(SettingError, match="is not usable; give one ASCII character") as caught:
        read_frame(write(tmp_path / "c.csv", "a,b\n1,2\n"), delimiter=delimiter)
    assert caught.value.setting == "delimiter"


def test_a_utf16_file_is_told_to_become_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "number1,city\n1,2\n".encode("utf-16"))
    with pytest.raises(SourceError, match=r"save it as UTF-8 \(it looks like UTF-16\)"):
        open_one(path)

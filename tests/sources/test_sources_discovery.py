"""open_sources: files, directories and glob patterns, in order, each file once."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.errors import SourceError
from sources import CsvSource, ParquetSource, open_sources
from tests.sources.sources_helpers import write


def _tree(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    for name in ["b.csv", "a.csv", "c.CSV", "notes.md"]:
        write(data / name, "x\n1\n")
    write(data / "nested" / "d.csv", "x\n1\n")
    pq.write_table(pa.table({"x": [1]}), data / "e.parquet")
    pq.write_table(pa.table({"x": [1]}), data / "f.pq")
    return data


def test_files_directory_and_glob_in_order_without_duplicates(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    extra = [write(tmp_path / name, "x\n1\n") for name in ["z.csv", "y.txt", "w.tsv"]]
    specs: list[str | Path] = [*extra, data, str(tmp_path / "data" / "nested" / "*.csv")]
    sources = open_sources([*specs, data / "a.csv"])
    assert [source.location.name for source in sources] == [
        "z.csv",
        "y.txt",
        "w.tsv",
        "a.csv",
        "b.csv",
        "c.CSV",
        "e.parquet",
        "f.pq",
        "d.csv",
    ]
    kinds = [type(source) for source in sources]
    assert kinds.count(ParquetSource) == 2
    assert kinds.count(CsvSource) == 7


def test_same_file_through_different_spellings_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.csv", "x\n1\n")
    monkeypatch.chdir(tmp_path)
    sources = open_sources(["a.csv", path, "./a.csv", str(tmp_path / "*.csv")])
    assert len(sources) == 1
    assert str(sources[0].location) == "a.csv"
    [batch] = list(sources[0].batches())
    assert batch.frame["source_file"].tolist() == ["a.csv"]


def test_glob_sorts_its_matches(tmp_path: Path) -> None:
    for name in ["b2.csv", "a1.csv", "c3.csv"]:
        write(tmp_path / name, "x\n1\n")
    sources = open_sources([str(tmp_path / "?[0-9].csv")])
    assert [source.location.name for source in sources] == ["a1.csv", "b2.csv", "c3.csv"]


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "a.csv", "x\n1\n")
    [source] = open_sources(["~/a.csv"])
    assert str(source.location) == str(tmp_path / "a.csv")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.csv", "missing.csv: no such file or directory"),
        ("*.nothing", "*.nothing: no files match this pattern"),
        ("empty_dir", "empty_dir: the directory holds no .csv, .parquet or .pq files"),
        ("book.xlsx", "book.xlsx: unsupported file type '.xlsx'"),
        ("*.xlsx", "book.xlsx: unsupported file type '.xlsx'"),
    ],
)
def test_bad_specs_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    write(tmp_path / "empty_dir" / "readme.md", "x")
    write(tmp_path / "book.xlsx", b"PK")
    with pytest.raises(SourceError) as caught:
        open_sources([spec])
    assert str(caught.value).startswith(message)


def test_one_bad_file_among_good_ones_fails_the_open(tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", "x\n1\n")
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(SourceError, match=r"empty\.csv: the file is empty"):
        open_sources([good, empty])


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "locked.csv", "x\n1\n")
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, os.strerror(13), str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(
        SourceError, match=r"locked\.csv: cannot read the file \(Permission denied\)"
    ):
        open_sources([path])

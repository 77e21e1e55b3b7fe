"""Turn the user's file, directory and glob arguments into opened sources."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from schemas.errors import SourceError

from .contact_source import ContactSource
from .csv_source import CsvSource
from .options import DEFAULT_OPTIONS, ReadOptions
from .parquet_source import ParquetSource

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
DIRECTORY_SUFFIXES = (".csv", ".parquet", ".pq")
_GLOB_CHARS = frozenset("*?[")


def _unsupported(path: Path) -> SourceError:
    kind = f"'{path.suffix}'" if path.suffix else "without an extension"
    return SourceError(
        f"{path}: unsupported file type {kind} (expected .csv, .txt, .tsv, .parquet or .pq)"
    )


def expand_spec(spec: str | Path) -> list[Path]:
    """The files one argument names: the file itself, a directory's data files (sorted, not
    recursive), or a glob pattern's matches (sorted); SourceError when it names none."""
    text = os.path.expanduser(os.fspath(spec))
    path = Path(text)
    if path.is_dir():
        found = sorted(
            (entry for entry in path.iterdir() if entry.suffix.lower() in DIRECTORY_SUFFIXES),
            key=lambda entry: entry.name,
        )
        files = [entry for entry in found if entry.is_file()]
        if not files:
            raise SourceError(f"{text}: the directory holds no .csv, .parquet or .pq files")
        return files
    if path.exists() or not _GLOB_CHARS.intersection(text):
        if not path.exists():
            raise SourceError(f"{text}: no such file or directory")
        return [path]
    matches = [Path(match) for match in sorted(glob.glob(text)) if not Path(match).is_dir()]
    if not matches:
        raise SourceError(f"{text}: no files match this pattern")
    return matches


def open_source(path: Path, options: ReadOptions = DEFAULT_OPTIONS) -> ContactSource:
    """A CSV or Parquet source for `path`, chosen by its extension; its header is read now."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return CsvSource(path, options)
    if suffix in PARQUET_SUFFIXES:
        return ParquetSource(path, options)
    raise _unsupported(path)


def open_sources(
    specs: Sequence[str | Path], options: ReadOptions = DEFAULT_OPTIONS
) -> list[ContactSource]:
    """Sources for files, directories and glob patterns, in the order given; a file named twice
    is read once. SourceError for anything missing, unreadable, unsupported or badly headed."""
    paths: list[Path] = []
    seen: set[Path] = set()
    for spec in specs:
        for path in expand_spec(spec):
            if path.suffix.lower() not in CSV_SUFFIXES + PARQUET_SUFFIXES:
                raise _unsupported(path)
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                paths.append(path)
    return [open_source(path, options) for path in paths]

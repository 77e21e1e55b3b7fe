"""Turn the user's file, folder and glob arguments (local, or URLs of object storage) into
opened sources."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from schemas.errors import SourceError

from .contact_source import ContactSource
from .csv_source import CsvSource
from .options import DEFAULT_OPTIONS, ReadOptions
from .parquet_source import ParquetSource
from .storage import Location, expand

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
DIRECTORY_SUFFIXES = (".csv", ".parquet", ".pq")


def _unsupported(location: Location) -> SourceError:
    kind = f"'{location.suffix}'" if location.suffix else "without an extension"
    return SourceError(
        f"{location}: unsupported file type {kind} (expected .csv, .txt, .tsv, .parquet or .pq)"
    )


def expand_spec(spec: str | Path) -> list[Location]:
    """The files one argument names, local or in object storage: the file itself, a folder's
    data files (sorted, not recursive), or a glob pattern's matches (sorted); SourceError when
    it names none."""
    return expand(spec, DIRECTORY_SUFFIXES)


def open_source(
    location: Location | str | Path, options: ReadOptions = DEFAULT_OPTIONS
) -> ContactSource:
    """A CSV or Parquet source, chosen by its extension; its header is read now."""
    location = location if isinstance(location, Location) else Location(location)
    suffix = location.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return CsvSource(location, options)
    if suffix in PARQUET_SUFFIXES:
        return ParquetSource(location, options)
    raise _unsupported(location)


def open_sources(
    specs: Sequence[str | Path], options: ReadOptions = DEFAULT_OPTIONS
) -> list[ContactSource]:
    """Sources for files, directories and glob patterns, in the order given; a file named twice
    is read once. SourceError for anything missing, unreadable, unsupported or badly headed."""
    found: list[Location] = []
    for spec in specs:
        for location in expand_spec(spec):
            if location.suffix.lower() not in CSV_SUFFIXES + PARQUET_SUFFIXES:
                raise _unsupported(location)
            if location not in found:
                found.append(location)
    return [open_source(location, options) for location in found]

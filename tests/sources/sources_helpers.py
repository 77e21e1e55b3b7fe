"""Helpers for the sources tests: write files, read every batch of a source into one frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources import ContactSource, ReadOptions, open_sources


def write(path: Path, data: bytes | str) -> Path:
    """Write bytes (or UTF-8 text, line ends kept as given) to `path`; return it."""
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def open_one(path: Path, **options: object) -> ContactSource:
    """The single source for `path`, read with the given ReadOptions fields."""
    [source] = open_sources([path], ReadOptions(**options))  # type: ignore[arg-type]
    return source


def read_frame(path: Path, **options: object) -> pd.DataFrame:
    """Every batch of `path`'s source concatenated, index reset."""
    frames = [batch.frame for batch in open_one(path, **options).batches()]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def cells(frame: pd.DataFrame, columns: list[str]) -> list[list[str | None]]:
    """The frame's values in `columns` as lists, NA as None."""
    subset = frame[columns].astype(object)
    return [[None if pd.isna(v) else v for v in row] for row in subset.itertuples(index=False)]

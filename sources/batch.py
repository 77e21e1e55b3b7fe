"""A batch of source rows with each row's origin, and the checks every source's header passes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from schemas.errors import SourceError
from schemas.fields import INTERNAL_FIELDS

ORIGIN_COLUMNS = INTERNAL_FIELDS  # what a reader adds to each row, after the file's columns


@dataclass(frozen=True)
class SourceBatch:
    """Rows of one source: its header's columns (in file order), then the origin columns.

    `source_file` (str), `source_line` (int64: the CSV line where the record starts, header = 1;
    Parquet row number from 1), `_read_fault` (a one-line reason when the record could not be
    read as the header's fields, else NA), `_raw_record` (that record's raw text, else NA).
    Values are pandas "str" (NA for empty cells); Parquet timestamps stay datetime64.
    """

    frame: pd.DataFrame


BatchRead = Callable[[], list[SourceBatch]]
"""Rows read but not yet parsed: called (in any thread), their batches."""


def check_header(label: str, names: Sequence[str]) -> list[str]:
    """The header's names, or SourceError when one is blank, repeated or reserved."""
    if not names:
        raise SourceError(f"{label}: the file has no header")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise SourceError(f"{label}: the header's column {position} has no name")
        if name in seen:
            raise SourceError(
                f"{label}: the header names column {name!r} twice "
                f"(columns {seen[name]} and {position})"
            )
        if name in ORIGIN_COLUMNS:
            raise SourceError(
                f"{label}: the header's column {position} is named {name!r}, a name the "
                "pipeline keeps for a row's origin; rename that column"
            )
        seen[name] = position
    return list(names)


def with_origin(
    values: pa.Table,
    source_file: str,
    lines: npt.NDArray[np.int64],
    faults: Sequence[str | None] | None = None,
    raws: Sequence[str | None] | None = None,
) -> pa.Table:
    """`values` with the origin columns appended (faults and raws default to all NA)."""
    rows = values.num_rows
    path = source_file.encode("utf-8", "replace")
    offsets = np.arange(rows + 1, dtype=np.int64) * len(path)
    # Large strings, as pandas keeps text: to_pandas need not convert them.
    text = pa.large_string()
    file_column = pa.LargeStringArray.from_buffers(
        rows, pa.py_buffer(offsets), pa.py_buffer(path * rows)
    )
    fault_column = pa.nulls(rows, text) if faults is None else pa.array(faults, text)
    raw_column = pa.nulls(rows, text) if raws is None else pa.array(raws, text)
    return pa.Table.from_arrays(
        [*values.columns, file_column, pa.array(lines, pa.int64()), fault_column, raw_column],
        names=[*values.column_names, *ORIGIN_COLUMNS],
    )


def split_batches(table: pa.Table, batch_rows: int) -> Iterator[SourceBatch]:
    """`table` as SourceBatches of at most `batch_rows` rows; none for an empty table."""
    for start in range(0, table.num_rows, batch_rows):
        frame = table.slice(start, batch_rows).to_pandas()
        yield SourceBatch(frame=frame)

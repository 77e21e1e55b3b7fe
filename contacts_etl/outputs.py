"""Files a run writes for people: the contacts that would be sent, and the rows set aside.

CSV or Parquet by the file's extension, written batch by batch, to a local path or a URL of
object storage (`s3://...`: streamed up as it is written). A CSV of rejects is safe to
open in a spreadsheet: a cell that would start a formula is prefixed with an apostrophe
(OWASP "CSV injection"). The contacts file holds values exactly as they would be sent.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from schemas.errors import SettingError
from schemas.fields import RAW_RECORD, SOURCE_FILE, SOURCE_LINE
from sources.storage import Location, store_errors

Where = str | os.PathLike[str]
"""A file to write or read: a local path, or a URL of object storage."""

WIRE_TIME = "%Y-%m-%dT%H:%M:00Z"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wire_time(instants: pd.Series) -> pd.Series:
    """UTC instants as Five9's REST path takes them: YYYY-MM-DDTHH:MM:00Z."""
    text: pd.Series = instants.dt.tz_convert("UTC").dt.strftime(WIRE_TIME)
    return text


def spreadsheet_safe(values: pd.Series) -> pd.Series:
    """Text that a spreadsheet shows as text, never runs as a formula."""
    text = values.astype("str")
    risky = text.str.startswith(_FORMULA_START).fillna(False)
    return text.where(~risky, "'" + text)


def output_format(where: Where, setting: str) -> str:
    """'csv' or 'parquet' from a file name; anything else is a setting error."""
    suffix = Location(where).suffix.lower()
    if suffix in {".csv", ".txt"}:
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    raise SettingError(f"{where}: use a .csv or .parquet file name", setting=setting)


def first_rows_of(where: Where, rows: int) -> pd.DataFrame:
    """The first `rows` of a table this project wrote (CSV or Parquet), every cell as text."""
    with Location(where).open("rb") as handle:
        if output_format(where, "") == "csv":
            return pd.read_csv(handle, dtype=str, keep_default_na=False, nrows=rows)
        head = pq.ParquetFile(handle).iter_batches(batch_size=max(rows, 1))
        first = next(head, None)
        table = first.to_pandas() if first is not None else pd.DataFrame()
        return table.head(rows).astype("str").fillna("")


class TableWriter:
    """Append DataFrames with fixed columns (all text) to a CSV or Parquet file."""

    def __init__(self, where: Where, columns: list[str], setting: str, *, safe: bool) -> None:
        self.location = Location(where)
        self.columns = columns
        self.rows = 0
        self._setting = setting
        self._format = output_format(where, setting)
        self._safe = safe and self._format == "csv"
        self._schema = pa.schema([(name, pa.string()) for name in columns])
        self._file: IO[Any] | None = None
        try:
            self.location.make_parent()
            if self.location.url:  # streamed up to the store as it is written
                self._file = self.location.open("wb")
            sink: Any = self._file if self._file is not None else str(self.location)
            self._writer: pa_csv.CSVWriter | pq.ParquetWriter = (
                pa_csv.CSVWriter(sink, self._schema)
                if self._format == "csv"
                else pq.ParquetWriter(sink, self._schema)
            )
        except OSError as error:
            raise SettingError(
                f"{where} cannot be written: {error.strerror or error}", setting=setting
            ) from None

    def write(self, frame: pd.DataFrame) -> None:
        """Append rows; missing columns are empty, values are written as text."""
        if frame.empty:
            return
        text = frame.reindex(columns=self.columns).astype("str")
        if self._safe:
            text = text.apply(spreadsheet_safe)
        table = pa.Table.from_pandas(text, schema=self._schema, preserve_index=False)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        try:
            with store_errors():
                self._writer.close()
                if self._file is not None:
                    self._file.close()  # the object is complete in the store now
        except OSError as error:
            raise SettingError(
                f"{self.location} cannot be written: {error.strerror or error}",
                setting=self._setting,
            ) from None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
        if error is not None and self.rows == 0:
            # The run stopped before a row was written: no file that reads as "none set aside".
            self.location.remove()


def rejects_columns(original_columns: list[str]) -> list[str]:
    """Origin, bucket and reason first, then the sources' own columns, then any raw record."""
    own = [SOURCE_FILE, SOURCE_LINE, "bucket", "reason"]
    return [*own, *(c for c in original_columns if c not in own), RAW_RECORD]


def contacts_frame(contacts: pd.DataFrame) -> pd.DataFrame:
    """Contacts as written to --output: origin, Five9 fields, guard times on the wire."""
    out = contacts.copy()
    out["guard_start"] = wire_time(contacts["guard_start"])
    out["guard_end"] = wire_time(contacts["guard_end"])
    return out

"""Deadline-first sending: a run's ready contacts, the soonest window end first.

A streaming load sends rows in file order, so a long load loses the windows that close before
their turn. In deadline order rows leave by the end of their window (`guard_end`), the soonest
first and file order among equals. That order is known only once the whole run is read, so the
first upload leaves later. Memory stays bounded all the same: each ready batch is spilled to an
uncompressed Arrow IPC file in the run's work folder, only the window ends (and then the send
order) stay in memory, and batches are taken back from the memory-mapped files in deadline
order, with the same contacts, zones, originals and row codes per row as file order sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from contacts_etl.pipeline import ReadyBatch
from transforms.instants import utc_ns
from transforms.send_order import deadline_order

BATCH_ROWS = 10_000
"""Rows per batch handed out in deadline order (upload chunks are cut from them)."""
_CONTACT, _ORIGINAL, _ZONE, _CODE = "contact::", "original::", "_zone", "_code"


def window_ends_ns(contacts: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Each contact's window end (`guard_end`) as UTC nanoseconds since the epoch."""
    return utc_ns(contacts["guard_end"])


def deadline_first(
    batches: Iterable[ReadyBatch], workdir: Path, batch_rows: int = BATCH_ROWS
) -> Iterator[ReadyBatch]:
    """The rows of `batches` (file order) in deadline order, in batches of `batch_rows`; the
    first once every batch is read and spilled to `workdir`."""
    spill = _Spill(workdir)
    try:
        for batch in batches:
            spill.add(batch)
        yield from spill.in_deadline_order(batch_rows)
    finally:
        spill.close()


class _Spill:
    """Ready batches on disk, in file order: one IPC file per run of batches of one schema."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._paths: list[Path] = []
        self._starts: list[int] = []  # the run position of each file's first row
        self._ends: list[npt.NDArray[np.int64]] = []
        self._rows = 0
        self._file: _SpillFile | None = None
        self._maps: list[pa.MemoryMappedFile] = []

    def add(self, batch: ReadyBatch) -> None:
        """Write one batch's rows (contacts, zone, originals, code) and keep its window ends."""
        if batch.codes.size == 0:
            return
        frame = pd.concat(
            [
                batch.contacts.reset_index(drop=True).add_prefix(_CONTACT),
                batch.originals.reset_index(drop=True).add_prefix(_ORIGINAL),
                batch.zones.reset_index(drop=True).rename(_ZONE),
                pd.Series(batch.codes, name=_CODE),
            ],
            axis=1,
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._file is None or not table.schema.equals(self._file.schema):
            self._finish_file()
            path = self._workdir / f"deadline-{len(self._paths):06d}.arrow"
            self._file = _SpillFile(path, table.schema)
            self._paths.append(path)
            self._starts.append(self._rows)
        self._file.write(table)
        self._ends.append(window_ends_ns(batch.contacts))
        self._rows += table.num_rows

    def _finish_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def in_deadline_order(self, batch_rows: int) -> Iterator[ReadyBatch]:
        """Every row written, the soonest window end first (file order among equals)."""
        self._finish_file()
        ends = np.concatenate(self._ends) if self._ends else np.zeros(0, np.int64)
        self._ends = []
        order = deadline_order(ends)
        del ends
        tables = []
        for path in self._paths:
            mapped = pa.memory_map(str(path), "r")
            self._maps.append(mapped)
            tables.append(pa.ipc.open_file(mapped).read_all())
        starts = np.asarray(self._starts, dtype=np.int64)
        for first in range(0, len(order), batch_rows):
            yield _taken(tables, starts, order[first : first + batch_rows])

    def close(self) -> None:
        """Close the files and remove them."""
        self._finish_file()
        for mapped in self._maps:
            mapped.close()
        for path in self._paths:
            path.unlink(missing_ok=True)


class _SpillFile:
    """One uncompressed Arrow IPC file (so it can be memory-mapped) of one schema."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_file(self._sink, schema)

    def write(self, table: pa.Table) -> None:
        """Append a table of the file's schema; the file keeps its first table's pandas
        metadata (the same Arrow types give the same dtypes)."""
        self._writer.write_table(table.replace_schema_metadata(self.schema.metadata))

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def _taken(
    tables: list[pa.Table], starts: npt.NDArray[np.int64], rows: npt.NDArray[np.intp]
) -> ReadyBatch:
    """The rows at run positions `rows` (in that order) as one ready batch."""
    files = np.searchsorted(starts, rows, side="right") - 1
    by_file = np.argsort(files, kind="stable")
    pieces = [
        tables[index].take(rows[files == index] - starts[index]).to_pandas()
        for index in np.unique(files)
    ]
    frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    if len(pieces) > 1:
        frame = frame.iloc[np.argsort(by_file, kind="stable")].reset_index(drop=True)
    return ReadyBatch(
        contacts=_unprefixed(frame, _CONTACT),
        zones=frame[_ZONE].rename("timezone"),
        originals=_unprefixed(frame, _ORIGINAL),
        codes=frame[_CODE].to_numpy(dtype=np.int64),
    )


def _unprefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The columns under `prefix`, under their own names."""
    part = frame[[c for c in frame.columns if c.startswith(prefix)]]
    part.columns = [c.removeprefix(prefix) for c in part.columns]
    return part

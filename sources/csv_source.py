"""CsvSource: a CSV file read in blocks of whole records, each row keeping its start line.

Each block is cut at its last record boundary (see record_boundaries), and its records go to
pyarrow's CSV reader in one call, which must return one row per record. A run pyarrow refuses
(ragged rows, invalid UTF-8, a bare CR, ...) is halved until the refused runs are short; those are
read record by record with Python's csv module, broken records becoming rows with a `_read_fault`.
No Python runs per row unless a record is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from schemas.errors import SourceError

from .batch import BatchRead, SourceBatch, split_batches, with_origin
from .csv_header import read_layout
from .csv_records import MAX_RECORD_BYTES, parse_record, raw_text
from .options import DEFAULT_OPTIONS, ReadOptions
from .record_boundaries import (
    RecordSpans,
    broken_quote_offset,
    plain_cut,
    records_with_cr,
    split_by_grammar,
    split_by_parity,
    unclosed_quote_offset,
)
from .storage import Location

# A run of records pyarrow refuses is halved down to this many, then read record by record.
CAREFUL_RUN = 64
# The size of the pieces pyarrow splits a block into (it must exceed the longest record).
PYARROW_BLOCK_BYTES = 4 << 20
# The first read of a file: small, so its first rows are validated (and sent) sooner.
FIRST_BLOCK_BYTES = 1 << 20


def open_binary(location: Location, label: str) -> BinaryIO:
    """The file opened for reading bytes, or SourceError saying why it cannot be."""
    try:
        handle: BinaryIO = location.open("rb")  # type: ignore[assignment]
    except OSError as error:
        raise SourceError(f"{label}: cannot read the file ({error.strerror or error})") from None
    return handle


@dataclass(frozen=True)
class _BlockRead:
    """One block being read: its bytes, its record spans (None for a plain block: see
    `plain_cut`), first line, and the columns wanted."""

    block: bytes
    spans: RecordSpans | None
    at_eof: bool
    consumed: int
    records: int
    first_line: int
    convert: pacsv.ConvertOptions
    columns: Sequence[str] | None


class _Parse:
    """A block's records, parsed into batches when called (once: its bytes are let go then, so
    a block waiting in a queue is the only copy of them)."""

    def __init__(self, source: CsvSource, read: _BlockRead) -> None:
        self._source: CsvSource | None = source
        self._read: _BlockRead | None = read

    def __call__(self) -> list[SourceBatch]:
        source, read = self._source, self._read
        if source is None or read is None:
            raise RuntimeError("a block is parsed once")
        self._source = self._read = None
        return source._batches(read)


class CsvSource:
    """A CSV file; the header is read (and checked) when the source is made."""

    def __init__(self, location: Location | str, options: ReadOptions = DEFAULT_OPTIONS) -> None:
        self.location = location if isinstance(location, Location) else Location(location)
        self._label = str(self.location)
        self._options = options
        with open_binary(self.location, self._label) as handle:
            try:
                self._layout = read_layout(handle, self._label, options)
            except OSError as error:
                raise SourceError(f"{self._label}: cannot read the file ({error})") from None
        names = self._layout.columns
        parse = {
            "delimiter": self._layout.delimiter,
            "quote_char": '"',
            "double_quote": True,
            "escape_char": False,
            "ignore_empty_lines": True,
        }
        self._parse_options = pacsv.ParseOptions(newlines_in_values=True, **parse)
        # pyarrow reads about 3x faster when it may assume no quoted line breaks.
        self._single_line_options = pacsv.ParseOptions(newlines_in_values=False, **parse)
        self._convert_options = pacsv.ConvertOptions(
            # Large strings, as pandas keeps text: to_pandas need not convert them.
            column_types={name: pa.large_string() for name in names},
            null_values=[""],  # pyarrow's default also turns "NA", "null", "nan", ... into nulls
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            check_utf8=True,
        )

    @property
    def columns(self) -> list[str]:
        """The header's names, stripped of surrounding whitespace, in file order."""
        return list(self._layout.columns)

    @property
    def delimiter(self) -> str:
        """The delimiter given or sniffed."""
        return self._layout.delimiter

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[SourceBatch]:
        """The file's rows in batches of at most `batch_rows`, read `block_bytes` at a time;
        only `columns` (and the origin columns) when given."""
        for read in self.reads(columns):
            yield from read()

    def reads(self, columns: Sequence[str] | None = None) -> Iterator[BatchRead]:
        """The file's blocks of whole records in order, each parsed into its batches when
        called, in whatever thread calls it; reading the bytes and finding the records'
        bounds happen here, so a file's broken quoting is raised in order."""
        convert = self._convert_options
        if columns is not None:
            convert = pacsv.ConvertOptions(
                column_types=convert.column_types,
                null_values=convert.null_values,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                check_utf8=True,
                include_columns=list(columns),
            )
        with open_binary(self.location, self._label) as handle:
            handle.seek(self._layout.data_offset)
            pending = b""
            line = self._layout.first_data_line
            read_size = min(self._options.block_bytes, FIRST_BLOCK_BYTES)
            while True:
                chunk = self._read(handle, read_size)
                at_eof = len(chunk) < read_size
                if at_eof and chunk:  # a short read is the end of a file, but make sure
                    more = self._read(handle, read_size)
                    at_eof = not more
                    chunk += more
                block = pending + chunk if pending else chunk
                if not block:
                    return
                spans = None
                cut = plain_cut(block, at_eof) if self._options.encoding == "utf-8" else None
                if cut is None:
                    spans = self._split(block, at_eof, line)
                    cut = spans.consumed, spans.newlines, len(spans)
                consumed, newlines, records = cut
                if records:
                    read = _BlockRead(
                        block, spans, at_eof, consumed, records, line, convert, columns
                    )
                    yield _Parse(self, read)
                pending = block[consumed:]
                if pending and (at_eof or len(pending) > MAX_RECORD_BYTES):
                    raise self._unfinished(pending, line + newlines, at_eof)
                if at_eof:
                    return
                line += newlines
                read_size = max(self._options.block_bytes, len(pending))

    def _batches(self, read: _BlockRead) -> list[SourceBatch]:
        """One block's records as batches of at most `batch_rows`."""
        table = self._read_plain(read) if read.spans is None else None
        if table is None:
            spans = read.spans or split_by_parity(read.block, self._layout.delimiter, read.at_eof)
            assert spans is not None, "a block without quotes splits at its line feeds"
            with_cr = records_with_cr(read.block, spans)
            pieces = self._read_run(read, spans, with_cr, 0, len(spans))
            table = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
        return list(split_batches(table, self._options.batch_rows))

    def _read(self, handle: BinaryIO, size: int) -> bytes:
        try:
            return handle.read(size)
        except OSError as error:
            raise SourceError(f"{self._label}: cannot read the file ({error})") from None

    def _split(self, block: bytes, at_eof: bool, line: int) -> RecordSpans:
        """Whole records in `block` (whose first line is `line`): by quote parity, or by
        grammar when a quote is out of place; then a quote that swallows lines is fatal."""
        delimiter = self._layout.delimiter
        spans = split_by_parity(block, delimiter, at_eof)
        if spans is not None:
            return spans
        spans = split_by_grammar(block, delimiter, at_eof)
        if spans.multiline:
            self._check_quotes(block, spans, line)
        return spans

    def _check_quotes(self, block: bytes, spans: RecordSpans, line: int) -> None:
        """SourceError for a record whose quoted field spans lines and has text after its
        closing quote: rows between were read as one field, so no row count can be trusted."""
        following = np.append(spans.lines[1:], spans.newlines + 1)
        for index in np.flatnonzero(following - spans.lines > 1).tolist():
            record = block[spans.starts[index] : spans.ends[index]]
            closing = broken_quote_offset(record, self._layout.delimiter)
            if closing is None:
                continue
            opened = line + int(spans.lines[index])
            closed = opened + record.count(b"\n", 0, closing)
            raise SourceError(
                f"{self._label} line {opened}: a quoted field opened here runs to line {closed}, "
                "where text follows its closing quote; the quoting is broken (a quote inside a "
                'field is written twice: "")'
            )

    def _unfinished(self, rest: bytes, line: int, at_eof: bool) -> SourceError:
        """The error for a record that never ends; `line` is where `rest` starts."""
        quote = unclosed_quote_offset(rest, self._layout.delimiter)
        if quote is None and not at_eof:
            return SourceError(
                f"{self._label} line {line}: a record runs past {MAX_RECORD_BYTES >> 20} MiB "
                "without a line end"
            )
        where = line + rest.count(b"\n", 0, quote or 0)
        return SourceError(f"{self._label} line {where}: a quoted field opened here never closes")

    def _read_plain(self, read: _BlockRead) -> pa.Table | None:
        """A plain block's records read by pyarrow in one call, the nth record on the nth line
        from the block's first; None when pyarrow refuses them or counts other rows (a ragged
        row, a record over the block size, ...): then the block is split and read by runs."""
        data = pa.py_buffer(read.block).slice(0, read.consumed)  # no copy
        values = self._pyarrow_read(data, PYARROW_BLOCK_BYTES, False, read.convert)
        if values is None or values.num_rows != read.records:
            return None
        lines = np.arange(read.records, dtype=np.int64) + read.first_line
        return with_origin(values, self._label, lines)

    def _pyarrow_read(
        self, data: pa.Buffer, block_size: int, multiline: bool, convert: pacsv.ConvertOptions
    ) -> pa.Table | None:
        """Records read by pyarrow (all cores); None when it refuses them."""
        read_options = pacsv.ReadOptions(
            column_names=self._layout.columns, use_threads=True, block_size=block_size
        )
        parse_options = self._parse_options if multiline else self._single_line_options
        try:
            return pacsv.read_csv(
                pa.BufferReader(data),
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert,
            )
        except pa.ArrowException:
            return None

    def _read_run(
        self,
        read: _BlockRead,
        spans: RecordSpans,
        with_cr: npt.NDArray[np.bool_],
        start: int,
        stop: int,
    ) -> list[pa.Table]:
        """Records [start, stop) read by pyarrow; refused runs, and runs with a record holding
        a CR (`with_cr`), are halved, then read carefully."""
        block, first_line = read.block, read.first_line
        first, last = int(spans.starts[start]), int(spans.ends[stop - 1])
        if self._options.encoding != "utf-8":
            data = pa.py_buffer(block[first:last].decode(self._options.encoding).encode("utf-8"))
        else:
            data = pa.py_buffer(block).slice(first, last - first)  # no copy
        longest = int((spans.ends[start:stop] - spans.starts[start:stop]).max())
        block_size = max(PYARROW_BLOCK_BYTES, 2 * longest + 1)
        values = self._pyarrow_read(data, block_size, spans.multiline, read.convert)
        if values is not None and values.num_rows == stop - start and not with_cr[start:stop].any():
            lines = spans.lines[start:stop] + first_line
            return [with_origin(values, self._label, lines)]
        if stop - start <= CAREFUL_RUN:
            return [self._careful(read, spans, start, stop)]
        middle = (start + stop) // 2
        return [
            *self._read_run(read, spans, with_cr, start, middle),
            *self._read_run(read, spans, with_cr, middle, stop),
        ]

    def _careful(self, read: _BlockRead, spans: RecordSpans, start: int, stop: int) -> pa.Table:
        """Records [start, stop) read one by one with Python's csv module."""
        block, first_line, columns = read.block, read.first_line, read.columns
        names = self._layout.columns
        cells: list[list[str | None]] = [[] for _ in names]
        faults: list[str | None] = []
        raws: list[str | None] = []
        encoding = self._options.encoding
        for index in range(start, stop):
            raw = block[spans.starts[index] : spans.ends[index]]
            record = parse_record(raw, len(names), self._layout.delimiter, encoding)
            for column, value in zip(cells, record.values, strict=True):
                column.append(value)
            faults.append(record.fault)
            raws.append(None if record.fault is None else raw_text(raw, encoding))
        values = pa.Table.from_arrays([pa.array(c, pa.large_string()) for c in cells], names=names)
        if columns is not None:
            values = values.select(list(columns))
        lines = spans.lines[start:stop] + first_line
        return with_origin(values, self._label, lines, faults, raws)

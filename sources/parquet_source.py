"""ParquetSource: a Parquet file read in row batches; timestamps stay datetimes, the rest text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.errors import SourceError

from .batch import BatchRead, SourceBatch, check_header, split_batches, with_origin
from .options import DEFAULT_OPTIONS, ReadOptions
from .storage import Location

# Whole floats below this magnitude are written as integers ("5551208111", not "5551208111.0").
_EXACT_INTEGER_FLOAT = 2.0**63
# Past these magnitudes a float type cannot hold every integer: a whole value there may not be
# the number that was written (float32 keeps 5551208111 as 5551207936), so its row is refused.
_EVERY_INTEGER_UP_TO = {16: 2**11, 32: 2**24, 64: 2**53}


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _floats_as_text(array: pa.Array) -> pa.Array:
    """Floats as text: whole numbers without ".0", NaN as null, others in Arrow's shortest form."""
    values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values)
        whole &= np.abs(values) < _EXACT_INTEGER_FLOAT
    integers = pa.array(np.where(whole, values, 0).astype(np.int64))
    text = pc.if_else(pa.array(whole), pc.cast(integers, pa.string()), pc.cast(array, pa.string()))
    missing = pc.fill_null(pc.is_nan(array), True)
    return pc.if_else(missing, pa.nulls(len(array), pa.string()), text)


def inexact_integers(array: pa.Array) -> npt.NDArray[np.bool_]:
    """True where a float column holds a whole value past the integers its type keeps
    exactly: a phone number or an id there may have lost digits (never so for other types)."""
    if not pa.types.is_floating(array.type):
        return np.zeros(len(array), dtype=bool)
    limit = _EVERY_INTEGER_UP_TO[array.type.bit_width]
    values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        return np.asarray(
            np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) > limit),
            dtype=bool,
        )


def inexact_faults(table: pa.Table, columns: Sequence[pa.Array]) -> list[str | None] | None:
    """Each row's read fault for whole floats past their type's exact integers; None if none."""
    reasons: list[str | None] | None = None
    for name, raw in zip(table.column_names, columns, strict=True):
        bad = np.flatnonzero(inexact_integers(raw))
        if not len(bad):
            continue
        reasons = reasons if reasons is not None else [None] * table.num_rows
        text = table.column(name)
        kind = f"float{raw.type.bit_width}"
        for row in bad.tolist():
            reason = (
                f"{name} '{text[row].as_py()}' is stored as {kind}, which cannot keep every "
                f"digit of a whole number past {_EVERY_INTEGER_UP_TO[raw.type.bit_width]:,}: "
                "it may not be the number written; export the column as text or integer"
            )
            earlier = reasons[row]
            reasons[row] = reason if earlier is None else f"{earlier}; {reason}"
    return reasons


def _python_text(array: pa.Array) -> pa.Array:
    """Values Arrow cannot cast, as Python's str of each (bytes decoded as UTF-8)."""
    texts: list[str | None] = []
    for value in array.to_pylist():
        if value is None:
            texts.append(None)
        elif isinstance(value, bytes):
            texts.append(value.decode("utf-8", errors="replace"))
        else:
            texts.append(str(value))
    return pa.array(texts, pa.string())


def _decoded(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array, dictionaries decoded."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def as_text_or_timestamp(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as the pipeline reads it: timestamps unchanged, everything else as strings."""
    array = _decoded(array)
    kind = array.type
    if pa.types.is_timestamp(kind):
        return array
    if pa.types.is_floating(kind):
        return _floats_as_text(array)
    if pa.types.is_decimal(kind):
        # 2125551234.00 is the whole number 2125551234, as a float64 column writes it.
        text = pc.cast(array, pa.string())
        return pc.replace_substring_regex(text, r"\.0+$", "")
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _python_text(array)


class ParquetSource:
    """A Parquet file; its schema is read (and checked) when the source is made."""

    def __init__(self, location: Location | str, options: ReadOptions = DEFAULT_OPTIONS) -> None:
        self.location = location if isinstance(location, Location) else Location(location)
        self._label = str(self.location)
        self._options = options
        try:
            if self.location.size() == 0:
                raise SourceError(f"{self._label}: the file is empty")
            with self.location.open("rb", ranges=True) as handle, pq.ParquetFile(handle) as parquet:
                names = list(parquet.schema_arrow.names)
        except OSError as error:
            raise SourceError(
                f"{self._label}: cannot read the file ({error.strerror or error})"
            ) from None
        except pa.ArrowException as error:
            raise SourceError(
                f"{self._label}: not a readable Parquet file ({_first_line(error)})"
            ) from None
        # Names are trimmed as a CSV header's are (" number1" is number1); read by their own.
        self._columns = check_header(self._label, [name.strip() for name in names])
        self._stored = dict(zip(self._columns, names, strict=True))

    @property
    def columns(self) -> list[str]:
        """The file's column names, in file order."""
        return list(self._columns)

    def reads(self, columns: Sequence[str] | None = None) -> Iterator[BatchRead]:
        """The file's batches, each read here (Parquet's own reader is already columnar)."""
        for batch in self.batches(columns):
            yield partial(list, (batch,))

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[SourceBatch]:
        """The file's rows in batches of at most `batch_rows`; `source_line` is the row number.
        Only `columns` (and the origin columns) when given."""
        row = 1
        names = self._columns if columns is None else list(columns)
        try:
            with self.location.open("rb", ranges=True) as handle, pq.ParquetFile(handle) as parquet:
                stored = [self._stored[name] for name in names]
                for record_batch in parquet.iter_batches(
                    batch_size=self._options.batch_rows, columns=stored
                ):
                    rows = record_batch.num_rows
                    raw = [_decoded(column) for column in record_batch.columns]
                    values = pa.Table.from_arrays(
                        [as_text_or_timestamp(column) for column in raw], names=names
                    )
                    lines = np.arange(row, row + rows, dtype=np.int64)
                    row += rows
                    faults = inexact_faults(values, raw)
                    yield from split_batches(
                        with_origin(values, self._label, lines, faults),
                        self._options.batch_rows,
                    )
        except OSError as error:
            raise SourceError(f"{self._label}: cannot read the file ({error})") from None
        except pa.ArrowException as error:
            raise SourceError(
                f"{self._label} row {row}: the Parquet data cannot be read ({_first_line(error)})"
            ) from None

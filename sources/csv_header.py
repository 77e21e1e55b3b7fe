"""Read a CSV file's header at open time: BOM, delimiter, column names, where the data starts."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from schemas.errors import SourceError

from .batch import check_header
from .csv_records import MAX_RECORD_BYTES
from .options import DELIMITER_CANDIDATES, ReadOptions
from .record_boundaries import QUOTE, as_bytes_array, first_record_end

UTF8_BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 64 << 10


@dataclass(frozen=True)
class CsvLayout:
    """What reading the data needs to know: names, delimiter, and where the data starts."""

    columns: list[str]
    delimiter: str
    data_offset: int  # byte offset of the first record after the header
    first_data_line: int  # the line number of that offset (the header is line 1)


def _outside_quotes(line: bytes, char: str) -> int:
    """How often `char` occurs in `line` with an even number of quotes before it."""
    data = as_bytes_array(line)
    hits = np.flatnonzero(data == ord(char))
    quotes = np.flatnonzero(data == QUOTE)
    return int(np.count_nonzero((np.searchsorted(quotes, hits) & 1) == 0))


def sniff_delimiter(first_line: bytes, sample: bytes) -> str:
    """The delimiter among , ; tab | : the only one in the header line, else csv.Sniffer's pick
    among those in the header, else ','."""
    present = [char for char in DELIMITER_CANDIDATES if _outside_quotes(first_line, char)]
    if len(present) == 1:
        return present[0]
    if not present:
        return ","  # a single column: any delimiter reads it
    cut = sample.rfind(b"\n")
    text = (sample[: cut + 1] if cut > 0 else sample).decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text, delimiters="".join(present))
    except csv.Error:
        return ","
    return dialect.delimiter if dialect.delimiter in present else ","


def _read_start(handle: BinaryIO, label: str) -> tuple[bytes, bool]:
    """The file's first bytes (at least SNIFF_BYTES, up to the first line feed); `at_eof`."""
    data = handle.read(SNIFF_BYTES)
    at_eof = len(data) < SNIFF_BYTES
    while not at_eof and b"\n" not in data:
        if len(data) > MAX_RECORD_BYTES:
            raise SourceError(f"{label} line 1: the first line is longer than 64 MiB")
        more = handle.read(len(data))
        at_eof = not more
        data += more
    return data, at_eof


def _header_text(raw: bytes, label: str, encoding: str) -> str:
    """The header record decoded, or SourceError naming the first bad byte's line and column."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode(encoding, errors="replace")) + 1
        utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[:64].count(0) > 8
        message = (
            f"{label} line {line} column {column}: the header is not valid UTF-8 "
            f"(byte 0x{raw[error.start]:02x})"
        )
        if utf16:
            raise SourceError(f"{message}; save it as UTF-8 (it looks like UTF-16)") from None
        raise SourceError(message, hint=("encoding", "latin-1")) from None


def read_layout(handle: BinaryIO, label: str, options: ReadOptions) -> CsvLayout:
    """Read the header from the start of `handle`; SourceError for an empty file or a bad header."""
    data, at_eof = _read_start(handle, label)
    bom = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    if len(data) == bom:
        raise SourceError(f"{label}: the file is empty")
    if b"\n" not in data and b"\r" in data.rstrip(b"\r"):
        raise SourceError(
            f"{label}: lines end in a carriage return (CR) alone; save the file with LF or "
            "CRLF line ends"
        )
    first_line = data[bom:].split(b"\n", 1)[0].removesuffix(b"\r")
    if not first_line.strip():
        raise SourceError(f"{label} line 1: the header line is blank")
    delimiter = options.delimiter or sniff_delimiter(first_line, data[bom : bom + SNIFF_BYTES])
    while (bounds := first_record_end(data[bom:], delimiter, at_eof)) is None:
        if at_eof or len(data) > MAX_RECORD_BYTES:
            raise SourceError(f"{label} line 1: a quoted field opened here never closes")
        more = handle.read(len(data))
        at_eof = not more
        data += more
    text_end, next_line = bounds
    text = _header_text(data[bom : bom + text_end], label, options.encoding)
    try:
        rows = list(csv.reader([text], delimiter=delimiter, quotechar='"', strict=False))
    except csv.Error as error:
        raise SourceError(f"{label} line 1: the header cannot be read as CSV ({error})") from None
    names = [name.strip() for name in rows[0]] if rows else []
    data_offset = bom + next_line
    return CsvLayout(
        columns=check_header(label, names),
        delimiter=delimiter,
        data_offset=data_offset,
        first_data_line=1 + data[:data_offset].count(b"\n"),
    )

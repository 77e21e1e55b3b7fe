"""Where CSV records start and end inside a block of bytes.

Two splitters give the same answer on well-formed CSV:

* `split_by_parity` is vectorised: a line feed ends a record when an even number of quotes
  precedes it. That is exact when every quote plays the role its parity gives it: an opening
  quote starts a field (or follows a closing quote: an escaped quote), a closing quote ends the
  field (or is followed by another quote). When a quote is out of place (`5'11"` in an unquoted
  field, `"a"b`), it gives up and returns None.
* `split_by_grammar` follows Python's csv grammar (a quote opens a quoted field only at the start
  of a field; elsewhere it is plain text) with one regular expression match per record
  (about 2.5 µs a record: used only for blocks where parity gave up).

And `plain_cut` finds no records at all: in a block with no quote, no blank line and no CR but
those of CRLFs, every line is a record, so counting line feeds is enough.

Records end at line feeds (LF); the CR of a CRLF is not part of the record. Line numbers count
line feeds, so CRLF and LF files number lines alike; blank lines are counted but are no records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
ByteArray = npt.NDArray[np.uint8]

QUOTE = 0x22
LF = 0x0A
CR = 0x0D


@dataclass(frozen=True)
class RecordSpans:
    """The non-blank records found in `block[:consumed]`, in order.

    `starts`/`ends`: byte offsets of each record's text (its line end excluded); `lines`: line
    feeds before each record (add the block's first line number); `consumed`: the bytes split
    into whole records (blank lines included); `newlines`: line feeds in `block[:consumed]`;
    `multiline`: whether some record spans several lines (a quoted line break).
    """

    starts: IntArray
    ends: IntArray
    lines: IntArray
    consumed: int
    newlines: int
    multiline: bool

    def __len__(self) -> int:
        return int(self.starts.size)


def as_bytes_array(block: bytes) -> ByteArray:
    """The block as a numpy array of bytes, without a copy."""
    return np.frombuffer(block, dtype=np.uint8)


def _spans(
    data: ByteArray,
    record_starts: IntArray,
    record_ends: IntArray,
    record_lines: IntArray,
    consumed: int,
    newlines: int,
) -> RecordSpans:
    """RecordSpans from raw record bounds: a CRLF's CR dropped, blank records left out."""
    ends = record_ends.copy()
    if ends.size:
        ends -= (ends > record_starts) & (data[np.maximum(ends - 1, 0)] == CR)
    keep = ends > record_starts
    ending_in_newline = record_ends.size - int(record_ends.size and record_ends[-1] == consumed)
    return RecordSpans(
        starts=record_starts[keep],
        ends=ends[keep],
        lines=record_lines[keep],
        consumed=consumed,
        newlines=newlines,
        multiline=newlines > ending_in_newline,
    )


def _quotes_in_place(data: ByteArray, quotes: IntArray, delimiter: str) -> bool:
    """Whether every quote plays the role its parity in the block gives it (see module doc)."""
    separator = np.uint8(ord(delimiter))
    previous = data[np.maximum(quotes - 1, 0)]
    following = data[np.minimum(quotes + 1, data.size - 1)]
    good_opening = (quotes == 0) | (previous == separator) | (previous == QUOTE) | (previous == LF)
    good_closing = (
        (quotes == data.size - 1)
        | (following == separator)
        | (following == QUOTE)
        | (following == LF)
        | (following == CR)
    )
    opening = (np.arange(quotes.size) & 1) == 0
    return bool(np.all(np.where(opening, good_opening, good_closing)))


def split_by_parity(block: bytes, delimiter: str, at_eof: bool) -> RecordSpans | None:
    """Records ending at line feeds preceded by an even number of quotes; None when a quote is
    out of place, so that parity may not match the CSV grammar (see module doc)."""
    data = as_bytes_array(block)
    newlines = np.flatnonzero(data == LF)
    quotes = np.flatnonzero(data == QUOTE)
    if quotes.size:
        if not _quotes_in_place(data, quotes, delimiter):
            return None
        boundary_index = np.flatnonzero((np.searchsorted(quotes, newlines) & 1) == 0)
    else:
        boundary_index = np.arange(newlines.size)
    boundaries = newlines[boundary_index]
    consumed = int(boundaries[-1]) + 1 if boundaries.size else 0
    newlines_consumed = int(boundary_index[-1]) + 1 if boundaries.size else 0
    record_ends = boundaries
    if at_eof and consumed < len(block) and quotes.size % 2 == 0:
        record_ends = np.append(boundaries, np.int64(len(block)))
        consumed = len(block)
        newlines_consumed = int(newlines.size)
    count = record_ends.size
    record_starts = np.concatenate(([0], boundaries + 1))[:count].astype(np.int64)
    record_lines = np.concatenate(([0], boundary_index + 1))[:count].astype(np.int64)
    return _spans(data, record_starts, record_ends, record_lines, consumed, newlines_consumed)


def records_with_cr(block: bytes, spans: RecordSpans) -> npt.NDArray[np.bool_]:
    """Which records hold a CR inside them (not the CR of their CRLF). pyarrow ends a line at
    such a CR, this reader does not (see csv_records), so pyarrow's rows for these records
    cannot be trusted even when their count matches."""
    inside = np.zeros(len(spans), dtype=bool)
    if b"\r" not in block or not len(spans):
        return inside
    returns = np.flatnonzero(as_bytes_array(block) == CR)
    record = np.searchsorted(spans.starts, returns, side="right") - 1
    within = (record >= 0) & (returns < spans.ends[np.maximum(record, 0)])
    inside[record[within]] = True
    return inside


def plain_cut(block: bytes, at_eof: bool) -> tuple[int, int, int] | None:
    """For a block with no quote, no blank line and no CR but those of CRLFs (so every line
    is one record, to pyarrow too): the bytes of whole records, their line feeds and their
    records, as `split_by_parity` would count them, with no offsets found; None for any other
    block."""
    if b'"' in block or block[:1] in (b"\n", b"\r"):
        return None
    data = as_bytes_array(block)
    line_end = data == LF
    if np.any(line_end[1:] & line_end[:-1]):  # a blank line (bytes.find is far slower)
        return None
    if b"\r" in block:
        returns = np.flatnonzero(data == CR)
        if np.any(data[np.minimum(returns + 1, len(data) - 1)] != LF) or (
            np.any(line_end[:-2] & (data[1:-1] == CR) & line_end[2:])
        ):
            return None  # a CR alone (pyarrow ends a line there), or a blank CRLF line
    consumed = len(block) if at_eof else block.rfind(b"\n") + 1
    newlines = int(np.count_nonzero(line_end))  # all of them in `consumed`
    unterminated = consumed > 0 and block[consumed - 1] != LF
    return consumed, newlines, newlines + unterminated


@lru_cache(maxsize=16)
def _record_patterns(
    delimiter: str,
) -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """Patterns matching one record ending in a line feed, one ending at the end of data, and
    the fields of a record as far as they go."""
    d = re.escape(delimiter.encode("ascii"))
    text = rb"[^" + d + rb"\n]*+"
    quoted = rb'"(?:[^"]++|"")*+"' + text  # after the closing quote, the rest is plain text
    plain = rb'(?:[^"' + d + rb"\n]" + text + rb")?+"
    field = rb"(?>" + quoted + rb"|" + plain + rb")"
    record = field + rb"(?:" + d + field + rb")*+"
    return re.compile(record + rb"\n"), re.compile(record + rb"\Z"), re.compile(record)


def split_by_grammar(block: bytes, delimiter: str, at_eof: bool) -> RecordSpans:
    """Records as Python's csv module reads them (one regex match per record)."""
    ends_with_newline, ends_with_data, _ = _record_patterns(delimiter)
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    size = len(block)
    while position < size:
        match = ends_with_newline.match(block, position)
        if match is None:
            if at_eof and (match := ends_with_data.match(block, position)) is not None:
                starts.append(position)
                ends.append(size)
                position = size
            break
        starts.append(position)
        ends.append(match.end() - 1)
        position = match.end()
    data = as_bytes_array(block)
    record_starts = np.array(starts, dtype=np.int64)
    newlines = np.flatnonzero(data[:position] == LF)
    record_lines = np.searchsorted(newlines, record_starts).astype(np.int64)
    return _spans(
        data,
        record_starts,
        np.array(ends, dtype=np.int64),
        record_lines,
        position,
        int(newlines.size),
    )


def broken_quote_offset(record: bytes, delimiter: str) -> int | None:
    """Offset of the closing quote of a quoted field that spans lines and has text after that
    quote (`"Dwayne,...<line feeds>...Rock" Johnson`): a quote that was meant as text, and the
    lines in between are swallowed into one field. None when the record has no such field."""
    field = _field_pattern(delimiter)
    separator = ord(delimiter)
    position = 0
    while position <= len(record):
        match = field.match(record, position)
        if match is None:
            return None
        closing, after = match.group("closing"), match.end("closing")
        if closing is not None and b"\n" in closing and after < match.end():
            return after - 1
        position = match.end() + 1
        if position > len(record) or record[position - 1] != separator:
            return None
    return None


@lru_cache(maxsize=16)
def _field_pattern(delimiter: str) -> re.Pattern[bytes]:
    """One field of a record, naming a quoted field's quoted part `closing`."""
    d = re.escape(delimiter.encode("ascii"))
    text = rb"[^" + d + rb"\n]*+"
    quoted = rb'(?P<closing>"(?:[^"]++|"")*+")' + text
    plain = rb'(?:[^"' + d + rb"\n]" + text + rb")?+"
    return re.compile(rb"(?>" + quoted + rb"|" + plain + rb")")


def unclosed_quote_offset(record: bytes, delimiter: str) -> int | None:
    """Offset of the quote opening a field that runs to the end of `record` (the start of an
    unfinished record), or None when no quoted field is open there."""
    fields = _record_patterns(delimiter)[2].match(record)
    stop = fields.end() if fields is not None else 0
    return stop if stop < len(record) and record[stop] == QUOTE else None


def first_record_end(block: bytes, delimiter: str, at_eof: bool) -> tuple[int, int] | None:
    """End of the first record's text (CR of a CRLF excluded) and the start of the next line;
    None when the block holds no whole first record yet."""
    ends_with_newline, ends_with_data, _ = _record_patterns(delimiter)
    match = ends_with_newline.match(block)
    if match is not None:
        text_end = match.end() - 1
        if text_end > 0 and block[text_end - 1] == CR:
            text_end -= 1
        return text_end, match.end()
    if at_eof and ends_with_data.match(block) is not None:
        return len(block), len(block)
    return None

"""Phone numbers to the form Five9 accepts (docs/five9-contract.md, phone numbers), vectorised.

North American numbers become exactly 10 digits, first digit 2-9; international numbers begin
with 011 and have 10 to 16 digits. A leading "+" is kept only in domains set to E.164: elsewhere
Five9 drops such a contact silently, so "+1 555 120 8111" becomes "5551208111" and
"+44 20 7946 0958" becomes "011442079460958".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.arrow_text import ascii_digits, counts_within, offsets_and_data, text_array
from schemas.phone_forms import number_pattern
from transforms.row_faults import BoolArray

# Characters people put between digits; anything else (letters, "ext", "#") is refused. They
# are the regex class [\s().\-/] (RE2's \s is [\t\n\f\r ]): ten ASCII bytes, none of which can
# be part of a multi-byte UTF-8 character, so they are dropped byte by byte.
_SEPARATOR_BYTES = np.zeros(256, dtype=bool)
_SEPARATOR_BYTES[list(b"\t\n\f\r ().-/")] = True


@dataclass(frozen=True)
class PhoneColumn:
    """A normalised phone column: the Five9 form (NA where blank or bad) and the bad rows."""

    number: pd.Series
    blank: BoolArray
    bad: BoolArray


def normalise_phones(values: pd.Series, *, e164: bool = False) -> PhoneColumn:
    """Five9's form of each number; blank cells stay NA, unusable ones are flagged `bad`.

    Runs on Arrow compute kernels and NumPy throughout: no Python per row, no pandas string
    wrappers. Plain North American numbers (nearly every row of a real export) are read from
    their bytes; only the others go through `_general`."""
    text = text_array(values)
    plain = _plain_north_american(text)
    if plain is None:
        number, blank, bad = _general(text, e164)
    else:
        number, rest = plain
        blank = np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        bad = np.zeros(len(text), dtype=bool)
        if rest.any():
            picked = pa.array(rest)
            part, blank[rest], bad[rest] = _general(text.filter(picked), e164)
            number = pc.replace_with_mask(number, picked, part)
    return PhoneColumn(
        number=pd.Series(number, index=values.index, dtype="str"), blank=blank, bad=bad
    )


# Plain numbers are at most _PLAIN_WIDTH bytes long; longer values take `_general`.
_PLAIN_WIDTH = 24


def _plain_north_american(text: pa.Array) -> tuple[pa.Array, BoolArray] | None:
    """The Five9 form of plain North American numbers, null elsewhere, and the rows that are
    neither plain nor null (`_general` reads those); None when no row is plain.

    Plain: only ASCII digits and separators, the first byte a digit or "(" (so trimming does
    not change the value and it has no sign), and 10 digits, the first 2-9, or 11, a "1" then
    2-9. `_general` gives exactly these numbers for such values: the digits, less the "1".
    Judged on the column's UTF-8 bytes end to end (digits counted per value), not value by
    value."""
    offsets, data = offsets_and_data(text)
    if not len(data):
        return None
    data = data[offsets[0] : offsets[-1]]
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    lengths = ends - starts
    present = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    digit = ascii_digits(data)
    # Digits before each value's first byte (`before`) and up to its end (`through`).
    count = counts_within(digit, offsets - offsets[0])
    through = np.cumsum(count)
    before = through - count
    # A value with a byte that is neither a digit nor a separator is not plain.
    other = np.zeros(len(lengths), dtype=bool)
    odd = np.flatnonzero(~digit)
    strays = odd[~_SEPARATOR_BYTES[data[odd]]]
    if len(strays):
        other[np.searchsorted(ends, strays, side="right")] = True
    digits = np.compress(digit, data)  # far faster than data[digit]
    padded = np.append(digits, np.uint8(0))  # the digits in order, and a 0 past the last
    first = padded[np.minimum(before, len(digits))]
    second = padded[np.minimum(before + 1, len(digits))]
    lead = np.append(data, np.uint8(0))[np.minimum(starts, len(data))]
    plain = (
        present
        & (lengths <= _PLAIN_WIDTH)
        & ~other
        & ((lead == ord("(")) | ((lead >= ord("0")) & (lead <= ord("9"))))
        & (
            ((count == 10) & (first >= ord("2")) & (first <= ord("9")))
            | ((count == 11) & (first == ord("1")) & (second >= ord("2")) & (second <= ord("9")))
        )
    )
    if not plain.any():
        return None
    # A plain number is its last 10 digits (an 11-digit one loses its leading "1").
    kept = np.lib.stride_tricks.sliding_window_view(padded, 10)[through[plain] - 10]
    out_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.where(plain, 10, 0), out=out_offsets[1:])
    number = pa.LargeStringArray.from_buffers(
        len(lengths),
        pa.py_buffer(out_offsets),
        pa.py_buffer(np.ascontiguousarray(kept)),
        pa.array(plain).buffers()[1],
    )
    return number, present & ~plain


def _general(text: pa.Array, e164: bool) -> tuple[pa.Array, BoolArray, BoolArray]:
    """Every value's Five9 form (null where blank or bad), and which are blank and bad."""
    text = pc.utf8_trim_whitespace(text)
    blank = pc.fill_null(pc.equal(text, ""), True)
    compact = _drop_separators(text)
    plus = pc.fill_null(pc.starts_with(compact, "+"), False)
    digits = pc.if_else(plus, pc.utf8_slice_codeunits(compact, 1), compact)
    # ASCII decimal only: other scripts' digits are not digits to Five9.
    only_digits = pc.fill_null(pc.ascii_is_decimal(digits), False)
    leading_one = pc.fill_null(pc.starts_with(digits, "1"), False)

    # "+1" and a leading trunk "1" both mean North America: keep the 10 national digits.
    north_american = pc.and_(
        pc.and_(only_digits, leading_one), pc.equal(pc.utf8_length(digits), 11)
    )
    # "+1" followed by anything but 10 national digits is a broken North American number.
    broken_plus_one = pc.and_(pc.and_(plus, leading_one), pc.invert(north_american))
    national = pc.if_else(north_american, pc.utf8_slice_codeunits(digits, 1), digits)
    if e164:
        candidate = pc.if_else(plus, _prefixed("+", digits), national)
    else:
        international = pc.and_(plus, pc.invert(north_american))
        candidate = pc.if_else(international, _prefixed("011", digits), national)
    form = pc.fill_null(pc.match_substring_regex(candidate, number_pattern(e164=e164)), False)
    # Not numbers at all, though their digits would pass: a negative value (a sign, not a
    # separator: Parquet's -2125551234) and a country code 0 ("+0 212 555 1234").
    signed = pc.fill_null(pc.starts_with(text, "-"), False)
    no_country = pc.and_(plus, pc.fill_null(pc.starts_with(digits, "0"), False))
    broken = pc.or_(pc.or_(broken_plus_one, signed), no_country)
    valid = pc.and_(pc.and_(only_digits, pc.invert(broken)), form)
    bad = pc.and_(pc.invert(blank), pc.invert(valid))
    number = pc.if_else(valid, candidate, pa.scalar(None, pa.large_string()))
    return (
        number,
        np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool),
        np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool),
    )


def _prefixed(prefix: str, text: pa.Array) -> pa.Array:
    """`prefix` + each value (large strings throughout)."""
    nothing = pa.scalar("", pa.large_string())
    return pc.binary_join_element_wise(pa.scalar(prefix, pa.large_string()), text, nothing)


def _drop_separators(text: pa.Array) -> pa.Array:
    """`text` without separator characters, on the UTF-8 bytes (a regex replace costs far more)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    validity, offset_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[
        text.offset : text.offset + len(text) + 1
    ]
    if data_buffer is None or len(offsets) < 2:
        return text
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    dropped = _SEPARATOR_BYTES[data]
    if not dropped.any():
        return text
    # Each value's new start: its old start less the separators dropped before it.
    before = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(dropped, dtype=np.int64, out=before[1:])
    starts = offsets - offsets[0]
    return pa.LargeStringArray.from_buffers(
        len(text),
        pa.py_buffer(starts - before[starts]),
        pa.py_buffer(data[~dropped]),
        None if validity is None else text.is_valid().buffers()[1],
    )

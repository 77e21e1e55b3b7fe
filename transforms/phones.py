"""Phone numbers to the form Five9 accepts (shared/five9-api.md section 2.5), vectorised.

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
    """Five9's form of each number; blank cells stay NA, unusable ones are flagged `bad`."""
    text = values.astype("str").str.strip()
    blank = (text.isna() | (text == "")).to_numpy()
    stripped = _drop_separators(pa.array(text, type=pa.large_string(), from_pandas=True))
    compact = pd.Series(stripped, index=text.index, dtype="str")
    plus = compact.str.startswith("+").fillna(False).to_numpy()
    digits = compact.str.removeprefix("+")
    only_digits = digits.str.fullmatch(r"[0-9]+").fillna(False).to_numpy()
    length = digits.str.len().fillna(0).to_numpy()

    # "+1" and a leading trunk "1" both mean North America: keep the 10 national digits.
    north_american = (
        only_digits & digits.str.startswith("1").fillna(False).to_numpy() & (length == 11)
    )
    # "+1" followed by anything but 10 national digits is a broken North American number.
    broken_plus_one = plus & digits.str.startswith("1").fillna(False).to_numpy() & ~north_american
    national = digits.where(~north_american, digits.str.slice(1))
    if e164:
        candidate = national.where(~plus, "+" + digits)
    else:
        international = plus & ~north_american
        candidate = national.where(~international, "011" + digits)
    pattern = number_pattern(e164=e164)
    valid = only_digits & ~broken_plus_one & candidate.str.match(pattern).fillna(False).to_numpy()
    bad = ~blank & ~valid
    return PhoneColumn(
        number=candidate.where(valid).astype("str"),
        blank=np.asarray(blank, dtype=bool),
        bad=np.asarray(bad, dtype=bool),
    )


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
    # Each value's new start: its old start less the separators dropped before it.
    at = np.flatnonzero(dropped)
    starts = offsets - offsets[0]
    return pa.LargeStringArray.from_buffers(
        len(text),
        pa.py_buffer(starts - np.searchsorted(at, starts)),
        pa.py_buffer(data[~dropped]),
        None if validity is None else text.is_valid().buffers()[1],
    )

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
import pyarrow.compute as pc

from schemas.phone_forms import number_pattern
from transforms.row_faults import BoolArray

# Characters people put between digits; anything else (letters, "ext", "#") is refused.
_SEPARATORS = r"[\s().\-/]"


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
    # pyarrow's regex replace runs in C++; pandas falls back to Python per row for this pattern.
    stripped = pc.replace_substring_regex(
        pa.array(text, type=pa.string(), from_pandas=True), _SEPARATORS, ""
    )
    compact = pd.Series(stripped, index=text.index, dtype="str")
    plus = compact.str.startswith("+").fillna(False).to_numpy()
    digits = compact.str.removeprefix("+")
    only_digits = digits.str.fullmatch(r"\d+").fillna(False).to_numpy()
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

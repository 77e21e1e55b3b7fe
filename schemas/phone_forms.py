"""The number forms Five9 takes (docs/five9-contract.md, phone numbers), as regular expressions.

Digits are spelled [0-9]: Python's \\d also matches other scripts' digits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.arrow_text import ascii_digits, counts_within, offsets_and_data, text_array

# North America: exactly 10 digits, the first 2-9 (no leading 1, no "+").
NANP = r"[2-9][0-9]{9}"
# International: 011 then the country code and number, 10 to 16 digits in all.
INTERNATIONAL = r"011[0-9]{7,13}"
# Only in domains set to E.164: "+" and up to 15 digits.
E164 = r"\+[1-9][0-9]{7,14}"


def number_pattern(*, e164: bool) -> str:
    """An anchored pattern for a valid number in a domain with or without E.164."""
    forms = [NANP, INTERNATIONAL, E164] if e164 else [NANP, INTERNATIONAL]
    return "^(?:" + "|".join(forms) + ")$"


def number_forms(values: pd.Series, *, e164: bool) -> pd.Series:
    """For each value: does all of it match `number_pattern(e164=e164)` (False for a null)?

    Judged on the UTF-8 bytes, column-wise, not by a regex run value by value: every form is
    ASCII, so a value matches when its length, its digits and its first bytes do."""
    text = text_array(values)
    offsets, data = offsets_and_data(text)
    starts, ends = offsets[:-1], offsets[1:]
    length = ends - starts
    digits = counts_within(ascii_digits(data), offsets)
    # A value's first bytes (past a short value's end: another value's, never trusted).
    padded = np.concatenate((data, np.zeros(3, dtype=np.uint8)))
    first, second, third = (padded[starts + at] for at in range(3))
    nanp = (length == 10) & (digits == 10) & (first >= ord("2")) & (first <= ord("9"))
    international = (
        (length >= 10)
        & (length <= 16)
        & (digits == length)
        & (first == ord("0"))
        & (second == ord("1"))
        & (third == ord("1"))
    )
    matches = nanp | international
    if e164:
        matches |= (
            (length >= 9)
            & (length <= 16)
            & (first == ord("+"))
            & (digits == length - 1)
            & (second >= ord("1"))
            & (second <= ord("9"))
        )
    present = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return pd.Series(matches & present, index=values.index)

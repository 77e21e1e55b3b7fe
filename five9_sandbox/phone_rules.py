"""Five9 phone number rules (docs/five9-contract.md, [confirmed]) as the sandbox enforces them.

Strict where the contract allows: the sandbox expects numbers the pipeline has already
normalised, so a value must be digits only (no spaces, dashes, dots or brackets):

- North American: exactly 10 digits, the first 2-9 (no leading 1).
- International: begins with ``011``, 10 to 16 digits in all.
- A leading ``+``: in an E.164 domain, ``+`` then 8 to 15 digits, the first 1-9 [assumed
  bounds]; outside E.164 the contact is dropped silently (the caller records it).
"""

from __future__ import annotations

import re
from enum import Enum

PHONE_FIELDS: tuple[str, ...] = ("number1", "number2", "number3")

_NANP = re.compile(r"[2-9][0-9]{9}")
_INTERNATIONAL = re.compile(r"011[0-9]{7,13}")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


class NumberVerdict(Enum):
    OK = "ok"
    BAD_FORMAT = "bad_format"
    PLUS_OUTSIDE_E164 = "plus_outside_e164"


def check_number(value: str, *, e164: bool) -> NumberVerdict:
    """Judge one non-empty phone value."""
    if value.startswith("+"):
        if not e164:
            return NumberVerdict.PLUS_OUTSIDE_E164
        return NumberVerdict.OK if _E164.fullmatch(value) else NumberVerdict.BAD_FORMAT
    if _NANP.fullmatch(value) or _INTERNATIONAL.fullmatch(value):
        return NumberVerdict.OK
    return NumberVerdict.BAD_FORMAT


def format_message(field_name: str) -> str:
    """Five9's trouble message for a number in the wrong format."""
    return f"Value of field {field_name} has incorrect format"

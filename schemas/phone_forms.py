"""The number forms Five9 takes (docs/five9-contract.md, phone numbers), as regular expressions.

Digits are spelled [0-9]: Python's \\d also matches other scripts' digits."""

from __future__ import annotations

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

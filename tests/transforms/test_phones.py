"""Phone numbers to Five9's rules (docs/five9-contract.md, phone numbers)."""

from __future__ import annotations

import pandas as pd
import pytest

from transforms.phones import normalise_phones


@pytest.mark.parametrize(
    ("written", "five9"),
    [
        ("(555) 120-8111", "5551208111"),
        ("555.120.8111", "5551208111"),
        ("1 555 120 8111", "5551208111"),
        ("+1 555 120 8111", "5551208111"),
        ("+44 20 7946 0958", "011442079460958"),
        ("011 44 20 7946 0958", "011442079460958"),
        ("  5551208111 ", "5551208111"),
    ],
)
def test_numbers_take_five9s_form_outside_e164(written: str, five9: str) -> None:
    result = normalise_phones(pd.Series([written], dtype="str"))
    assert result.number.tolist() == [five9]
    assert not result.bad.any()


@pytest.mark.parametrize(
    ("written", "five9"),
    [("+1 555 120 8111", "+15551208111"), ("+44 20 7946 0958", "+442079460958")],
)
def test_e164_domains_keep_the_plus(written: str, five9: str) -> None:
    result = normalise_phones(pd.Series([written], dtype="str"), e164=True)
    assert result.number.tolist() == [five9]


@pytest.mark.parametrize(
    "written",
    [
        "2٣٣٣٣٣٣٣٣٣",  # digits of another script
        "555-CALL-NOW",
        "12345",
        "1555120811",
        "0551208111",
        "+1 555 120 811",
        "011 44",
        "555120811#2",
        "-2125551234",  # a negative Parquet integer: a sign, not a separator
        "+0 212 555 1234",  # no country code starts with 0
    ],
)
@pytest.mark.parametrize("e164", [False, True])
def test_numbers_that_cannot_be_made_valid_are_flagged_not_dropped(
    written: str, e164: bool
) -> None:
    result = normalise_phones(pd.Series([written], dtype="str"), e164=e164)
    assert result.bad.tolist() == [True]
    assert result.number.isna().all()


def test_blank_is_not_bad_but_is_known_to_be_blank() -> None:
    result = normalise_phones(pd.Series(["", None, "   "], dtype="str"))
    assert result.blank.tolist() == [True, True, True]
    assert not result.bad.any()

from __future__ import annotations

import pytest

from five9_sandbox.phone_rules import NumberVerdict, check_number


@pytest.mark.parametrize(
    "value", ["5551208111", "2000000000", "9999999999", "0114420794609", "0114420794609581"]
)
def test_valid_numbers(value: str) -> None:
    assert check_number(value, e164=False) is NumberVerdict.OK


@pytest.mark.parametrize(
    "value",
    [
        "1551208111",  # first digit 1
        "0551208111",
        "555120811",  # 9 digits
        "55512081111",  # 11 digits
        "15551208111",
        "011442079",  # 9 digits with 011
        "01144207946095812",  # 17 digits
        "555-120-8111",
        "555 120 8111",
        "５５５１２０８１１１",  # full-width digits
    ],
)
def test_invalid_numbers(value: str) -> None:
    assert check_number(value, e164=False) is NumberVerdict.BAD_FORMAT


def test_plus_depends_on_e164_mode() -> None:
    assert check_number("+15551208111", e164=False) is NumberVerdict.PLUS_OUTSIDE_E164
    assert check_number("+12", e164=False) is NumberVerdict.PLUS_OUTSIDE_E164
    assert check_number("+15551208111", e164=True) is NumberVerdict.OK
    assert check_number("+442079460958", e164=True) is NumberVerdict.OK
    assert check_number("+12", e164=True) is NumberVerdict.BAD_FORMAT
    assert check_number("+0442079460958", e164=True) is NumberVerdict.BAD_FORMAT
    assert check_number("5551208111", e164=True) is NumberVerdict.OK

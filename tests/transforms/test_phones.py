"""Phone numbers to Five9's rules (docs/five9-contract.md, phone numbers)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from transforms.phones import _general, normalise_phones


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


# Phone numbers as exports write them (a trunk 1, "(", "+" or a sign, digit groups between
# separators), and text of the same bytes and of what goes wrong in them.
_SEPARATOR = st.sampled_from(["", " ", "-", ".", "/", ") ", " - ", "\t", "\u00a0", "#"])
_PHONE_TEXT = st.one_of(
    st.builds(
        lambda lead, a, s1, b, s2, c, tail: lead + a + s1 + b + s2 + c + tail,
        st.sampled_from(["", "", "1", "1 ", "(", "1 (", "-", " ", "+1 ", "+", "0"]),
        st.text(alphabet="0123456789", min_size=3, max_size=3),
        _SEPARATOR,
        st.text(alphabet="0123456789", min_size=2, max_size=4),
        _SEPARATOR,
        st.text(alphabet="0123456789", min_size=3, max_size=5),
        st.sampled_from(["", "", " ", "x1", "\n", "\u00a0", ")"]),
    ),
    st.text(alphabet="0123456789" * 4 + "11223 ()-./+\t\n\x0b#x٣\u00a0", max_size=24),
)


@settings(max_examples=300, deadline=None)
@example(
    written=[
        *("1 055 120 8111", "1-155-120-8111", "(155) 120-8111", "-212-555-0142", "2125550142"),
        *("(212)  555 - 0142 x", "(212)  555  -  0142 #2", "212 - 555 - 0142" + " " * 12),
    ],
    e164=False,
    cut=0,
)
@given(
    written=st.lists(st.one_of(st.none(), _PHONE_TEXT), min_size=1, max_size=30),
    e164=st.booleans(),
    cut=st.integers(0, 3),
)
def test_plain_numbers_read_from_bytes_match_the_general_reading(
    written: list[str | None], e164: bool, cut: int
) -> None:
    # Plain North American numbers are read from their bytes; the rest by `_general`. Both
    # must give the same number, blank and bad flags for every row (a sliced array too).
    values = pd.Series(written, dtype="str").iloc[cut:]
    result = normalise_phones(values, e164=e164)
    number, blank, bad = _general(pa.array(values, type=pa.large_string()), e164)
    assert result.number.tolist() == pd.Series(number, dtype="str").tolist()
    assert result.blank.tolist() == blank.tolist()
    assert result.bad.tolist() == bad.tolist()


def test_plain_and_other_numbers_in_one_column_keep_their_rows() -> None:
    result = normalise_phones(
        pd.Series(["212-555-0142", "+44 20 7946 0958", None, "1 (212) 555-0143", "12345"])
    )
    assert result.number.tolist()[:2] == ["2125550142", "011442079460958"]
    assert result.number.isna().tolist() == [False, False, True, False, True]
    assert result.number.tolist()[3] == "2125550143"
    assert result.bad.tolist() == [False, False, False, False, True]
    assert result.blank.tolist() == [False, False, True, False, False]

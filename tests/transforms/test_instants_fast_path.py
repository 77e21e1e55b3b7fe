"""The fast paths of `read_text_instants` read exactly what the regex-only reader reads.

Values are generated in and around the accepted forms: valid ones, fields one past their range,
wrong separators and offsets, stray whitespace, non-ASCII digits, single-character mutations
and random text. For each batch the optimised reader must return the same nanoseconds, the
same UTC flags and the same fault codes as `_read_text_instants_reference`, row by row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from transforms.instants import (
    NAT,
    Fault,
    ReadInstants,
    _read_text_instants_reference,
    read_text_instants,
)

WHITESPACE = st.sampled_from(["", "", "", " ", "  ", "\t", "\n", "\v", "\u00a0", "\u2003"])
UNICODE_DIGITS = "٠١٢٣٤٥٦٧٨٩０１２３４５６７８９"


def padded(low: int, high: int, width: int, exact: bool) -> st.SearchStrategy[str]:
    """Integers in [low, high] (the valid range), at or one past its ends, or anywhere in
    [low - 1, high + 1], written with `width` digits (if not `exact`, sometimes one more or
    one fewer)."""
    number = st.one_of(
        st.integers(low, high),
        st.integers(low, high),
        st.sampled_from([low - 1, low, high, high + 1]),
        st.integers(max(low - 1, 0), high + 1),
    )
    widths = st.just(width) if exact else st.sampled_from([width - 1, width, width + 1])
    return st.tuples(number, widths).map(lambda pair: str(pair[0]).zfill(pair[1]))


def either(exact: bool, valid: list[str], invalid: list[str]) -> st.SearchStrategy[str]:
    """One of the `valid` spellings; if not `exact`, sometimes one of the `invalid` ones."""
    return st.sampled_from(valid if exact else valid + invalid)


@st.composite
def zones(draw: st.DrawFn, exact: bool) -> str:
    kind = draw(
        st.sampled_from(["none", "none", "Z", "offset", "offset", "compact", "hours", "other"])
    )
    if kind == "none":
        return ""
    if kind == "Z":
        return draw(st.sampled_from(["Z", "z"]))
    if kind == "other":
        return draw(st.sampled_from(["UTC", "EST", " Z", "ZZ", "+", "-", "+5:00", "±05:00"]))
    sign = draw(either(exact, ["+", "-"], ["−", "~", ""]))
    hours = draw(padded(0, 14, 2, exact))
    minutes = draw(padded(0, 59, 2, exact))
    gap = draw(either(exact, [""], [" ", "  ", "\t"]))
    if kind == "hours":
        return gap + sign + hours
    joiner = ":" if kind == "offset" else ""
    return gap + sign + hours + joiner + minutes


@st.composite
def iso_like(draw: st.DrawFn, exact: bool | None = None) -> str:
    """ISO-like text; `exact` (else drawn) keeps every width and separator to the standard."""
    if exact is None:
        exact = draw(st.booleans())
    value = (
        draw(padded(1970, 2200, 4, exact))
        + draw(either(exact, ["-"], ["/", ".", "", "--"]))
        + draw(padded(1, 12, 2, exact))
        + draw(either(exact, ["-"], ["/", "."]))
        + draw(padded(1, 31, 2, exact))
        + draw(either(exact, ["T", "t", " "], ["  ", "_", "-", "/", "", "TT"]))
        + draw(padded(0, 23, 2, exact))
        + draw(either(exact, [":"], [".", "", "::"]))
        + draw(padded(0, 59, 2, exact))
    )
    if draw(st.booleans()):
        value += draw(either(exact, [":"], [".", ""])) + draw(padded(0, 59, 2, exact))
        if draw(st.integers(0, 4)) == 0:
            value += draw(st.sampled_from([".", ","])) + draw(st.text("0123456789", max_size=11))
    return value + draw(zones(exact))


@st.composite
def us_like(draw: st.DrawFn) -> str:
    exact = draw(st.booleans())
    value = (
        draw(padded(1, 12, 2, exact))
        + "/"
        + draw(padded(1, 31, 2, exact))
        + "/"
        + draw(padded(1970, 2200, 4, exact))
        + draw(either(exact, [" ", "T", "  "], ["-", ""]))
        + draw(padded(0, 23, 1, exact))
        + ":"
        + draw(padded(0, 59, 2, exact))
    )
    if draw(st.booleans()):
        value += ":" + draw(padded(0, 59, 2, exact))
    return value + draw(either(exact, ["", " AM", " pm", "PM"], [" a.m.", " XM"]))


epochs = st.integers(0, 10**15).map(str) | st.text("0123456789", max_size=16)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A value with one character replaced, inserted or removed, or a digit made non-ASCII."""
    value = draw(base)
    if not value:
        return value
    at = draw(st.integers(0, len(value) - 1))
    action = draw(st.sampled_from(["replace", "insert", "delete", "unicode digit"]))
    if action == "delete":
        return value[:at] + value[at + 1 :]
    if action == "unicode digit":
        if not value[at].isdigit():
            return value
        return value[:at] + UNICODE_DIGITS[int(value[at]) % 10] + value[at + 1 :]
    char = draw(
        st.sampled_from(list("0123456789 -:T+Zz/.,\x00é")) | st.characters(codec="utf-8")
    )  # text read from a file: no lone surrogates
    return value[:at] + char + value[at + (action == "replace") :]


forms = iso_like() | us_like() | epochs
values = st.one_of(
    iso_like(),
    iso_like(),
    iso_like(),
    us_like(),
    epochs,
    mutated(forms),
    st.text(max_size=30),
    st.none(),
).flatmap(
    lambda v: (
        st.just(v)
        if v is None
        else st.tuples(WHITESPACE, WHITESPACE).map(lambda w: w[0] + v + w[1])
    )
)


def assert_same(got: ReadInstants, expected: ReadInstants, column: list[str | None]) -> None:
    for row, value in enumerate(column):
        assert (
            int(got.ns[row]),
            bool(got.is_utc[row]),
            int(got.fault[row]),
        ) == (
            int(expected.ns[row]),
            bool(expected.is_utc[row]),
            int(expected.fault[row]),
        ), repr(value)
    assert got.ns.dtype == expected.ns.dtype
    assert got.is_utc.dtype == expected.is_utc.dtype
    assert got.fault.dtype == expected.fault.dtype


@settings(max_examples=300, deadline=None)
@given(column=st.lists(values, min_size=0, max_size=40))
@example(column=["2026-12-01 09:00", "2026-12-01T09:00:00Z", "2026-12-01T09:00-05:00"])
@example(
    column=["2026-02-29 09:00", "2028-02-29T24:00", "2026-12-01T09:60", "2026-12-01T09:00+14:01"]
)
@example(column=["2026-12-01T09:00:60+00:00", "2026-12-01T09:00-00:60", "1969-12-31 23:59"])
@example(column=["2201-01-01 00:00", "2200-12-31t23:59:59z", "9999999999", "1796133600000"])
@example(column=["٢٠٢٦-12-01 09:00", "2026-12-01 09:00 Z", "2026-12-01T09:00:00.5Z", None, ""])
def test_optimised_reader_matches_the_reference(column: list[str | None]) -> None:
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(column, type=kind)
        assert_same(read_text_instants(array), _read_text_instants_reference(array), column)


@settings(max_examples=200, deadline=None)
@given(column=st.lists(iso_like(exact=True), min_size=1, max_size=40))
def test_well_formed_iso_values_read_the_same(column: list[str | None]) -> None:
    """Mostly the fast path's own forms: every range check and offset at and past its ends."""
    array = pa.array(column, type=pa.string())
    assert_same(read_text_instants(array), _read_text_instants_reference(array), column)


@settings(max_examples=100, deadline=None)
@given(column=st.lists(values, min_size=1, max_size=20), skip=st.integers(0, 5))
def test_sliced_arrays_read_the_same(column: list[str | None], skip: int) -> None:
    """Arrays that are slices of bigger ones (a non-zero offset into the buffers)."""
    whole = pa.array(["2026-12-01 09:00"] * skip + column + ["1999-01-01T00:00Z"], type=pa.string())
    array = whole.slice(skip, len(column))
    assert_same(read_text_instants(array), _read_text_instants_reference(array), column)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 12, 31)),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    seconds=st.booleans(),
    separator=st.sampled_from(["T", "t", " "]),
)
def test_fixed_width_values_are_the_instants_datetime_reads(
    moment: datetime, offset_minutes: int, seconds: bool, separator: str
) -> None:
    """An independent oracle for the fast path: Python's datetime, value by value."""
    moment = moment.replace(microsecond=0, second=moment.second if seconds else 0)
    tz = timezone(timedelta(minutes=offset_minutes))
    wall = moment.strftime(f"%Y-%m-%d{separator}%H:%M" + (":%S" if seconds else ""))
    sign = "-" if offset_minutes < 0 else "+"
    oh, om = divmod(abs(offset_minutes), 60)
    column = [wall, wall + "Z", f"{wall}{sign}{oh:02d}:{om:02d}"]
    read = read_text_instants(pa.array(column, type=pa.string()))

    naive_ns = (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1) * 1000
    utc_ns = (
        (moment.replace(tzinfo=tz) - datetime(1970, 1, 1, tzinfo=UTC))
        // timedelta(microseconds=1)
        * 1000
    )
    assert read.fault.tolist() == [Fault.NONE] * 3
    assert read.is_utc.tolist() == [False, True, True]
    assert read.ns.tolist() == [naive_ns, naive_ns, utc_ns]
    assert NAT not in read.ns

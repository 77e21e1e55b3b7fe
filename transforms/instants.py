"""Read guard-time values in every accepted form into naive or UTC nanoseconds, vectorised.

The accepted forms are exactly those of docs/guard-times.md ("Accepted input"); anything else is a
fault that names the value. Nothing here knows about time zones beyond fixed offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.arrow_text import may_trim, offsets_and_data, text_array

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
NS_PER_HOUR = 60 * NS_PER_MINUTE
NS_PER_DAY = 24 * NS_PER_HOUR
NAT = np.iinfo(np.int64).min

# Years outside this range are refused: nothing real is scheduled there, and nanosecond
# arithmetic stays far from overflow.
MIN_YEAR = 1970
MAX_YEAR = 2200
# Real UTC offsets run from -12:00 to +14:00.
MAX_OFFSET_NS = 14 * NS_PER_HOUR

_ISO = (
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt ](?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<z>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?$"
)
_US = (
    r"^(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})[ T]+(?P<h>\d{1,2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2}))?\s*(?P<ap>[AaPp][Mm])?$"
)
_DIGITS = r"^\d+$"
# The fixed-width ISO forms most exports use: "YYYY-MM-DD HH:MM" (T, t or space between),
# optionally ":SS", optionally "Z"/"z" or "+HH:MM"/"-HH:MM". Everything this matches, `_ISO`
# matches with the same fields, and each length (16, 17, 19, 20, 22, 25) is one layout.
_FIXED = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2})?(?:[Zz]|[+-]\d{2}:\d{2})?$"


class Fault:
    """Why a value could not be read; each code has one message."""

    NONE = 0
    BLANK = 1
    UNREADABLE = 2
    NO_SUCH_DATE = 3
    BAD_TIME = 4
    BAD_OFFSET = 5
    EPOCH_LENGTH = 6
    YEAR_RANGE = 7

    MESSAGES = (
        "",
        "is blank",
        "is not a date and time in an accepted form "
        "(ISO 8601, YYYY-MM-DD HH:MM, MM/DD/YYYY H:MM [AM|PM], epoch s or ms)",
        "is not a date that exists",
        "has an hour, minute or second out of range",
        "has a UTC offset out of range (-14:00 to +14:00)",
        "is an integer that is neither epoch seconds (10 digits) nor milliseconds (12-13 digits)",
        f"has a year outside {MIN_YEAR}-{MAX_YEAR}",
    )


@dataclass(frozen=True)
class ReadInstants:
    """Per row: nanoseconds, whether they are UTC already (else local wall time), fault code."""

    ns: Int64Array
    is_utc: BoolArray
    fault: npt.NDArray[np.int8]


def utc_ns(instants: pd.Series) -> Int64Array:
    """Aware instants as UTC nanoseconds since the epoch (NaT as `NAT`)."""
    utc = instants.dt.tz_convert("UTC").dt.as_unit("ns").to_numpy("datetime64[ns]")
    return np.asarray(utc.view(np.int64))


def days_from_civil(y: Int64Array, m: Int64Array, d: Int64Array) -> Int64Array:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468, dtype=np.int64)


def civil_from_days(days: Int64Array) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Year, month and day of days since 1970-01-01 (H. Hinnant's algorithm, inverse)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def days_in_month(y: Int64Array, m: Int64Array) -> Int64Array:
    """Length of each month, leap years included."""
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    base = lengths[np.clip(m, 1, 12) - 1]
    return np.asarray(base + ((m == 2) & leap), dtype=np.int64)


# Each month of the accepted years, from January MIN_YEAR: its first day (days since the
# epoch) and its length.
_YEARS = np.repeat(np.arange(MIN_YEAR, MAX_YEAR + 1, dtype=np.int64), 12)
_MONTHS = np.tile(np.arange(1, 13, dtype=np.int64), MAX_YEAR + 1 - MIN_YEAR)
_MONTH_START = days_from_civil(_YEARS, _MONTHS, np.ones_like(_YEARS))
_MONTH_DAYS = days_in_month(_YEARS, _MONTHS)


def _field(parts: pa.StructArray, name: str, missing: int = -1) -> Int64Array:
    """One named regex group as integers; unmatched or empty groups become `missing`."""
    values = pc.struct_field(parts, name)
    values = pc.if_else(pc.equal(values, ""), None, values)
    return np.asarray(
        pc.cast(values, pa.int64()).fill_null(missing).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )


def _text(parts: pa.StructArray, name: str) -> pa.Array:
    return pc.fill_null(pc.struct_field(parts, name), "")


def _fraction_ns(parts: pa.StructArray) -> Int64Array:
    frac = _text(parts, "f")
    padded = pc.utf8_rpad(frac, width=9, padding="0")
    return np.asarray(pc.cast(padded, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def read_text_instants(values: pa.Array) -> ReadInstants:
    """Read trimmed strings: epoch integers are UTC, ISO with an offset is UTC, the rest local.

    Fixed-width ISO values and all-digit values (nearly every row of a real export) are told
    apart and read by byte position; only the rows left over go through the regexes of the
    reference reader.
    """
    n = len(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return _read_text_instants_reference(values)
    text = _trimmed(values)
    length, chars = _leading_bytes(text)
    columns = np.ascontiguousarray(chars.T)  # one contiguous row per byte position
    present = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    short = present & (length <= _WIDTH)
    fixed = short & _fixed_layout(columns, length)
    digits = np.zeros(n, dtype=bool)
    others = np.flatnonzero(short & ~fixed)
    digits[others] = _all_digits(chars[others], length[others])
    long = present & ~short
    if long.any():  # past the byte window: the regex decides (rare)
        digits |= long & _mask(pc.match_substring_regex(text, _DIGITS))
    rest = ~(fixed | digits)

    if fixed.all():
        return _read_fixed_width(columns, length)
    read = ReadInstants(
        ns=np.full(n, NAT, dtype=np.int64),
        is_utc=np.zeros(n, dtype=bool),
        fault=np.full(n, Fault.UNREADABLE, dtype=np.int8),
    )
    if fixed.any():
        # Every row read by position (cheaper than picking the rows out first); only the
        # fixed-width ones are kept.
        part = _read_fixed_width(columns, length)
        read = ReadInstants(
            ns=np.where(fixed, part.ns, read.ns),
            is_utc=np.where(fixed, part.is_utc, read.is_utc),
            fault=np.where(fixed, part.fault, read.fault),
        )
    if digits.any():
        _place(read, digits, _read_epochs(pc.filter(text, pa.array(digits))))
    if rest.any():
        _place(read, rest, _read_text_instants_reference(pc.filter(text, pa.array(rest))))
    return read


def _place(into: ReadInstants, rows: BoolArray, part: ReadInstants) -> None:
    into.ns[rows] = part.ns
    into.is_utc[rows] = part.is_utc
    into.fault[rows] = part.fault


def _mask(matched: pa.Array) -> BoolArray:
    return np.asarray(pc.fill_null(matched, False).to_numpy(zero_copy_only=False), dtype=bool)


def _trimmed(values: pa.Array) -> pa.Array:
    """`utf8_trim_whitespace`, skipped when no value starts or ends with a byte it could trim."""
    return pc.utf8_trim_whitespace(values) if may_trim(values) else values


# Values are told apart and read by their first _WIDTH bytes (the longest fixed layout).
_WIDTH = 25


def _leading_bytes(text: pa.Array) -> tuple[Int64Array, npt.NDArray[np.uint8]]:
    """Each value's byte length, and its first `_WIDTH` bytes as one row of a matrix. Past a
    shorter value's end the row holds the next value's bytes (or zeros): never read them."""
    offsets, data = offsets_and_data(text)
    padded = np.concatenate((data, np.zeros(_WIDTH, dtype=np.uint8)))
    chars = np.lib.stride_tricks.sliding_window_view(padded, _WIDTH)[offsets[:-1]]
    return np.diff(offsets), chars


def _is_digit(column: npt.NDArray[np.uint8]) -> BoolArray:
    return np.asarray((column - np.uint8(48)) <= 9, dtype=bool)  # uint8 wraps below "0"


def _is_any(column: npt.NDArray[np.uint8], allowed: bytes) -> BoolArray:
    out = column == allowed[0]
    for byte in allowed[1:]:
        out |= column == byte
    return np.asarray(out, dtype=bool)


def _fixed_layout(columns: npt.NDArray[np.uint8], length: Int64Array) -> BoolArray:
    """Which values match `_FIXED`, judged byte by byte (`columns`: one row per byte position):
    "YYYY-MM-DD HH:MM" (T, t or space), then by length: "", "Z", ":SS", ":SSZ", "+HH:MM",
    ":SS+HH:MM" (z for Z, - for +)."""
    ok = (length >= 16) & _is_any(columns[4], b"-") & _is_any(columns[7], b"-")
    ok &= _is_any(columns[10], b"Tt ") & _is_any(columns[13], b":")
    for column in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15):
        ok &= _is_digit(columns[column])

    def seconds(at: int) -> BoolArray:
        colon = _is_any(columns[at], b":")
        return colon & _is_digit(columns[at + 1]) & _is_digit(columns[at + 2])

    def offset(at: int) -> BoolArray:
        return (
            _is_any(columns[at], b"+-")
            & _is_digit(columns[at + 1])
            & _is_digit(columns[at + 2])
            & _is_any(columns[at + 3], b":")
            & _is_digit(columns[at + 4])
            & _is_digit(columns[at + 5])
        )

    zulu16, zulu19 = _is_any(columns[16], b"Zz"), _is_any(columns[19], b"Zz")
    tail = (
        (length == 16)
        | ((length == 17) & zulu16)
        | ((length == 19) & seconds(16))
        | ((length == 20) & seconds(16) & zulu19)
        | ((length == 22) & offset(16))
        | ((length == 25) & seconds(16) & offset(19))
    )
    return np.asarray(ok & tail, dtype=bool)


def _all_digits(chars: npt.NDArray[np.uint8], length: Int64Array) -> BoolArray:
    """Which values (of at most `_WIDTH` bytes, at least one) are all ASCII digits."""
    inside = np.arange(_WIDTH) < length[:, np.newaxis]
    return np.asarray((length >= 1) & (_is_digit(chars) | ~inside).all(axis=1), dtype=bool)


def _read_fixed_width(columns: npt.NDArray[np.uint8], length: Int64Array) -> ReadInstants:
    """Values that match `_FIXED`, read by byte position from their leading bytes (`columns`:
    one row per byte position); each length is one layout. Other values read as garbage."""

    def number(first: int, width: int, at: int = 0) -> npt.NDArray[np.int32]:
        # Each byte's digit (uint8 wraps below "0": garbage where it is not one).
        value = (columns[at + first] - np.uint8(48)).astype(np.int32)
        for column in range(at + first + 1, at + first + width):
            value *= 10
            value += columns[column] - np.uint8(48)
        return np.asarray(value, dtype=np.int32)

    # Lengths 16 "YYYY-MM-DD HH:MM", 17 "...Z", 19 "...:SS", 20 "...:SSZ", 22 "...+HH:MM",
    # 25 "...:SS+HH:MM".
    has_seconds = (length == 19) | (length == 20) | (length == 25)
    has_zone = (length > 16) & (length != 19)
    has_offset = (length == 22) | (length == 25)

    y = number(0, 4)
    mo = number(5, 2)
    d = number(8, 2)
    h = number(11, 2)
    mi = number(14, 2)
    s = np.where(has_seconds, number(17, 2), 0)
    om = np.zeros(len(length), dtype=np.int64)
    offset = om
    if has_offset.any():
        sign = np.where(np.where(has_seconds, columns[19], columns[16]) == ord("-"), -1, 1)
        oh = np.where(has_offset, np.where(has_seconds, number(1, 2, 19), number(1, 2, 16)), 0)
        om = np.where(has_offset, np.where(has_seconds, number(4, 2, 19), number(4, 2, 16)), 0)
        offset = sign * (oh.astype(np.int64) * NS_PER_HOUR + om.astype(np.int64) * NS_PER_MINUTE)

    year_ok = (y >= MIN_YEAR) & (y <= MAX_YEAR)
    month_ok = (mo >= 1) & (mo <= 12)
    # The month's first day and length from tables of the accepted years (garbage elsewhere,
    # where year_ok or month_ok is False and the fault says so).
    month = np.clip((y - MIN_YEAR) * 12 + mo - 1, 0, len(_MONTH_DAYS) - 1)
    date_ok = month_ok & (d >= 1) & (d <= _MONTH_DAYS[month])
    time_ok = (h <= 23) & (mi <= 59) & (s <= 59)
    offset_ok = ~has_zone | ((om <= 59) & (np.abs(offset) <= MAX_OFFSET_NS))
    day = _MONTH_START[month] + d - 1
    local = (day * 86_400 + (h * 3_600 + mi * 60 + s)) * NS_PER_SECOND
    good = year_ok & date_ok & time_ok & offset_ok
    if good.all():
        return ReadInstants(
            ns=local - offset, is_utc=has_zone, fault=np.zeros(len(length), dtype=np.int8)
        )
    fault = np.zeros(len(length), dtype=np.int8)
    bad = np.flatnonzero(~good)
    fault[bad] = np.select(
        [~year_ok[bad], ~date_ok[bad], ~time_ok[bad], ~offset_ok[bad]],
        [Fault.YEAR_RANGE, Fault.NO_SUCH_DATE, Fault.BAD_TIME, Fault.BAD_OFFSET],
        Fault.NONE,
    )
    ns = np.where(good, local - offset, NAT)
    return ReadInstants(ns=ns, is_utc=has_zone, fault=fault)


def _read_epochs(text: pa.Array) -> ReadInstants:
    """Strings that are all ASCII digits: epoch seconds (10 digits) or milliseconds (12-13)."""
    length = np.asarray(pc.binary_length(text).to_numpy(zero_copy_only=False), dtype=np.int64)
    seconds = length == 10
    millis = (length == 12) | (length == 13)
    number = np.zeros(len(length), dtype=np.int64)
    short = length <= 13
    if short.any():
        number[short] = np.asarray(
            pc.cast(pc.filter(text, pa.array(short)), pa.int64()).to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
    is_utc = seconds | millis
    ns, too_late = _epoch_ns(number, seconds, millis)
    fault = np.select(
        [~is_utc, too_late], [Fault.EPOCH_LENGTH, Fault.YEAR_RANGE], Fault.NONE
    ).astype(np.int8)
    return ReadInstants(ns=np.where(fault == Fault.NONE, ns, NAT), is_utc=is_utc, fault=fault)


# Epoch values past the last accepted year would also overflow nanoseconds: refuse them.
_EPOCH_SECONDS_END = (MAX_YEAR + 1 - 1970) * 365 * 86_400  # a lower bound of 2201-01-01


def _epoch_ns(
    number: Int64Array, seconds: BoolArray, millis: BoolArray
) -> tuple[Int64Array, BoolArray]:
    """Nanoseconds of epoch seconds or milliseconds, and which are past the accepted years."""
    too_late = (seconds & (number >= _EPOCH_SECONDS_END)) | (
        millis & (number >= _EPOCH_SECONDS_END * 1000)
    )
    safe = np.where(too_late, 0, number)
    ns = np.where(seconds, safe * NS_PER_SECOND, np.where(millis, safe * 1_000_000, NAT))
    return np.asarray(ns, dtype=np.int64), np.asarray(too_late, dtype=bool)


def _read_text_instants_reference(values: pa.Array) -> ReadInstants:
    """The regex-only reader: every form through `_ISO` and `_US`, row for row what
    `read_text_instants` returns (it is the oracle of the fast-path tests)."""
    n = len(values)
    text = pc.utf8_trim_whitespace(values)
    blank = np.asarray(
        pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False), dtype=bool
    )
    fault = np.full(n, Fault.UNREADABLE, dtype=np.int8)
    ns = np.full(n, NAT, dtype=np.int64)
    is_utc = np.zeros(n, dtype=bool)

    # Epoch seconds (10 digits) and milliseconds (12-13 digits) are UTC.
    digits = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, _DIGITS), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if digits.any():
        lengths = np.asarray(
            pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False), dtype=np.int64
        )
        seconds = digits & (lengths == 10)
        millis = digits & ((lengths == 12) | (lengths == 13))
        number = np.zeros(n, dtype=np.int64)
        short = digits & (lengths <= 13)
        if short.any():
            number[short] = np.asarray(
                pc.cast(pc.filter(text, pa.array(short)), pa.int64()).to_numpy(
                    zero_copy_only=False
                ),
                dtype=np.int64,
            )
        epoch_ns, too_late = _epoch_ns(number, seconds, millis)
        ns = np.where(seconds | millis, epoch_ns, ns)
        is_utc |= seconds | millis
        fault = np.where(seconds | millis, Fault.NONE, np.where(digits, Fault.EPOCH_LENGTH, fault))
        fault = np.where(too_late, Fault.YEAR_RANGE, fault).astype(np.int8)

    iso = pc.extract_regex(text, _ISO)
    us = pc.extract_regex(text, _US)
    is_iso = np.asarray(iso.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    is_us = np.asarray(us.is_valid().to_numpy(zero_copy_only=False), dtype=bool) & ~is_iso
    dated = is_iso | is_us
    if dated.any():
        y = np.where(is_iso, _field(iso, "y"), _field(us, "y"))
        mo = np.where(is_iso, _field(iso, "mo"), _field(us, "mo"))
        d = np.where(is_iso, _field(iso, "d"), _field(us, "d"))
        h = np.where(is_iso, _field(iso, "h"), _field(us, "h"))
        mi = np.where(is_iso, _field(iso, "mi"), _field(us, "mi"))
        s = np.maximum(np.where(is_iso, _field(iso, "s"), _field(us, "s")), 0)
        frac = np.where(is_iso, _fraction_ns(iso), 0)

        meridiem = pc.utf8_upper(_text(us, "ap"))
        am = np.asarray(pc.equal(meridiem, "AM").to_numpy(zero_copy_only=False), dtype=bool)
        pm = np.asarray(pc.equal(meridiem, "PM").to_numpy(zero_copy_only=False), dtype=bool)
        twelve_hour = is_us & (am | pm)
        hour_ok = np.where(twelve_hour, (h >= 1) & (h <= 12), (h >= 0) & (h <= 23))
        h = np.where(twelve_hour, h % 12 + np.where(pm, 12, 0), h)
        time_ok = hour_ok & (mi >= 0) & (mi <= 59) & (s <= 59)

        year_ok = (y >= MIN_YEAR) & (y <= MAX_YEAR)
        date_ok = (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= days_in_month(y, mo))

        has_zone = is_iso & np.asarray(
            pc.not_equal(_text(iso, "z"), "").to_numpy(zero_copy_only=False), dtype=bool
        )
        sign = np.where(
            np.asarray(pc.equal(_text(iso, "sign"), "-").to_numpy(zero_copy_only=False)),
            -1,
            1,
        )
        oh = np.maximum(_field(iso, "oh"), 0)
        om = np.maximum(_field(iso, "om"), 0)
        offset = sign * (oh * NS_PER_HOUR + om * NS_PER_MINUTE)
        offset_ok = ~has_zone | ((om <= 59) & (np.abs(offset) <= MAX_OFFSET_NS))

        safe_y = np.where(year_ok, y, 2000)
        safe_mo = np.where(date_ok, mo, 1)
        safe_d = np.where(date_ok, d, 1)
        local = (
            days_from_civil(safe_y, safe_mo, safe_d) * NS_PER_DAY
            + h * NS_PER_HOUR
            + mi * NS_PER_MINUTE
            + s * NS_PER_SECOND
            + frac
        )
        good = dated & year_ok & date_ok & time_ok & offset_ok
        ns = np.where(good, np.where(has_zone, local - offset, local), ns)
        is_utc = np.where(dated, has_zone, is_utc)
        dated_fault = np.select(
            [~year_ok, ~date_ok, ~time_ok, ~offset_ok],
            [Fault.YEAR_RANGE, Fault.NO_SUCH_DATE, Fault.BAD_TIME, Fault.BAD_OFFSET],
            Fault.NONE,
        )
        fault = np.where(dated, dated_fault, fault).astype(np.int8)

    fault = np.where(blank, Fault.BLANK, fault).astype(np.int8)
    ns = np.where(fault == Fault.NONE, ns, NAT)
    return ReadInstants(ns=ns, is_utc=is_utc, fault=fault)


def read_instants(values: pd.Series) -> ReadInstants:
    """Read a column of text or of timestamps (Parquet): aware ones are UTC, naive ones local."""
    read, rows = distinct_instants(values)
    if rows is None:
        return read
    return ReadInstants(ns=read.ns[rows], is_utc=read.is_utc[rows], fault=read.fault[rows])


# Text columns of twice this many values are sampled for repeats: where this many hold fewer
# than _MOSTLY_DISTINCT of them distinct, each distinct value is read once (where one value in
# ten is distinct, about 0.8 of a sample is; where all are, all of it).
_SAMPLE = 4_096
_MOSTLY_DISTINCT = 0.85


def distinct_instants(values: pd.Series) -> tuple[ReadInstants, npt.NDArray[np.intp] | None]:
    """`read_instants`, each distinct text read once when values repeat (exports often give
    many rows one window; a value's reading depends on nothing else): the readings, and each
    row's among them (None: one reading a row)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _from_datetimes(values.dt.tz_convert("UTC").dt.tz_localize(None), is_utc=True), None
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _from_datetimes(values, is_utc=False), None
    text = text_array(values)
    if len(text) < 2 * _SAMPLE:
        return read_text_instants(text), None
    sample = text.slice(0, _SAMPLE).dictionary_encode()
    if len(sample.dictionary) >= _MOSTLY_DISTINCT * _SAMPLE:
        return read_text_instants(text), None
    encoded = text.dictionary_encode()
    # Each distinct value once, and a null last for the rows without one.
    distinct = pa.concat_arrays([encoded.dictionary, pa.nulls(1, encoded.dictionary.type)])
    rows = np.asarray(
        encoded.indices.fill_null(len(distinct) - 1).to_numpy(zero_copy_only=False), np.intp
    )
    return read_text_instants(distinct), rows


_EARLIEST = np.datetime64(f"{MIN_YEAR:04d}-01-01T00:00", "ns")
_LATEST = np.datetime64(f"{MAX_YEAR:04d}-12-31T23:59:59.999999999", "ns")


def _from_datetimes(values: pd.Series, *, is_utc: bool) -> ReadInstants:
    """Timestamps in their own unit (Parquet's are often microseconds, reaching 9999-12-31,
    far past what nanoseconds hold): judged against the year range before any conversion."""
    raw = values.to_numpy()
    missing = np.isnat(raw)
    earliest, latest = _EARLIEST.astype(raw.dtype), _LATEST.astype(raw.dtype)
    out_of_range = ~missing & ((raw < earliest) | (raw > latest))
    fault = np.select([missing, out_of_range], [Fault.BLANK, Fault.YEAR_RANGE], Fault.NONE)
    ns = np.full(len(raw), NAT, dtype=np.int64)
    good = fault == Fault.NONE
    ns[good] = raw[good].astype("datetime64[ns]").view(np.int64)
    return ReadInstants(
        ns=ns, is_utc=np.full(len(values), is_utc, dtype=bool), fault=fault.astype(np.int8)
    )

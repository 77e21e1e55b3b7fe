"""Read guard-time values in every accepted form into naive or UTC nanoseconds, vectorised.

The accepted forms are exactly those of shared/guard-time.md "Input"; anything else is a
fault that names the value. Nothing here knows about time zones beyond fixed offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


def days_from_civil(y: Int64Array, m: Int64Array, d: Int64Array) -> Int64Array:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468, dtype=np.int64)


def days_in_month(y: Int64Array, m: Int64Array) -> Int64Array:
    """Length of each month, leap years included."""
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    base = lengths[np.clip(m, 1, 12) - 1]
    return np.asarray(base + ((m == 2) & leap), dtype=np.int64)


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
    """Read trimmed strings: epoch integers are UTC, ISO with an offset is UTC, the rest local."""
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
        ns = np.where(seconds, number * NS_PER_SECOND, ns)
        ns = np.where(millis, number * 1_000_000, ns)
        is_utc |= seconds | millis
        fault = np.where(seconds | millis, Fault.NONE, np.where(digits, Fault.EPOCH_LENGTH, fault))
        fault = fault.astype(np.int8)

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
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        utc = values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        return _from_datetimes(utc, is_utc=True)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _from_datetimes(values.astype("datetime64[ns]"), is_utc=False)
    return read_text_instants(pa.array(values.astype("str"), type=pa.string(), from_pandas=True))


def _from_datetimes(values: pd.Series, *, is_utc: bool) -> ReadInstants:
    ns = values.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    missing = values.isna().to_numpy()
    years = values.dt.year.fillna(2000).to_numpy(dtype=np.int64)
    out_of_range = ~missing & ((years < MIN_YEAR) | (years > MAX_YEAR))
    fault = np.select([missing, out_of_range], [Fault.BLANK, Fault.YEAR_RANGE], Fault.NONE)
    ns[fault != Fault.NONE] = NAT
    return ReadInstants(
        ns=ns, is_utc=np.full(len(values), is_utc, dtype=bool), fault=fault.astype(np.int8)
    )

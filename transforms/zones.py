"""Time zones per row: which zone applies, and local wall time to UTC the narrowing way.

Daylight-saving rules of docs/guard-times.md ("From input to minutes"): a local time in a
spring-forward gap moves a start forward to the end of the gap and an end back to just before
it; a local time that happens twice gives a start the later instant and an end the earlier.

Why not `pyarrow.compute.assume_timezone`, vectorised and with "earliest"/"latest" for both
cases? In nanoseconds it gives exactly these instants (a gap's "earliest" is its end less 1 ns,
as here), but only within the transitions a zone's TZif file tabulates: it ignores the file's
POSIX rule for the years after them (apache/arrow#36110), so from 2038 on New York has no
summer time, and a "slim" file has no tabulated rules at all; and it reads only the system's
zone files, never the `tzdata` package zoneinfo falls back to. Guard times run to 2200. pandas'
`tz_localize` follows zoneinfo for every year and is as fast; tests/transforms/
test_zone_transitions.py checks every minute of transition days against zoneinfo.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.errors import SettingError
from transforms.instants import NAT, Int64Array

Side = Literal["start", "end"]

# Fixed-offset names without a region ("EST", "MST7MDT") name a clock, not a place: a user who
# writes EST for New York in July would be an hour off. Only these region-less names pass.
_REGIONLESS_OK = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Zulu", "Universal"})


@lru_cache(maxsize=1024)
def zone_problem(name: str) -> str | None:
    """Why `name` cannot serve as a row's time zone, or None when it is a usable IANA zone."""
    if "/" not in name and name not in _REGIONLESS_OK:
        return "is not an IANA region name such as America/New_York"
    if name.startswith("Etc/") and name not in _REGIONLESS_OK:
        # Etc/GMT+5 is a fixed clock (UTC-5, its sign reversed), not a place with its rules.
        return "is a fixed offset, not an IANA region name such as America/New_York"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "is not a known IANA time zone"
    return None


def check_default_zone(name: str) -> str:
    """Validate the run's default zone; a bad one is fatal for the run."""
    problem = zone_problem(name.strip())
    if problem:
        raise SettingError(f"{name!r} {problem}", setting="timezone")
    return name.strip()


def localize(local_ns: Int64Array, zone: str, side: Side) -> Int64Array:
    """UTC nanoseconds for wall times in `zone`, narrowing at DST gaps and overlaps."""
    wall = pd.DatetimeIndex(local_ns.view("datetime64[ns]"))
    # pandas: ambiguous=False takes the later of the two instants (a start's), True the earlier.
    ambiguous = np.full(len(wall), side == "end", dtype=bool)
    aware = wall.tz_localize(zone, ambiguous=ambiguous, nonexistent="NaT")
    utc = np.array(aware.as_unit("ns").asi8, dtype=np.int64)
    # Not pandas' shift_forward/shift_backward: they assume an hour-long gap (pandas 3.1 moves
    # 02:15 in Lord Howe's 30-minute gap to 03:00, and a 2009 Goose Bay start to before it).
    in_gap = (utc == NAT) & (local_ns != NAT)
    if in_gap.any():
        # A start moves to the first instant after the gap, an end to the last one before it.
        utc[in_gap] = gap_ends_ns(local_ns[in_gap], zone) - (1 if side == "end" else 0)
    return utc


def gap_ends_ns(local_ns: Int64Array, zone: str) -> Int64Array:
    """For wall times inside daylight-saving gaps of `zone`: the UTC instant (ns) each one's gap
    ends. One search per gap, not per value: every value of a gap shares its end."""
    values, where = np.unique(local_ns, return_inverse=True)
    ends = np.empty(len(values), dtype=np.int64)
    first = 0
    while first < len(values):
        end_ns, wall_after_ns = _gap_end(int(values[first]), zone)
        # The gap's wall times run up to the wall time at its end: those values share it.
        after = max(int(np.searchsorted(values, wall_after_ns, side="left")), first + 1)
        ends[first:after] = end_ns
        first = after
    return ends[where]


def _gap_end(local_ns: int, zone: str) -> tuple[int, int]:
    """The UTC instant (ns) a daylight-saving gap ends, for a wall time inside the gap, and the
    wall time (ns) at that instant: the first instant whose wall time exists again. Found by
    bisection on whole seconds between the wall time read with the offset after the gap and
    with the one before it (zoneinfo's fold=1 and fold=0); tz database transitions fall on whole
    seconds."""
    tz = zoneinfo.ZoneInfo(zone)
    wall = datetime(1970, 1, 1) + timedelta(microseconds=local_ns // 1000)
    low = int(wall.replace(tzinfo=tz, fold=1).timestamp())  # before the change
    high = int(wall.replace(tzinfo=tz, fold=0).timestamp())  # after it

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, UTC).astimezone(tz).utcoffset()

    after = offset(high)
    while high - low > 1:
        middle = (low + high) // 2
        if offset(middle) == after:
            high = middle
        else:
            low = middle
    shift = after // timedelta(microseconds=1) * 1000 if after is not None else 0
    return high * 1_000_000_000, high * 1_000_000_000 + shift


def to_wall_time(utc_ns: Int64Array, zone: str) -> Int64Array:
    """Local wall-time nanoseconds in `zone` of UTC instants."""
    aware = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(zone)
    return np.asarray(aware.tz_localize(None).as_unit("ns").asi8, dtype=np.int64)


@dataclass(frozen=True)
class RowZones:
    """Each row's zone, factorised once per batch: a code per row (-1 where none) and names."""

    codes: npt.NDArray[np.intp]
    names: list[str]

    @classmethod
    def of(cls, zones: pd.Series | RowZones) -> RowZones:
        """`zones` factorised (as it is when it already is)."""
        if isinstance(zones, RowZones):
            return zones
        codes, names = pd.factorize(zones, use_na_sentinel=True)
        return cls(np.asarray(codes, dtype=np.intp), [str(name) for name in names])

    @property
    def known(self) -> npt.NDArray[np.bool_]:
        """True for rows with a zone."""
        return self.codes >= 0

    def take(self, rows: npt.NDArray[np.bool_]) -> RowZones:
        """The zones of the rows where `rows` is True."""
        return RowZones(self.codes[rows], self.names)


_FEW_ZONES = 16


def _zone_groups(rows: np.ndarray, zones: RowZones) -> list[tuple[str, Int64Array]]:
    """The positions of `rows` grouped by zone, one group per distinct zone name."""
    positions = np.flatnonzero(rows)
    if not len(positions):
        return []
    codes = zones.codes[positions]
    if len(zones.names) == 1:
        return [(zones.names[0], positions)]
    if len(zones.names) <= _FEW_ZONES:
        # A batch holds a handful of zones: a comparison per zone costs less than a sort.
        groups = [(name, positions[codes == code]) for code, name in enumerate(zones.names)]
        return [(name, group) for name, group in groups if len(group)]
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    cuts = np.flatnonzero(np.diff(ordered)) + 1
    return [
        (zones.names[group[0]], positions[indices])
        for indices, group in zip(np.split(order, cuts), np.split(ordered, cuts), strict=True)
    ]


def localize_by_zone(
    local_ns: Int64Array, zones: pd.Series | RowZones, needs_zone: np.ndarray, side: Side
) -> Int64Array:
    """Apply `localize` group by group over each row's zone, for rows where `needs_zone`."""
    zones = RowZones.of(zones)
    out = np.full(len(local_ns), NAT, dtype=np.int64)
    rows = needs_zone & (local_ns != NAT) & zones.known
    for zone, index in _zone_groups(rows, zones):
        out[index] = localize(local_ns[index], zone, side)
    return out


def wall_time_by_zone(utc_ns: Int64Array, zones: pd.Series | RowZones) -> Int64Array:
    """`to_wall_time` group by group over each row's zone; NaT where a row has no zone."""
    zones = RowZones.of(zones)
    out = np.full(len(utc_ns), NAT, dtype=np.int64)
    rows = (utc_ns != NAT) & zones.known
    for zone, index in _zone_groups(rows, zones):
        out[index] = to_wall_time(utc_ns[index], zone)
    return out

"""Guard windows to UTC instants exact to the minute: narrow, never widen.

docs/guard-times.md is the rule book: read each value in its own zone, convert to UTC, round
inward (start up, end down), resolve DST gaps and overlaps toward the inside, refuse empty
windows, then optionally clip to calling hours. Expiry is a separate step (it depends on the
moment of the load, not on the data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from transforms.calling_hours import CallingHours, clip_to_calling_hours
from transforms.instants import NAT, NS_PER_MINUTE, Fault, Int64Array, distinct_instants
from transforms.row_faults import RowFaults
from transforms.zones import RowZones, Side, localize_by_zone, zone_problem


@dataclass(frozen=True)
class GuardWindows:
    """Per row: the window's UTC bounds (nanoseconds, whole minutes; NaT where faulty) and zone."""

    start: Int64Array
    end: Int64Array
    zone: pd.Series


def ceil_to_minute(ns: Int64Array) -> Int64Array:
    """Round instants up to the next whole minute (a start moves later)."""
    out = -((-ns) // NS_PER_MINUTE) * NS_PER_MINUTE
    return np.where(ns == NAT, NAT, out)


def floor_to_minute(ns: Int64Array) -> Int64Array:
    """Round instants down to the whole minute (an end moves earlier)."""
    out = (ns // NS_PER_MINUTE) * NS_PER_MINUTE
    return np.where(ns == NAT, NAT, out)


def row_zones(frame: pd.DataFrame, default_zone: str, faults: RowFaults) -> pd.Series:
    """Each row's zone: its own `timezone` when given, else the run's default; NA if unusable."""
    return _row_zones(frame, default_zone, faults)[0]


def _row_zones(
    frame: pd.DataFrame, default_zone: str, faults: RowFaults
) -> tuple[pd.Series, RowZones]:
    """`row_zones`, and the same factorised. Each distinct `timezone` text is trimmed and
    judged once (a column holds a handful), then the rows take their zone's code."""
    if "timezone" not in frame.columns:
        zones = pd.Series(default_zone, index=frame.index, dtype="str")
        return zones, RowZones(np.zeros(len(frame), dtype=np.intp), [default_zone])
    given = pa.array(frame["timezone"].astype("str"), type=pa.large_string(), from_pandas=True)
    if isinstance(given, pa.ChunkedArray):
        given = given.combine_chunks()
    encoded = given.dictionary_encode()
    # One entry per distinct text, and a last one for a missing value: its zone's code.
    texts = [*pc.utf8_trim_whitespace(encoded.dictionary).to_pylist(), ""]
    names: list[str] = []
    problems: dict[str, str] = {}
    codes_of: list[int] = []
    for text in texts:
        name = text or default_zone
        problem = zone_problem(name)
        if problem is not None:
            problems[name] = problem
            codes_of.append(-1)
            continue
        if name not in names:
            names.append(name)
        codes_of.append(names.index(name))
    indices = encoded.indices.fill_null(len(texts) - 1).to_numpy(zero_copy_only=False)
    codes = np.asarray(codes_of, dtype=np.intp)[indices]
    for name, problem in problems.items():
        bad = np.flatnonzero([(text or default_zone) == name for text in texts])
        faults.add_value_fault("timezone", frame["timezone"], np.isin(indices, bad), problem)
    zones = pd.Series(
        pa.array([*names, None], pa.large_string()).take(
            pa.array(np.where(codes < 0, len(names), codes))
        ),
        index=frame.index,
        dtype="str",
    )
    return zones, RowZones(codes, names)


def _bound(
    frame: pd.DataFrame, column: str, zones: RowZones, side: Side, faults: RowFaults
) -> Int64Array:
    """One bound of the window in UTC nanoseconds, before rounding; NaT where unreadable."""
    values = frame[column]
    read, rows = distinct_instants(values)
    fault = read.fault if rows is None else read.fault[rows]
    if fault.any():
        for code in np.unique(fault):
            if code == Fault.NONE:
                continue
            faulty = fault == code
            if code == Fault.BLANK:
                faults.add(faulty, f"{column} is blank")
            else:
                faults.add_value_fault(column, values, faulty, Fault.MESSAGES[code])
    if rows is None:
        local = localize_by_zone(read.ns, zones, ~read.is_utc, side)
        return np.where(read.is_utc, read.ns, local)
    # Each distinct value read is converted once in each zone it is given in.
    width = len(zones.names) + 1
    pairs, inverse = _distinct(rows * width + zones.codes + 1, len(read.ns) * width)
    value = pairs // width
    ns, is_utc = read.ns[value], read.is_utc[value]
    local = localize_by_zone(ns, RowZones(pairs % width - 1, zones.names), ~is_utc, side)
    return np.where(is_utc, ns, local)[inverse]


def _distinct(
    keys: npt.NDArray[np.intp], space: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The distinct keys (each in 0..space-1), ascending, and each key's position among them:
    by a table when the space is small, else by a sort."""
    if space > 4 * len(keys):
        distinct, inverse = np.unique(keys, return_inverse=True)
        return distinct, inverse
    seen = np.zeros(space, dtype=bool)
    seen[keys] = True
    distinct = np.flatnonzero(seen)
    position = np.zeros(space, dtype=np.intp)
    position[distinct] = np.arange(len(distinct))
    return distinct, position[keys]


def normalise_guard_windows(
    frame: pd.DataFrame,
    default_zone: str,
    faults: RowFaults,
    calling_hours: CallingHours | None = None,
    load_time: pd.Timestamp | None = None,
) -> GuardWindows:
    """Read, convert, round inward and check every row's window; faults go to `faults`.

    With calling hours and a `load_time`, a window open at that moment is narrowed to the
    permitted stretch still open then (its first stretch may have passed)."""
    zones, coded = _row_zones(frame, default_zone, faults)
    raw_start = _bound(frame, "guard_start", coded, "start", faults)
    raw_end = _bound(frame, "guard_end", coded, "end", faults)
    start = ceil_to_minute(raw_start)
    end = floor_to_minute(raw_end)

    both = (raw_start != NAT) & (raw_end != NAT)
    reversed_window = both & (raw_end <= raw_start)
    faults.add(reversed_window, "window is empty: guard_end is not after guard_start")
    too_short = both & ~reversed_window & (end - start < NS_PER_MINUTE)
    faults.add(too_short, "window is empty: no whole minute lies between guard_start and guard_end")

    usable = both & ~reversed_window & ~too_short & coded.known
    if calling_hours is not None and usable.any():
        clipped_start, clipped_end = _clip(start, end, coded, calling_hours, load_time)
        clipped_start = ceil_to_minute(clipped_start)
        clipped_end = floor_to_minute(clipped_end)
        outside = usable & (clipped_end - clipped_start < NS_PER_MINUTE)
        faults.add(outside, f"window lies outside calling hours {calling_hours}")
        start = np.where(usable, clipped_start, start)
        end = np.where(usable, clipped_end, end)
        usable &= ~outside

    return GuardWindows(
        start=np.where(usable, start, NAT), end=np.where(usable, end, NAT), zone=zones
    )


def _clip(
    start: Int64Array,
    end: Int64Array,
    zones: RowZones,
    hours: CallingHours,
    load_time: pd.Timestamp | None,
) -> tuple[Int64Array, Int64Array]:
    """Windows narrowed to calling hours: from the load time for windows open at it, where a
    permitted minute remains; else from their start (what comes back then ends by the load
    time, and is expired, not invalid)."""
    if load_time is None:
        return clip_to_calling_hours(start, end, zones, hours)
    now = load_time.value
    open_now = (start < now) & (end > now)
    clipped_start, clipped_end = clip_to_calling_hours(
        start, end, zones, hours, after=np.where(open_now, now, NAT)
    )
    spent = open_now & (
        floor_to_minute(clipped_end) - ceil_to_minute(clipped_start) < NS_PER_MINUTE
    )
    if spent.any():
        clipped_start, clipped_end = clipped_start.copy(), clipped_end.copy()
        clipped_start[spent], clipped_end[spent] = clip_to_calling_hours(
            start[spent], end[spent], zones.take(spent), hours
        )
    return clipped_start, clipped_end

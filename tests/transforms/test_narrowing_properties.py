"""Narrow, never widen: for any input and zone, the window sent lies inside the window meant.

The oracle is independent of the code under test: Python's zoneinfo, row by row, with both
`fold` values to find every instant a local wall time can mean.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.calling_hours import CallingHours
from transforms.guard_windows import normalise_guard_windows
from transforms.instants import NAT
from transforms.row_faults import RowFaults

ZONES = [
    "UTC",
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Moscow",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Africa/Casablanca",
]
wall_times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31))


def interpretations(wall: datetime, zone: str) -> list[datetime]:
    """Every UTC instant whose local time in `zone` is `wall` (none in a gap, two in an overlap)."""
    found = set()
    for fold in (0, 1):
        aware = wall.replace(tzinfo=ZoneInfo(zone), fold=fold)
        instant = aware.astimezone(UTC)
        if instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == wall:
            found.add(instant)
    return sorted(found)


def normalise(rows: list[tuple[str, str, str]]) -> tuple[list[datetime | None], ...]:
    frame = pd.DataFrame(rows, columns=["guard_start", "guard_end", "timezone"], dtype="str")
    result = normalise_guard_windows(frame, "America/New_York", RowFaults(frame.index))

    def as_datetimes(ns: np.ndarray) -> list[datetime | None]:
        return [None if v == NAT else pd.Timestamp(v, tz="UTC").to_pydatetime() for v in ns]

    return as_datetimes(result.start), as_datetimes(result.end)


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


@settings(max_examples=300, deadline=None)
@given(
    start=wall_times,
    length=st.timedeltas(timedelta(0), timedelta(days=3)),
    zone=st.sampled_from(ZONES),
)
def test_local_window_is_never_wider_than_meant(
    start: datetime, length: timedelta, zone: str
) -> None:
    end = start + length
    text = "%Y-%m-%d %H:%M:%S.%f"
    sent_start, sent_end = (
        values[0] for values in normalise([(start.strftime(text), end.strftime(text), zone)])
    )
    if sent_start is None:
        return  # refused (empty window): nothing is sent, nothing is widened
    assert sent_end is not None
    assert sent_start.second == sent_start.microsecond == 0
    assert sent_end.second == sent_end.microsecond == 0
    assert sent_end - sent_start >= timedelta(minutes=1)

    start_means = interpretations(start, zone)
    end_means = interpretations(end, zone)
    if start_means:
        assert sent_start >= max(start_means)
    else:  # in a gap: the first valid minute after it, later on the wall than what was written
        assert local(sent_start, zone) >= start
    if end_means:
        assert sent_end <= min(end_means)
    else:  # in a gap: the last valid minute before it
        assert local(sent_end, zone) <= end


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1)),
    length=st.timedeltas(timedelta(0), timedelta(hours=30)),
    offset_minutes=st.integers(-12 * 60, 14 * 60),
    zone=st.sampled_from(ZONES),
)
def test_window_with_offsets_is_never_wider_than_meant(
    start: datetime, length: timedelta, offset_minutes: int, zone: str
) -> None:
    tz = timezone(timedelta(minutes=offset_minutes))
    aware_start = start.replace(tzinfo=tz)
    aware_end = aware_start + length
    sent_start, sent_end = (
        values[0] for values in normalise([(aware_start.isoformat(), aware_end.isoformat(), zone)])
    )
    if sent_start is None:
        assert length < timedelta(minutes=2)  # only a window too short to hold a minute
        return
    assert sent_end is not None
    assert aware_start <= sent_start < aware_start + timedelta(minutes=1)
    assert aware_end - timedelta(minutes=1) < sent_end <= aware_end


HOURS = CallingHours.parse("08:00-21:00")


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1)),
    length=st.timedeltas(timedelta(minutes=1), timedelta(days=4)),
    load_after_start=st.timedeltas(timedelta(days=-2), timedelta(days=5)),
    zone=st.sampled_from(ZONES),
)
def test_calling_hours_from_the_load_time_stay_inside_window_and_hours(
    start: datetime, length: timedelta, load_after_start: timedelta, zone: str
) -> None:
    """Whatever the load time: the window sent lies inside the window meant and inside the
    hours in the row's zone; and when the load time is inside the hours, with a minute of the
    hours and of the window still ahead, the window sent is still open then."""
    start = start.replace(microsecond=0)  # the text below carries whole seconds
    end = start + length
    meant = (start.replace(tzinfo=ZoneInfo(zone)), end.replace(tzinfo=ZoneInfo(zone)))
    meant_utc = (meant[0].astimezone(UTC), meant[1].astimezone(UTC))
    load = (meant_utc[0] + load_after_start).replace(second=0, microsecond=0)
    text = "%Y-%m-%dT%H:%M:%S%z"
    frame = pd.DataFrame(
        [(meant[0].strftime(text), meant[1].strftime(text), zone)],
        columns=["guard_start", "guard_end", "timezone"],
        dtype="str",
    )
    faults = RowFaults(frame.index)
    result = normalise_guard_windows(frame, zone, faults, HOURS, pd.Timestamp(load))
    if result.start[0] == NAT:
        return  # no permitted minute at all: invalid, nothing sent
    sent_start = pd.Timestamp(result.start[0], tz="UTC").to_pydatetime()
    sent_end = pd.Timestamp(result.end[0], tz="UTC").to_pydatetime()
    assert meant_utc[0] <= sent_start < sent_end <= meant_utc[1]
    opens, closes = local(sent_start, zone), local(sent_end, zone)
    assert opens.date() == closes.date() or closes.time() == datetime.min.time()
    assert opens.time() >= datetime(2000, 1, 1, 8).time()
    assert closes.time() <= datetime(2000, 1, 1, 21).time() or closes.time() == datetime.min.time()
    at = local(load, zone)
    hours_left = datetime.combine(at.date(), datetime(2000, 1, 1, 21).time()) - at
    inside = at.time() >= datetime(2000, 1, 1, 8).time() and hours_left >= timedelta(minutes=1)
    if inside and meant_utc[0] <= load and meant_utc[1] - load >= timedelta(minutes=2):
        assert sent_end > load

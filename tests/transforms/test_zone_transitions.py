"""Wall time to UTC on daylight-saving transition days, every minute of the day, both sides.

The oracle is built from zoneinfo alone (no pandas, nothing of the code under test): the
zone's UTC offset sampled every minute and refined to the second gives its transitions; a
wall time then means each instant whose offset period holds it (a start takes the later, an
end the earlier), and a wall time no instant means lies in a gap: a start moves to the gap's
end, an end to 1 ns before it (rounded down to the minute later, the last minute before it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from transforms.instants import NS_PER_MINUTE, NS_PER_SECOND
from transforms.zones import Side, localize

NS = 1_000_000_000

# (zone, days): every day holds a transition the oracle finds (checked below).
TRANSITION_DAYS = [
    # Lord Howe, 2026: 02:00 +11:00 -> 01:30 +10:30 (01:30-02:00 twice), then in October
    # 02:00 +10:30 -> 02:30 +11:00 (a 30-minute gap).
    ("Australia/Lord_Howe", ["2026-04-05", "2026-10-04"]),
    # Goose Bay, 2009: changes at 00:01 local. 00:01 -04:00 -> 01:01 -03:00 in March; in
    # November 00:01 -03:00 -> 23:01 -04:00 the day before, so the repeated hour straddles
    # midnight (both days tested).
    ("America/Goose_Bay", ["2009-03-08", "2009-10-31", "2009-11-01"]),
    # Samoa, 2011: 30 December never happened (23:59:59 -10:00 on the 29th -> 00:00 +14:00
    # on the 31st); that year's own DST gap (24 September) and overlap (2 April) too.
    ("Pacific/Apia", ["2011-04-02", "2011-09-24", "2011-12-29", "2011-12-30", "2011-12-31"]),
    # New York: an hour's gap and overlap, now and past the tz database's tabulated years
    # (2038 on, only the POSIX rule in the zone file says daylight time goes on).
    ("America/New_York", ["2026-03-08", "2026-11-01", "2150-03-08", "2150-11-01"]),
]


def offset_seconds(tz: ZoneInfo, second: int) -> int:
    offset = datetime.fromtimestamp(second, UTC).astimezone(tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def transitions(zone: str, day: str) -> list[tuple[int, int, int]]:
    """(UTC second, offset before, offset after) of each change within two days of `day`."""
    tz = ZoneInfo(zone)
    first = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) - 2 * 86_400
    found = []
    before = offset_seconds(tz, first)
    for minute in range(first + 60, first + 5 * 86_400, 60):
        now = offset_seconds(tz, minute)
        if now != before:
            second = next(s for s in range(minute - 59, minute + 1) if offset_seconds(tz, s) == now)
            found.append((second, before, now))
            before = now
    return found


def expected_ns(wall_ns: int, changes: list[tuple[int, int, int]], side: Side) -> int:
    """What `wall_ns` means in UTC ns, by the oracle's transitions (see the module doc)."""
    bounds = [-(10**30), *(second * NS for second, _, _ in changes), 10**30]
    offsets = [changes[0][1], *(after for _, _, after in changes)]
    instants = [
        wall_ns - offset * NS
        for low, high, offset in zip(bounds, bounds[1:], offsets, strict=False)
        if low <= wall_ns - offset * NS < high
    ]
    if instants:
        return max(instants) if side == "start" else min(instants)
    gap_ends = [
        second * NS
        for second, before, after in changes
        if (second + before) * NS <= wall_ns < (second + after) * NS
    ]
    assert len(gap_ends) == 1, (wall_ns, changes)
    return gap_ends[0] - (1 if side == "end" else 0)


def day_walls(day: str) -> np.ndarray:
    """Every minute of `day` as wall-time ns, each also at :30 s and at its last nanosecond."""
    midnight = (date.fromisoformat(day) - date(1970, 1, 1)).days * 86_400 * NS
    minutes = midnight + np.arange(24 * 60, dtype=np.int64) * NS_PER_MINUTE
    return np.concatenate([minutes, minutes + 30 * NS_PER_SECOND, minutes + NS_PER_MINUTE - 1])


@pytest.mark.parametrize("side", ["start", "end"])
@pytest.mark.parametrize(("zone", "days"), TRANSITION_DAYS)
def test_every_minute_of_transition_days_matches_zoneinfo(
    zone: str, days: list[str], side: Side
) -> None:
    walls = np.concatenate([day_walls(day) for day in days])
    expected = []
    for day in days:
        changes = transitions(zone, day)
        midnight = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        # A change whose skipped or repeated wall times touch the day.
        on_day = [
            (second, before, after)
            for second, before, after in changes
            if second + min(before, after) <= midnight + 86_400
            and second + max(before, after) >= midnight
        ]
        assert on_day, f"{zone} {day}: no transition near the day; the test would prove nothing"
        expected += [expected_ns(int(wall), changes, side) for wall in day_walls(day)]
    # All the zone's days in one call: several gaps and overlaps in one array.
    got = localize(walls, zone, side)
    wrong = np.flatnonzero(got != np.array(expected, dtype=np.int64))
    assert not len(wrong), [
        (str(np.datetime64(int(walls[i]), "ns")), int(got[i]), expected[i]) for i in wrong[:5]
    ]


@pytest.mark.parametrize(
    ("zone", "wall", "first_after"),
    [
        ("Australia/Lord_Howe", "2026-10-04T02:00", "2026-10-03T15:30"),
        ("Australia/Lord_Howe", "2026-10-04T02:29:59", "2026-10-03T15:30"),
        ("America/Goose_Bay", "2009-03-08T00:01", "2009-03-08T04:01"),
        ("Pacific/Apia", "2011-12-30T00:00", "2011-12-30T10:00"),
        ("Pacific/Apia", "2011-12-30T23:59:59.999999999", "2011-12-30T10:00"),
        ("America/New_York", "2150-03-08T02:30", "2150-03-08T07:00"),
    ],
)
def test_gap_start_moves_to_its_end_and_end_to_one_nanosecond_before(
    zone: str, wall: str, first_after: str
) -> None:
    local = np.array([np.datetime64(wall, "ns").astype(np.int64)])
    end_of_gap = np.datetime64(first_after, "ns").astype(np.int64)
    assert localize(local, zone, "start")[0] == end_of_gap
    assert localize(local, zone, "end")[0] == end_of_gap - 1


def test_summer_far_past_the_tabulated_years_keeps_daylight_time() -> None:
    # 2150-07-01 12:00 in New York is EDT (UTC-4) by the zone's rule; a library that stops at
    # the last tabulated transition (2037) says EST and sends a window an hour late.
    local = np.array([np.datetime64("2150-07-01T12:00", "ns").astype(np.int64)])
    for side in ("start", "end"):
        assert localize(local, "America/New_York", side)[0] == np.datetime64(
            "2150-07-01T16:00", "ns"
        ).astype(np.int64)
    assert (
        timedelta(hours=-4)
        == datetime(2150, 7, 1, 12, tzinfo=ZoneInfo("America/New_York")).utcoffset()
    )

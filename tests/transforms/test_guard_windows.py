"""Guard windows: every worked example of docs/guard-times.md, and each rule on its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transforms.calling_hours import CallingHours
from transforms.guard_windows import _row_zones, normalise_guard_windows
from transforms.instants import NAT
from transforms.row_faults import RowFaults

DEFAULT = "America/New_York"

# docs/guard-times.md "Worked examples" (run default zone America/New_York), row by row.
WORKED_EXAMPLES = [
    ("2026-12-01 09:00", "2026-12-01 17:30", "", "2026-12-01T14:00Z", "2026-12-01T22:30Z"),
    (
        "2026-12-01 09:00",
        "2026-12-01 17:30",
        "America/Los_Angeles",
        "2026-12-01T17:00Z",
        "2026-12-02T01:30Z",
    ),
    (
        "2026-12-01T09:00:30-05:00",
        "2026-12-01T17:30:59-05:00",
        "",
        "2026-12-01T14:01Z",
        "2026-12-01T22:30Z",
    ),
    ("2027-03-14 02:30", "2027-03-14 12:00", "", "2027-03-14T07:00Z", "2027-03-14T16:00Z"),
    ("2027-11-07 01:30", "2027-11-07 09:00", "", "2027-11-07T06:30Z", "2027-11-07T14:00Z"),
    ("2027-03-14 01:00", "2027-03-14 02:30", "", "2027-03-14T06:00Z", "2027-03-14T06:59Z"),
    ("2026-12-01 17:00", "2026-12-01 09:00", "", None, "end before start"),
    ("2026-12-01 09:00:40", "2026-12-01 09:01:10", "", None, "empty after rounding"),
    ("1796133600000", "1796162400000", "", "2026-12-01T14:00Z", "2026-12-01T22:00Z"),
]


def windows(
    rows: list[tuple[str | None, str | None, str | None]],
    zone: str = DEFAULT,
    hours: str | None = None,
    load_time: str | None = None,
) -> tuple[list[str | None], list[str | None], RowFaults]:
    frame = pd.DataFrame(rows, columns=["guard_start", "guard_end", "timezone"], dtype="str")
    faults = RowFaults(frame.index)
    result = normalise_guard_windows(
        frame,
        zone,
        faults,
        CallingHours.parse(hours) if hours else None,
        pd.Timestamp(load_time) if load_time else None,
    )

    def text(ns: np.ndarray) -> list[str | None]:
        return [None if v == NAT else pd.Timestamp(v).strftime("%Y-%m-%dT%H:%MZ") for v in ns]

    return text(result.start), text(result.end), faults


@pytest.mark.parametrize(("start", "end", "zone", "sent_start", "sent_end"), WORKED_EXAMPLES)
def test_worked_example(
    start: str, end: str, zone: str, sent_start: str | None, sent_end: str
) -> None:
    starts, ends, faults = windows([(start, end, zone)])
    if sent_start is None:
        assert starts == [None]
        assert ends == [None]
        assert faults.invalid.tolist() == [True]
        assert "window is empty" in faults.reason[0]
    else:
        assert (starts[0], ends[0]) == (sent_start, sent_end)
        assert not faults.invalid.any()


def test_end_before_start_and_empty_after_rounding_have_different_reasons() -> None:
    _, _, faults = windows(
        [
            ("2026-12-01 17:00", "2026-12-01 09:00", ""),
            ("2026-12-01 09:00:40", "2026-12-01 09:01:10", ""),
        ]
    )
    assert "not after guard_start" in faults.reason[0]
    assert "no whole minute" in faults.reason[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T14:00Z", "2026-12-01T14:00Z"),
        ("2026-12-01T09:00:00-05:00", "2026-12-01T14:00Z"),
        ("2026-12-01T19:30+0530", "2026-12-01T14:00Z"),
        ("2026-12-01 09:00:00", "2026-12-01T14:00Z"),
        ("2026-12-01T09:00", "2026-12-01T14:00Z"),
        ("12/01/2026 9:00 AM", "2026-12-01T14:00Z"),
        ("12/1/2026 21:00", "2026-12-02T02:00Z"),
        ("12/1/2026 12:00 AM", "2026-12-01T05:00Z"),
        ("12/1/2026 12:00 PM", "2026-12-01T17:00Z"),
        ("1796133600", "2026-12-01T14:00Z"),
        ("1796133600000", "2026-12-01T14:00Z"),
        ("179613360000", "1975-09-10T20:36Z"),
        ("  2026-12-01 09:00  ", "2026-12-01T14:00Z"),
        ("2026-12-01T09:00:00.250-05:00", "2026-12-01T14:01Z"),
    ],
)
def test_every_accepted_form_reads_as_a_start(value: str, expected: str) -> None:
    starts, _, faults = windows([(value, "2030-01-01T00:00Z", "")])
    assert starts == [expected], faults.reason[0]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("tomorrow", "accepted form"),
        ("25:00", "accepted form"),
        ("2026-02-30 09:00", "not a date that exists"),
        ("2026-12-01 25:00", "out of range"),
        ("13/01/2026 09:00", "not a date that exists"),
        ("12/01/2026 13:00 PM", "out of range"),
        ("05.01.2027 09:00", "accepted form"),
        ("2027-01-05 09:00 EST", "accepted form"),
        ("2026-12-01", "accepted form"),
        ("17961336000", "neither epoch seconds"),
        ("12345", "neither epoch seconds"),
        ("2026-12-01T09:00+15:00", "offset out of range"),
        ("1899-12-01 09:00", "year outside"),
        ("9999999999", "year outside"),  # epoch seconds past 2200 (and past int64 in ns)
        ("9999999999999", "year outside"),
        ("", "is blank"),
        (None, "is blank"),
    ],
)
def test_anything_else_rejects_the_row_naming_column_and_value(
    value: str | None, words: str
) -> None:
    starts, _, faults = windows([(value, "2030-01-01T00:00Z", "")])
    assert starts == [None]
    reason = faults.reason[0]
    assert reason.startswith("guard_start")
    assert words in reason
    if value:
        assert repr(value.strip()) in reason


def test_row_with_several_faults_names_each_once() -> None:
    _, _, faults = windows([("tomorrow", "25:00", "Mars/Base")])
    reason = faults.reason[0]
    assert faults.invalid.tolist() == [True]
    assert "timezone 'Mars/Base'" in reason
    assert "guard_start 'tomorrow'" in reason
    assert "guard_end '25:00'" in reason
    assert reason.count(";") == 2


@pytest.mark.parametrize("zone", ["Mars/Base", "EST", "CST6CDT", "america/new_york", "Etc/GMT+5"])
def test_unknown_zone_invalidates_even_values_with_offsets(zone: str) -> None:
    starts, _, faults = windows([("2026-12-01T09:00-05:00", "2026-12-01T17:00-05:00", zone)])
    assert starts == [None]
    assert f"timezone {zone!r}" in faults.reason[0]


def test_row_zone_wins_over_default_and_blank_zone_uses_default() -> None:
    starts, _, _ = windows(
        [
            ("2026-07-01 09:00", "2026-07-01 17:00", "Europe/London"),
            ("2026-07-01 09:00", "2026-07-01 17:00", "  "),
        ],
        zone="Asia/Tokyo",
    )
    assert starts == ["2026-07-01T08:00Z", "2026-07-01T00:00Z"]


def test_each_zone_is_judged_once_and_rows_take_it_whatever_their_spacing() -> None:
    # Spellings of one zone share its code; blank and missing take the default; a bad zone
    # faults its own rows only, and leaves them without a zone.
    given = [" America/Chicago", "America/Chicago\t", None, "", "EST", "America/Chicago", "EST"]
    frame = pd.DataFrame({"timezone": pd.Series(given, dtype="str")})
    faults = RowFaults(frame.index)
    zones, coded = _row_zones(frame, "Asia/Tokyo", faults)
    names = ["America/Chicago", "America/Chicago", "Asia/Tokyo", "Asia/Tokyo", None]
    assert zones.tolist()[:4] == names[:4]
    assert zones.isna().tolist() == [False, False, False, False, True, False, True]
    assert [coded.names[c] if c >= 0 else None for c in coded.codes] == [*names, names[0], None]
    assert sorted(coded.names) == ["America/Chicago", "Asia/Tokyo"]
    assert faults.invalid.tolist() == [False, False, False, False, True, False, True]
    assert "timezone 'EST' is not an IANA region name" in faults.reason[4]


def test_ambiguous_time_that_is_not_daylight_saving_still_narrows() -> None:
    # Moscow moved from UTC+4 to UTC+3 on 2014-10-26 at 02:00: 01:30 happened twice, both
    # times outside daylight-saving time.
    starts, _, _ = windows([("2014-10-26 01:30", "2014-10-26 05:00", "Europe/Moscow")])
    assert starts[0] == "2014-10-25T22:30Z"  # the later instant (UTC+3)
    _, ends, _ = windows([("2014-10-25 20:00", "2014-10-26 01:30", "Europe/Moscow")])
    assert ends[0] == "2014-10-25T21:30Z"  # the earlier instant (UTC+4)


# Gaps that are not an hour long, each worked out by hand from the tz database. A start in
# the gap moves to its first minute after, an end to its last minute before.
ODD_GAPS = [
    # Lord Howe springs forward 30 minutes: 02:00 +10:30 -> 02:30 +11:00 (15:30Z).
    ("Australia/Lord_Howe", "2027-10-03 02:15", "2027-10-02T15:30Z", "2027-10-02T15:29Z"),
    # Goose Bay, 2009: 00:01 -04:00 -> 01:01 -03:00 (04:01Z), one minute past midnight.
    ("America/Goose_Bay", "2009-03-08 00:30", "2009-03-08T04:01Z", "2009-03-08T04:00Z"),
    # Samoa skipped 30 December 2011: 23:59:59 -10:00 on the 29th -> 00:00 +14:00 on the 31st.
    ("Pacific/Apia", "2011-12-30 12:00", "2011-12-30T10:00Z", "2011-12-30T09:59Z"),
    # St. John's: 02:00 -03:30 -> 03:00 -02:30 (05:30Z).
    ("America/St_Johns", "2027-03-14 02:30", "2027-03-14T05:30Z", "2027-03-14T05:29Z"),
]


@pytest.mark.parametrize(("zone", "wall", "first_after", "last_before"), ODD_GAPS)
def test_gap_of_any_length_moves_start_to_its_end_and_end_to_its_start(
    zone: str, wall: str, first_after: str, last_before: str
) -> None:
    starts, _, _ = windows([(wall, "2030-01-01 00:00", zone)])
    _, ends, _ = windows([("2000-01-01 00:00", wall, zone)])
    assert (starts[0], ends[0]) == (first_after, last_before)


def test_calling_hours_opening_in_a_short_gap_opens_when_the_gap_ends() -> None:
    # Lord Howe, 3 October 2027: 02:00-02:30 does not exist; hours open at 02:00.
    starts, _, faults = windows(
        [("2027-10-03 00:00", "2027-10-03 12:00", "Australia/Lord_Howe")], hours="02:00-21:00"
    )
    assert not faults.invalid.any()
    assert starts == ["2027-10-02T15:30Z"]


def test_calling_hours_move_start_to_opening_and_end_to_close() -> None:
    starts, ends, faults = windows(
        [
            ("2026-12-01 06:00", "2026-12-01 23:00", ""),
            ("2026-12-01 22:00", "2026-12-03 12:00", ""),
            ("2026-12-01 10:00", "2026-12-01 12:00", "America/Chicago"),
        ],
        hours="08:00-21:00",
    )
    assert not faults.invalid.any()
    assert (starts[0], ends[0]) == ("2026-12-01T13:00Z", "2026-12-02T02:00Z")
    # Starts after closing: the next day's opening, and only that first day is kept.
    assert (starts[1], ends[1]) == ("2026-12-02T13:00Z", "2026-12-03T02:00Z")
    assert (starts[2], ends[2]) == ("2026-12-01T16:00Z", "2026-12-01T18:00Z")


# A window of several days that began before the load, with hours 08:00-21:00 in New York.
LONG_WINDOW = ("2026-11-25 09:00", "2026-11-30 17:00", "")


@pytest.mark.parametrize(
    ("load_time", "sent_start", "sent_end"),
    [
        # 26 Nov 19:00 EST, inside the hours: that day's stretch (start at its opening).
        ("2026-11-27T00:00Z", "2026-11-26T13:00Z", "2026-11-27T02:00Z"),
        # 26 Nov 22:00 EST, after the close: the next day's stretch.
        ("2026-11-27T03:00Z", "2026-11-27T13:00Z", "2026-11-28T02:00Z"),
        # Before the window began: its first stretch, as without a load time.
        ("2026-11-20T00:00Z", "2026-11-25T14:00Z", "2026-11-26T02:00Z"),
    ],
)
def test_calling_hours_keep_the_stretch_still_open_at_the_load_time(
    load_time: str, sent_start: str, sent_end: str
) -> None:
    starts, ends, faults = windows([LONG_WINDOW], hours="08:00-21:00", load_time=load_time)
    assert not faults.invalid.any()
    assert (starts[0], ends[0]) == (sent_start, sent_end)


def test_a_window_whose_permitted_stretches_have_all_passed_keeps_its_first_one() -> None:
    # 26 Nov 21:30 EST: the window ends at 22:00, outside the hours. It had permitted minutes
    # (they passed): its first stretch comes back, to be judged expired, not invalid.
    starts, ends, faults = windows(
        [("2026-11-25 09:00", "2026-11-26 22:00", "")],
        hours="08:00-21:00",
        load_time="2026-11-27T02:30Z",
    )
    assert not faults.invalid.any()
    assert (starts[0], ends[0]) == ("2026-11-25T14:00Z", "2026-11-26T02:00Z")


def test_window_with_no_permitted_minute_is_outside_calling_hours() -> None:
    starts, _, faults = windows([("2026-12-01 21:30", "2026-12-01 23:00", "")], hours="08:00-21:00")
    assert starts == [None]
    assert "outside calling hours 08:00-21:00" in faults.reason[0]


@pytest.mark.parametrize("text", ["8-21", "21:00-08:00", "08:00-25:00", "08:61-09:00"])
def test_bad_calling_hours_setting_is_refused(text: str) -> None:
    from schemas.errors import SettingError

    with pytest.raises(SettingError) as refused:
        CallingHours.parse(text)
    assert refused.value.setting == "calling_hours"
    assert refused.value.worded({"calling_hours": "--calling-hours"}).startswith(
        f"--calling-hours {text!r} "
    )

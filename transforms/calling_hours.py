"""Optional calling-hours policy: narrow each window to its first stretch inside the hours.

docs/guard-times.md, calling hours: the start moves up to the next opening when it falls outside the
hours, the end moves down to the close of that same stretch, in the row's own time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.errors import SettingError
from transforms.instants import NAT, NS_PER_DAY, NS_PER_MINUTE, Int64Array
from transforms.zones import RowZones, localize_by_zone, wall_time_by_zone

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


SETTING = "calling_hours"


@dataclass(frozen=True)
class CallingHours:
    """Daily hours in which calls are allowed, as minutes after local midnight."""

    opens: int
    closes: int

    @classmethod
    def parse(cls, text: str) -> CallingHours:
        """Read `HH:MM-HH:MM` (opening before closing, same day)."""
        match = _HOURS.match(text)
        if not match:
            raise SettingError(
                f"{text!r} is not of the form HH:MM-HH:MM, e.g. 08:00-21:00", setting=SETTING
            )
        oh, om, ch, cm = (int(part) for part in match.groups())
        if oh > 23 or ch > 24 or om > 59 or cm > 59 or (ch == 24 and cm != 0):
            raise SettingError(f"{text!r} has a time that does not exist", setting=SETTING)
        opens, closes = oh * 60 + om, ch * 60 + cm
        if opens >= closes:
            raise SettingError(
                f"{text!r} must open before it closes on the same day", setting=SETTING
            )
        return cls(opens, closes)

    def __str__(self) -> str:
        return (
            f"{self.opens // 60:02d}:{self.opens % 60:02d}-"
            f"{self.closes // 60:02d}:{self.closes % 60:02d}"
        )


def clip_to_calling_hours(
    start: Int64Array,
    end: Int64Array,
    zones: pd.Series | RowZones,
    hours: CallingHours,
    after: Int64Array | None = None,
) -> tuple[Int64Array, Int64Array]:
    """Windows narrowed to their first stretch inside `hours`; may come back empty. Where
    `after` holds an instant (not NaT), the stretch is the first one still open at it."""
    zones = RowZones.of(zones)
    anchor = start if after is None else np.where(after != NAT, np.maximum(start, after), start)
    wall = wall_time_by_zone(anchor, zones)
    known = wall != NAT
    day = np.where(known, wall // NS_PER_DAY, 0)
    time_of_day = np.where(known, wall - day * NS_PER_DAY, 0)
    opens = hours.opens * NS_PER_MINUTE
    closes = hours.closes * NS_PER_MINUTE

    stretch_day = np.where(time_of_day >= closes, day + 1, day)
    opening = np.where(known, stretch_day * NS_PER_DAY + opens, NAT)
    opening_utc = localize_by_zone(opening, zones, known, "start")
    closing = np.where(known, stretch_day * NS_PER_DAY + closes, NAT)
    closing_utc = localize_by_zone(closing, zones, known, "end")

    # The start moves up to the stretch's opening (it stays where it is inside the stretch).
    new_start = np.where(known, np.maximum(start, opening_utc), start)
    new_end = np.where(known, np.minimum(end, closing_utc), end)
    return new_start, new_end

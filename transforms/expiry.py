"""Expiry: a window whose end is not later than the moment of the load is not sent.

docs/guard-times.md, expiry: such a row was valid data, only too late, so it is counted apart
from invalid rows. A window that began before the load and ends after it is sent unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from transforms.row_faults import BoolArray


def expired_rows(contacts: pd.DataFrame, now: pd.Timestamp) -> BoolArray:
    """True where the guard window has closed by `now` (an aware timestamp)."""
    return np.asarray((contacts["guard_end"] <= now).to_numpy(), dtype=bool)


def expiry_reason(contacts: pd.DataFrame, now: pd.Timestamp) -> pd.Series:
    """Why each row is expired, naming the window's end and the load time in UTC."""
    ends = contacts["guard_end"].dt.strftime("%Y-%m-%dT%H:%MZ")
    at = now.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    reason: pd.Series = (
        "guard_end " + ends + f" is not later than the load at {at}: the window has closed"
    )
    return reason


def late_reason(ends: pd.Series, at: pd.Timestamp) -> pd.Series:
    """Why rows whose window closed after staging are not sent, naming each end and when."""
    text = ends.dt.strftime("%Y-%m-%dT%H:%MZ")
    moment = at.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    reason: pd.Series = "guard_end " + text + f" had passed by {moment}, before the row was sent"
    return reason


def load_clock(moment: pd.Timestamp) -> Callable[[], pd.Timestamp]:
    """A load's clock for expiry as rows leave: its load moment plus the time since, and never
    behind the real clock (a window that has in fact closed is never sent, whatever --as-of
    said)."""
    began = time.monotonic()

    def now() -> pd.Timestamp:
        elapsed = pd.Timedelta(seconds=time.monotonic() - began)
        return max(pd.Timestamp.now(tz="UTC"), moment.tz_convert("UTC") + elapsed)

    return now

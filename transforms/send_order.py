"""The clock against a load: when each row's chunk leaves, and which windows close first.

A load sends chunks of `chunk_size` rows, one every `interval_seconds` (the rate limit's even
spacing), the first at the load's start. A row whose window has closed by the time its chunk
leaves is held back as expired. So a long load loses the windows that close before their
turn, and the order rows are sent in decides how many: file order as read, or deadline order
(the soonest window end first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

SendOrder = Literal["file", "deadline"]
SEND_ORDERS: tuple[SendOrder, ...] = ("file", "deadline")
_NS = 1_000_000_000


@dataclass(frozen=True)
class LoadPace:
    """How fast a load sends: rows per request and seconds between two requests."""

    chunk_size: int
    interval_seconds: float

    def requests(self, rows: int) -> int:
        """Upload requests for `rows` rows."""
        return math.ceil(rows / self.chunk_size) if rows > 0 else 0

    def seconds(self, rows: int) -> float:
        """Seconds from the first upload to the last, for `rows` rows."""
        return max(self.requests(rows) - 1, 0) * self.interval_seconds

    def departures(self, rows: int, start_ns: int) -> npt.NDArray[np.int64]:
        """When each of `rows` rows (in send order) leaves, as UTC nanoseconds."""
        chunk = np.arange(rows, dtype=np.int64) // self.chunk_size
        return start_ns + np.round(chunk * self.interval_seconds * _NS).astype(np.int64)


def deadline_order(ends_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Positions in deadline order: the soonest window end first, file order among equals."""
    return np.argsort(ends_ns, kind="stable")


def closing_before_turn(
    ends_ns: npt.NDArray[np.int64], start_ns: int, pace: LoadPace
) -> npt.NDArray[np.bool_]:
    """True for rows (in send order) whose window has closed by the time their chunk leaves."""
    return np.asarray(ends_ns <= pace.departures(len(ends_ns), start_ns), dtype=bool)


def windows_lost(
    ends_ns: npt.NDArray[np.int64], start_ns: int, pace: LoadPace, order: SendOrder
) -> int:
    """How many windows would close before their row's turn, sending `ends_ns` (the window
    ends, UTC ns, in file order: the order a streaming load reads them) in `order`."""
    ends = np.asarray(ends_ns, dtype=np.int64)
    if order == "deadline":
        ends = ends[deadline_order(ends)]
    return int(closing_before_turn(ends, start_ns, pace).sum())

"""Sliding-window log of upload requests per credential (docs/five9-contract.md, limits).

Five9 documents 40 upload requests a minute per credential [confirmed] and answers 429 past
it. The sandbox is stricter than a leaky bucket that starts full: it keeps the arrival time of
every counted upload and admits a new one only while fewer than ``max_requests`` counted
uploads lie in the last ``window_seconds`` (a time ``t`` is inside the window at ``now`` when
``now - window_seconds < t``). A refused request is not counted. ``Retry-After`` is the whole
number of seconds until the oldest counted upload leaves the window, at least 1.

Not thread-safe on its own: the sandbox calls it under its lock.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort


class SlidingWindowLog:
    def __init__(self, max_requests: int, window_seconds: float) -> None:
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("max_requests must be >= 1 and window_seconds > 0")
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self._times: dict[str, list[float]] = {}

    def try_admit(self, key: str, now: float) -> int | None:
        """Count the request and return None, or return Retry-After seconds (not counted)."""
        times = self._times.setdefault(key, [])
        first_inside = bisect_right(times, now - self.window_seconds)
        if len(times) - first_inside < self.max_requests:
            times.append(now)
            return None
        oldest = times[first_inside]
        return max(1, math.ceil(oldest + self.window_seconds - now))

    def add(self, key: str, at: float, count: int = 1) -> None:
        """Count `count` requests made at `at` without a check (calls spent elsewhere)."""
        times = self._times.setdefault(key, [])
        for _ in range(count):
            insort(times, at)

    def count(self, key: str, now: float) -> int:
        """Counted requests of `key` inside the window ending at `now`."""
        times = self._times.get(key, [])
        return len(times) - bisect_right(times, now - self.window_seconds)

    def would_admit(self, key: str, now: float) -> bool:
        """True when ``try_admit`` would count the request now (nothing is counted here)."""
        return self.count(key, now) < self.max_requests

    def times(self, key: str | None = None) -> list[float]:
        """Counted arrival times, in arrival order (all credentials merged when key is None)."""
        if key is not None:
            return list(self._times.get(key, []))
        return sorted(t for times in self._times.values() for t in times)

    def max_in_any_window(self, key: str | None = None) -> int:
        """The most counted uploads inside any window ``[t, t + window_seconds)``."""
        times = self.times(key)
        return max(
            (bisect_left(times, t + self.window_seconds) - i for i, t in enumerate(times)),
            default=0,
        )

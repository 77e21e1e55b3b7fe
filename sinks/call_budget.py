"""Five9's limits on a SOAP user's calls, counted: import calls a minute, an hour and a day
(20, 1,000 and 2,000), and Query calls a minute (450).

The pacer spaces this run's import calls so its own never crowd a window; a budget counts what
the pacer cannot see: the calls of other runs (the run ledger's, re-read at each check, so a
run beside this one counts as it calls) and the calls Five9's `getCallCountersState` says were
spent by anyone (other machines included). A window that is full waits for room when it is
shorter than a day; a full day's window is not waited for: the rest of the run's rows fail at
once, naming the time calls are possible again, and wait as dead letters for
`contacts-etl retry`. A call Five9 refused for a limit (or as concurrent) is not counted.

Five9 counts in calendar periods at its data centre, this budget in sliding ones: a call
another machine made (known only as a count) is taken to have been made when the count was
read, so it leaves the sliding window no sooner than Five9's period can end. Stricter, so safe.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetWindow:
    """At most `calls` calls in any `seconds`; `name` is how a person says it ("a day")."""

    name: str
    calls: int
    seconds: float
    waits: bool = True
    """False for the day: once spent, the run fails the rest instead of waiting hours."""


@dataclass(frozen=True)
class Spent:
    """A window without room, and the wall-clock time a call may leave again."""

    window: BudgetWindow
    until: float


class CallBudget:
    """Calls left in sliding windows, counted from the times of calls made: this run's, those
    `recorded(seconds)` gives, and the calls counted by Five9 that neither knows of."""

    def __init__(
        self,
        windows: Iterable[BudgetWindow],
        recorded: Callable[[float], Iterable[float]] = lambda _: (),
        clock: Callable[[], float] = time.time,
        guard: float = 0.0,
    ) -> None:
        """`guard`: seconds each window is taken to last beyond its length, so a call that
        reaches Five9 sooner after an earlier one than it left here is still inside."""
        self.windows = list(windows)
        self._clock = clock
        self._guard = guard
        self._recorded = recorded
        self._times: deque[float] = deque()
        self._others: dict[float, tuple[int, float]] = {}
        """Per window length: calls Five9 counted that no log here knows, and when read."""

    def record(self, at: float) -> None:
        """A call left at wall-clock time `at`."""
        self._times.append(at)
        longest = max(w.seconds for w in self.windows) + self._guard
        while self._times and self._times[0] <= at - longest:
            self._times.popleft()

    def observe(self, seconds: float, limit: int, used: int) -> bool:
        """Five9 says `used` of `limit` calls in its current period of `seconds` are spent:
        those the logs here do not hold are someone else's. False when no window of that
        length is kept (the count is then not used)."""
        now = self._clock()
        for position, window in enumerate(self.windows):
            if window.seconds == seconds:
                if 0 < limit < window.calls:  # Five9 knows the user's real limit
                    self.windows[position] = BudgetWindow(window.name, limit, seconds, window.waits)
                since = now - seconds
                known = sum(t > since for t in self._calls_in(seconds, now))
                self._others[seconds] = (max(used - known, 0), now)
                return True
        return False

    def spent(self) -> Spent | None:
        """None while a call may leave now; else the first full window (one that does not
        wait first) and when it has room again."""
        now = self._clock()
        for window in sorted(self.windows, key=lambda w: w.waits):
            span = window.seconds + self._guard
            calls = self._calls_in(window.seconds, now)
            others, read_at = self._others.get(window.seconds, (0, now))
            if read_at > now - span:
                calls = sorted([*calls, *[read_at] * others])
            if len(calls) >= window.calls:
                return Spent(window, calls[-window.calls] + span)
        return None

    def left(self, window: BudgetWindow) -> int:
        """Calls that may still be made in `window` now."""
        now = self._clock()
        calls = len(self._calls_in(window.seconds, now))
        others, read_at = self._others.get(window.seconds, (0, now))
        if read_at > now - window.seconds - self._guard:
            calls += others
        return max(window.calls - calls, 0)

    def _calls_in(self, seconds: float, now: float) -> list[float]:
        since = now - seconds - self._guard
        # A call this run made is in both logs (the same time): count it once.
        known = {*self._times, *self._recorded(seconds)}
        return sorted(t for t in known if t > since)


def spent_reason(spent: Spent) -> str:
    """Why rows were not sent: a window's calls are used up, and when calls are possible again."""
    when = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(spent.until + 59))
    window = spent.window
    return (
        f"not sent: Five9's budget of {window.calls:,} SOAP import calls {window.name} for this "
        f"user is spent until {when}; run `contacts-etl retry` after that"
    )

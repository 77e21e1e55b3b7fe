"""Five9's daily budget of SOAP import calls: 2,000 `asyncAddRecordsToList` calls a day per
user (shared/five9-api.md section 1).

The minute and hour limits are kept by pacing; a day's budget is spent by the size of the
loads (2,000 calls of 100 records is 200,000 contacts), and waiting for it could take hours.
So it is counted, not paced: the user's calls of the last day (the run ledger remembers them
across runs on this machine, a run under way beside this one included) plus this run's. Once
the budget is spent, the sink sends nothing more; the rest of the run's rows fail at once,
naming the time calls are possible again, and wait as dead letters for `contacts-etl retry`.
A call Five9 refused for a limit (or as concurrent) is not counted [assumed, as the sandbox].
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable


class DayBudget:
    """Calls left in a sliding day, counted from the times of the calls made: this run's, and
    those `recorded` gives (the ledger's, re-read at each check, so the calls of another run on
    the same user count as they are made)."""

    def __init__(
        self,
        calls: int,
        seconds: float,
        recorded: Callable[[float], Iterable[float]] = lambda _: (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.calls = calls
        self.seconds = seconds
        self._clock = clock
        self._recorded = recorded
        self._times: deque[float] = deque()

    def spent_until(self) -> float | None:
        """None while a call may still be made; else the wall-clock time one may again."""
        since = self._clock() - self.seconds
        while self._times and self._times[0] <= since:
            self._times.popleft()
        # A call this run made is in both (the same time): count it once.
        times = sorted({*self._times, *(t for t in self._recorded(self.seconds) if t > since)})
        if len(times) < self.calls:
            return None
        return times[-self.calls] + self.seconds

    def record(self, at: float) -> None:
        """A call left at wall-clock time `at`."""
        self._times.append(at)


def spent_reason(budget: DayBudget, until: float) -> str:
    """Why rows were not sent: the day's calls are used up, and when calls are possible again."""
    when = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(until + 59))
    return (
        f"not sent: Five9's budget of {budget.calls:,} SOAP import calls a day for this user "
        f"is spent until {when}; run `contacts-etl retry` after that"
    )

"""When to try again, and for how long: one policy for every piece of work that meets Five9
(a chunk's upload, waiting for a SOAP import's result, getting a token).

Each outcome worth another try is of a kind, and the kind says whether the try counts against
`max_attempts` and what to wait before the next:

| kind      | what                                              | counts | wait             |
|-----------|---------------------------------------------------|--------|------------------|
| TRANSIENT | 5xx, a server fault, a timeout, a dropped         | yes    | jittered backoff |
|           | connection, a SOAP import that took nothing       |        |                  |
| THROTTLED | 429 or OperationsLimitExceeded, no time given     | yes    | jittered backoff |
| TOLD_WHEN | 429 with a `Retry-After`                          | no     | that Retry-After |
| BUSY      | ConcurrentModification: another call of the user  | no     | jittered backoff |
| PENDING   | a SOAP import still running, its result not ready | no     | none when Five9  |
|           |                                                   |        | held the poll    |

Every kind counts toward `max_total_seconds`, the time allowed one piece of work, so no
wait is without end. Other answers are not retried: a 400 is split down to the row Five9
refuses, other 4xx fail the rows, and a refusal of the credentials or the list stops the run.
`base_seconds=0` makes every backoff instant (for tests).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class Kind(Enum):
    """Why another try is worth it (the table above)."""

    TRANSIENT = "transient"
    THROTTLED = "throttled"
    TOLD_WHEN = "told when"
    BUSY = "busy"
    PENDING = "pending"


@dataclass(frozen=True)
class Rule:
    """What one kind of outcome costs."""

    counts: bool
    waits_backoff: bool


RULES = {
    Kind.TRANSIENT: Rule(counts=True, waits_backoff=True),
    Kind.THROTTLED: Rule(counts=True, waits_backoff=True),
    Kind.TOLD_WHEN: Rule(counts=False, waits_backoff=False),
    Kind.BUSY: Rule(counts=False, waits_backoff=True),
    Kind.PENDING: Rule(counts=False, waits_backoff=True),
}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and backoff shape; `base_seconds=0` makes retries instant (for tests)."""

    max_attempts: int = 8
    max_total_seconds: float = 600.0
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential backoff after the `attempt`-th failure (1-based)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (max(attempt, 1) - 1))
        return (rng or random).uniform(0, ceiling)

    def gives_up(self, attempts: int, elapsed: float) -> bool:
        """True once the attempts or the time allowed for one piece of work are used up."""
        return attempts >= self.max_attempts or elapsed >= self.max_total_seconds


class Attempts:
    """One piece of work's tries under a policy: `again` says what to wait before the next
    try, or that it is time to give up."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.counted = 0
        """Tries that count against `max_attempts`."""
        self._clock = clock
        self._began = clock()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._began

    def again(self, kind: Kind, told: float | None = None, held: bool = False) -> float | None:
        """After an outcome of `kind` (`told`: Five9's Retry-After; `held`: Five9 held the
        call for a while already), the seconds to wait before trying again; None to give up."""
        rule = RULES[kind]
        self.counted += rule.counts
        if self.policy.gives_up(self.counted, self.elapsed):
            return None
        if told is not None and kind is Kind.TOLD_WHEN:
            return told
        if held or not rule.waits_backoff:
            return 0.0
        return self.policy.backoff(self.counted or 1)


def retry_after_seconds(header: str | None) -> float | None:
    """Seconds from a Retry-After header; None when absent, zero, negative or unreadable
    (then the caller uses its own jittered backoff). HTTP dates are not sent by Five9."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds <= 0 or seconds > 3600:  # NaN, zero, absurd
        return None
    return seconds

"""When and how long to wait before sending a chunk again.

Retried: 429 (after `Retry-After`, or a jittered backoff when it is 0, missing or unreadable),
500/502/503/504, timeouts and dropped connections (jittered exponential backoff). Bounded in
attempts and in total time; a 429 whose `Retry-After` was honoured counts toward the time
only (Five9 said when to come back, so the attempt was not spent). Other 4xx are not
retried: sending the same body again cannot help.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and backoff shape; `base_seconds=0` makes retries instant (for tests)."""

    max_attempts: int = 8
    max_total_seconds: float = 600.0
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential backoff after the `attempt`-th failure (1-based)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        return (rng or random).uniform(0, ceiling)

    def gives_up(self, attempts: int, elapsed: float) -> bool:
        """True once the attempts or the time allowed for one chunk are used up."""
        return attempts >= self.max_attempts or elapsed >= self.max_total_seconds


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

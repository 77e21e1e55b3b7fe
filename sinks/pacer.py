"""A burst-free pacer: upload requests leave evenly spaced, so no sliding window holds more
than the limit.

A token bucket that starts full lets twice the limit into the first minute, and Five9 (and the
sandbox) count a sliding 60-second window (docs/five9-contract.md, limits). Spacing every request
`window / limit * (1 + margin)` apart keeps any window of that length to at most `limit`
requests, with room for network jitter. A 429's `Retry-After` pushes the next slot back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Hands out send slots at most one per `interval` seconds, in the order asked."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        not_before: float | None = None,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._next = clock() if not_before is None else not_before
        self._lock = asyncio.Lock()
        self.sent: list[float] = []

    async def slot(self) -> float:
        """Wait for the next free slot; return the moment it was taken."""
        async with self._lock:
            while True:
                wait = self._next - self._clock()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            now = self._clock()
            self._next = now + self.interval
            self.sent.append(now)
            return now

    def hold(self, seconds: float) -> None:
        """No slot before `seconds` from now (Five9 said Retry-After)."""
        self._next = max(self._next, self._clock() + seconds)

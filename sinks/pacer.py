"""Burst-free pacers: upload requests leave evenly spaced, so no sliding window holds more
than the limit. `Pacer` spaces one run's requests; `SharedPacer` spaces every run's requests on
a credential through the state store.

A token bucket that starts full lets twice the limit into the first minute, and Five9 (and the
sandbox) count a sliding 60-second window (docs/five9-contract.md, limits). Spacing every request
`window / limit * (1 + margin)` apart keeps any window of that length to at most `limit`
requests, with room for network jitter. A 429's `Retry-After` pushes the next slot back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Pacing(Protocol):
    """What the sink asks of a pacer."""

    interval: float
    sent: list[float]
    """The moments (time.monotonic) each slot was taken."""

    async def slot(self) -> float: ...

    def hold(self, seconds: float) -> None: ...


class Pacer:
    """Hands out send slots at most one per `interval` seconds, in the order asked."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._next = clock()
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


class SharedPacer:
    """Send slots reserved in a shared state store, so every run on the credential, on any
    machine that shares the store, takes its slot from one sequence: evenly spaced on the
    store's clock, `interval` apart, burst-free (a generic cell rate algorithm: one atomic
    statement moves the credential's next free slot to `max(now, next) + interval`)."""

    def __init__(
        self,
        interval: float,
        reserve: Callable[[float], float],
        hold: Callable[[float], None],
    ) -> None:
        """`reserve(interval)` takes the next slot and gives the seconds to wait for it;
        `hold(seconds)` puts the next slot no sooner than that from now."""
        self.interval = interval
        self._reserve = reserve
        self._hold = hold
        self._lock = asyncio.Lock()
        self.sent: list[float] = []

    async def slot(self) -> float:
        """Reserve the next free slot and wait for it; return the moment it was taken."""
        async with self._lock:
            wait = self._reserve(self.interval)
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            self.sent.append(now)
            return now

    def hold(self, seconds: float) -> None:
        """No slot, for any run on the credential, before `seconds` from now."""
        self._hold(seconds)

"""The SOAP side of the sandbox's domain: the admin user, "one call at a time per user", the
three sliding windows of ``asyncAddRecordsToList``, the Query class's window, the counters
``getCallCountersState`` reports, and the asynchronous import jobs (docs/five9-contract.md).

Five9 counts import calls (class AsynchronousUpload) against 20 a minute, 1,000 an hour and
2,000 a day per user, and the Query class (``isImportRunning``, ``getListImportResult``,
``getListsInfo``, ``getCallCountersState``) against 450 a minute [confirmed], in calendar
periods; the sandbox counts sliding windows, which is stricter. Decided here [assumed]: a call
refused with ``OperationsLimitExceededFault``, ``ListNotFoundFault`` or
``ImportSizeLimitExceededFault`` is not counted. A second call by a user
while one of theirs is in progress, or an import into a list whose last import still runs,
is refused with ``ConcurrentModificationFault``. The call time of each row is kept as the
record's ``guard_start`` (``YYYY-MM-DDTHH:MM:SSZ``, UTC) and ``guard_end`` is empty: this path
has no end of window.

Thread-safe: one lock, since uvicorn serves from its own thread.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from five9_sandbox.importer import ImportResult
from five9_sandbox.rate_window import SlidingWindowLog
from five9_sandbox.settings import SandboxSettings


@dataclass
class ImportJob:
    """One asynchronous import: running until ``result`` is set."""

    identifier: str
    list_name: str
    user: str
    rows: int
    keys: tuple[str, ...] = ()
    """The key fields of the call's mapping (the result's ``keyFields``)."""
    result: ImportResult | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    failure: str | None = None

    @property
    def running(self) -> bool:
        return self.result is None and self.failure is None


class SoapDesk:
    """Users' calls in progress, the import-call windows, and the import jobs."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._minute = SlidingWindowLog(
            settings.soap_calls_per_minute, settings.soap_minute_seconds
        )
        self._hour = SlidingWindowLog(settings.soap_calls_per_hour, settings.soap_hour_seconds)
        self._day = SlidingWindowLog(settings.soap_calls_per_day, settings.soap_day_seconds)
        self._queries = SlidingWindowLog(
            settings.soap_queries_per_minute, settings.soap_minute_seconds
        )
        self._jobs: dict[str, ImportJob] = {}
        self._calls: dict[str, int] = {}

    def verify(self, username: str, password: str) -> bool:
        """True for the domain's admin user and password."""
        settings = self.settings
        user_ok = secrets.compare_digest(username.encode(), settings.username.encode())
        password_ok = secrets.compare_digest(password.encode(), settings.password.encode())
        return user_ok and password_ok

    def enter(self, user: str, operation: str) -> bool:
        """Start a call of `user`; False when one of theirs is still in progress."""
        with self._lock:
            self._calls[operation] = self._calls.get(operation, 0) + 1
            if user in self._busy:
                return False
            self._busy.add(user)
            return True

    def serving(self, user: str) -> bool:
        """Whether a call of `user` is being served now."""
        with self._lock:
            return user in self._busy

    def leave(self, user: str) -> None:
        with self._lock:
            self._busy.discard(user)

    def admit(self, user: str, now: float) -> str | None:
        """Count an import call when every window has room and return None; otherwise (not
        counted) the name of a full window: "minute", "hour" or "day"."""
        with self._lock:
            windows = self._windows()
            for name, log in windows.items():
                if not log.would_admit(user, now):
                    return name
            for log in windows.values():
                log.try_admit(user, now)
            return None

    def _windows(self) -> dict[str, SlidingWindowLog]:
        return {"minute": self._minute, "hour": self._hour, "day": self._day}

    def admit_query(self, user: str, now: float) -> bool:
        """Count a Query-class call and return True, or False (not counted) past its limit."""
        with self._lock:
            return self._queries.try_admit(user, now) is None

    def spend(self, user: str, calls: int, at: float) -> None:
        """Count `calls` import calls of `user` made at monotonic time `at` (by other work:
        another machine, an earlier job), in every window that holds that time."""
        with self._lock:
            for log in self._windows().values():
                log.add(user, at, calls)

    def counters(self, user: str, now: float) -> list[tuple[int, list[tuple[str, int, int]]]]:
        """What ``getCallCountersState`` answers: per period (whole seconds), each operation
        class's (name, limit, calls counted in the period ending now)."""
        with self._lock:
            periods: dict[int, list[tuple[str, int, int]]] = {}
            for operation, log in (
                ("AsynchronousUpload", self._minute),
                ("Query", self._queries),
                ("AsynchronousUpload", self._hour),
                ("AsynchronousUpload", self._day),
            ):
                periods.setdefault(round(log.window_seconds), []).append(
                    (operation, log.max_requests, log.count(user, now))
                )
            return list(periods.items())

    def start(
        self, list_name: str, user: str, rows: int, keys: tuple[str, ...]
    ) -> ImportJob | None:
        """A new running import, or None while the list's last import still runs."""
        with self._lock:
            if any(j.running and j.list_name == list_name for j in self._jobs.values()):
                return None
            job = ImportJob(str(uuid.uuid4()), list_name, user, rows, keys)
            self._jobs[job.identifier] = job
            return job

    def finish(
        self,
        identifier: str,
        result: ImportResult | None,
        warnings: dict[str, int],
        failure: str | None = None,
    ) -> None:
        with self._lock:
            job = self._jobs[identifier]
            job.result, job.warnings, job.failure = result, warnings, failure

    def job(self, identifier: str) -> ImportJob | None:
        with self._lock:
            return self._jobs.get(identifier)

    def import_times(self, user: str | None = None) -> list[float]:
        """``time.monotonic()`` of each counted import call."""
        with self._lock:
            return self._minute.times(user)

    def max_in_any(self, window: str, user: str | None = None) -> int:
        """The most counted import calls in any sliding ``minute``, ``hour`` or ``day`` window."""
        with self._lock:
            return self._windows()[window].max_in_any_window(user)

    def max_queries_in_any(self, user: str | None = None) -> int:
        """The most counted Query-class calls in any sliding minute window."""
        with self._lock:
            return self._queries.max_in_any_window(user)

    def calls(self) -> dict[str, int]:
        """Calls received per operation (authenticated ones)."""
        with self._lock:
            return dict(self._calls)

    def summary(self, started_at: float) -> dict[str, Any]:
        """What ``GET /_sandbox/soap`` shows."""
        settings = self.settings
        return {
            "import_times": [t - started_at for t in self.import_times()],
            "max_in_any_minute": self.max_in_any("minute"),
            "max_in_any_hour": self.max_in_any("hour"),
            "calls_per_minute": settings.soap_calls_per_minute,
            "minute_seconds": settings.soap_minute_seconds,
            "calls_per_hour": settings.soap_calls_per_hour,
            "hour_seconds": settings.soap_hour_seconds,
            "max_in_any_day": self.max_in_any("day"),
            "calls_per_day": settings.soap_calls_per_day,
            "day_seconds": settings.soap_day_seconds,
            "calls": self.calls(),
            "max_queries_in_any_minute": self.max_queries_in_any(),
            "queries_per_minute": settings.soap_queries_per_minute,
            "running_imports": sum(1 for j in self._jobs.values() if j.running),
        }


def epoch_ms_text(value: str) -> str | None:
    """An epoch-milliseconds cell as ``YYYY-MM-DDTHH:MM:SSZ``; None when it is not one."""
    if not value.isascii() or not value.isdigit() or len(value) > 15:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(value) / 1000))

"""What the Five9 sink needs of a wire (REST or the legacy SOAP), and what a wire answers.

A wire turns a chunk into a request and Five9's answer into an outcome; the sink does the
rest once, for both (pacing, expiry as chunks leave, retries, splitting, bookkeeping, the
ledger's hooks). Outcomes:

- `Landed`: Five9 took the chunk; the rows it names as troubles were refused.
- `Again`: worth another try, of a retry `Kind` (see `sinks.retry`).
- `Split`: Five9 refuses the request as a whole: send each half on its own; a lone row that
  is still refused ends in `lone`.
- `GiveUp`: trying again cannot help; the rows fail.

A refusal of the credentials, a scope or the list is raised (`Five9RefusedError`): the run
stops. A budget the wire keeps (SOAP's day of import calls) is `Spent` before a call leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.buckets import Bucket
from schemas.errors import ContactsEtlError
from sinks.chunk import Chunk
from sinks.retry import Kind


class Five9RefusedError(ContactsEtlError):
    """Five9 refused the run's credentials, scope or list: the load cannot start or go on."""


@dataclass(frozen=True)
class ImportTrouble:
    """A row Five9 did not load: its 0-based position in the chunk and Five9's message."""

    position: int
    kind: str
    message: str


@dataclass(frozen=True)
class Landed:
    troubles: Sequence[ImportTrouble] = ()
    status: int | None = None


@dataclass(frozen=True)
class Again:
    problem: str
    kind: Kind
    status: int | None = None
    told: float | None = None
    """Seconds Five9 said to wait (Retry-After)."""
    held: bool = False
    """Five9 held the call for a while already: no wait before the next."""


@dataclass(frozen=True)
class Split:
    problem: str
    lone: Bucket
    status: int | None = None


@dataclass(frozen=True)
class GiveUp:
    problem: str
    status: int | None = None


Outcome = Landed | Again | Split | GiveUp


@dataclass(frozen=True)
class Spent:
    """A budget of calls is used up: nothing leaves before `until` (wall-clock time)."""

    reason: str
    until: float


def _nothing(*_: object) -> None:
    return None


@dataclass
class DeliveryHooks:
    """Where the run ledger hears of each outcome, as it happens.

    `accepted(chunk, troubled)` runs right after Five9 took a chunk and before anything else
    (and for a row Five9 refused on its own, all `troubled`);
    `dead(chunk, rows, bucket, reason, http_status, attempts)` for rows Five9 rejected or the
    run gave up on; `sent(wall_time)` as each upload request leaves (that Five9 counts);
    `recent_sends(seconds)` gives the wall-clock times of the credential's requests in the last
    `seconds` (all runs). SOAP only: `importing(chunk, identifier)` once Five9 took an import,
    before its result is read, and `imported(identifier)` once that result has been read.
    `starting(chunk)` as the sink starts on a chunk (a replay counts its attempts there).
    """

    accepted: Callable[[Chunk, npt.NDArray[np.bool_]], None] = _nothing
    dead: Callable[[Chunk, npt.NDArray[np.bool_], str, pd.Series | str, int | None, int], None] = (
        _nothing
    )
    sent: Callable[[float], None] = _nothing
    recent_sends: Callable[[float], list[float]] = lambda _: []
    importing: Callable[[Chunk, str], None] = _nothing
    imported: Callable[[str], None] = _nothing
    starting: Callable[[Chunk], None] = _nothing


@dataclass
class WireNotes:
    """What a wire learnt for the run report."""

    warnings: dict[str, int] = field(default_factory=dict)
    """Five9's warnings (message -> count)."""
    spent_until: float | None = None
    """When a budget of calls that ran out during the run allows calls again."""
    notes: list[str] = field(default_factory=list)

    def warn(self, message: str, count: int = 1) -> None:
        self.warnings[message] = self.warnings.get(message, 0) + count


class Wire(Protocol):
    """One way of talking to Five9 (REST, or the legacy SOAP web services)."""

    max_in_flight: int
    """Requests that may be awaited at once."""
    told: WireNotes

    async def open(self) -> None:
        """Check the credentials and find the list; a refusal raises Five9RefusedError."""

    async def close(self) -> None: ...

    def prepare(self, contacts: pd.DataFrame) -> pd.Series | None:
        """Per contact, what the requests will need, made ahead off the event loop (or None)."""

    def request(self, chunk: Chunk) -> Any:
        """The request for `chunk`, made before its send slot so it leaves at once."""

    async def spent(self) -> Spent | None:
        """None when a call may leave now (after waiting for a short budget to free)."""

    async def send(self, chunk: Chunk, request: Any) -> Outcome:
        """Send one request and read Five9's answer."""

    async def resume(self, identifier: str, chunk: Chunk) -> Outcome:
        """The outcome of an import an earlier attempt made but did not read (SOAP)."""

    def shortfall(self, calls: int) -> str | None:
        """Why `calls` requests would not all be made today (a budget), or None."""

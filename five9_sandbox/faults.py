"""Injected faults: what a test can switch on to make the sandbox misbehave like a real Five9.

Every fault is off by default. A live copy of the plan is kept by the sandbox; each fault that
fires consumes its counter and leaves an event in the sandbox's log (see ``Sandbox.events``).

Order inside one upload request (after authentication, scope and list checks):

1. ``slow_seconds``: the answer (whatever it is) is delayed; consumed first.
2. ``storm_429``: answered 429 regardless of the rate window; NOT counted against the limit
   (docs/five9-contract.md: a request answered 429 does not use up the budget).
3. the real sliding-window rate check (429, not counted) -- not a fault, see ``rate_window``.
4. ``drop_connections`` (before loading, or after it with ``drop_after_load``), then
   ``errors_5xx``: the request has been counted by now (it reached
   the server and used budget; a client's retry costs budget, as it would on Five9 [assumed]).
5. the body is validated; ``refuse_chunk_containing`` answers 400 for the whole request.
6. ``expire_tokens_after``: counts 200 answers; when it reaches N every token issued so far
   becomes invalid (the next call gets 401), once.

SOAP ``asyncAddRecordsToList`` calls meet the same faults in the same order, with
``soap_operations_limit`` in place of ``storm_429``; an injected 500 is a SOAP ``ServerFault``,
502/503/504 a plain-text gateway answer. ``soap_not_ready`` acts on ``getListImportResult``,
``soap_import_failures`` on an import as it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import ConfigDict

_CYCLE_5XX = (500, 502, 503, 504)


@dataclass
class FaultPlan:
    """Faults to inject into upload requests; every one is off by default."""

    # how ``PUT /_sandbox/faults`` reads a plan: no unknown keys, no coercion
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", strict=True)

    storm_429: int = 0
    """Answer the next N upload requests 429 regardless of rate (``Retry-After: retry_after``)."""
    retry_after: str | None = "1"
    """Header value for injected 429s; None omits the header; "0" or "soon" are allowed."""
    errors_5xx: int = 0
    """Answer the next N upload requests with 500/502/503/504 (in that cycle)."""
    drop_connections: int = 0
    """The next N upload requests: read the body, then close the TCP connection, no answer."""
    drop_after_load: bool = False
    """With ``drop_connections``: load the body first, then hang up (the client cannot tell
    whether its chunk arrived; a re-send must update, not duplicate)."""
    slow_seconds: float = 0.0
    """Delay upload answers by this many seconds ..."""
    slow_count: int = 0
    """... for the next N upload requests (0 = every one while ``slow_seconds`` > 0)."""
    expire_tokens_after: int = 0
    """After N successful (200) uploads every token issued so far is invalid (-> 401), once."""
    refuse_chunk_containing: str | None = None
    """Any upload with a contact whose number1 equals this -> 400 for the whole request."""
    soap_operations_limit: int = 0
    """SOAP: answer the next N asyncAddRecordsToList calls OperationsLimitExceededFault
    regardless of the windows (not counted against them)."""
    soap_not_ready: int = 0
    """SOAP: answer the next N getListImportResult calls ResultIsNotReadyFault even when the
    import has finished."""
    soap_import_failures: int = 0
    """SOAP: the next N imports take none of their rows and their result says so only in
    ``failureMessage`` (no trouble, every count 0), as an import Five9 could not run does."""


class FaultInjector:
    """The live, consumable copy of a ``FaultPlan``. Not thread-safe: the sandbox holds its lock."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = FaultPlan(**vars(plan))
        self._injected_5xx = 0
        self._successes = 0

    def take_slow(self) -> float:
        """Seconds to delay this upload's answer (0.0 = none)."""
        plan = self.plan
        if plan.slow_seconds <= 0:
            return 0.0
        if plan.slow_count == 0:
            return plan.slow_seconds
        plan.slow_count -= 1
        delay = plan.slow_seconds
        if plan.slow_count == 0:
            plan.slow_seconds = 0.0
        return delay

    def take_storm(self) -> bool:
        """True when this upload is to be answered with an injected 429."""
        if self.plan.storm_429 > 0:
            self.plan.storm_429 -= 1
            return True
        return False

    def take_drop(self) -> bool:
        """True when this upload's connection is to be closed without an answer."""
        if self.plan.drop_connections > 0:
            self.plan.drop_connections -= 1
            return True
        return False

    def take_5xx(self) -> int | None:
        """The injected status for this upload, or None."""
        if self.plan.errors_5xx > 0:
            self.plan.errors_5xx -= 1
            status = _CYCLE_5XX[self._injected_5xx % len(_CYCLE_5XX)]
            self._injected_5xx += 1
            return status
        return None

    def take_operations_limit(self) -> bool:
        """True when this SOAP import call is to be refused as over the limit."""
        if self.plan.soap_operations_limit > 0:
            self.plan.soap_operations_limit -= 1
            return True
        return False

    def take_not_ready(self) -> bool:
        """True when this getListImportResult is to be answered ResultIsNotReadyFault."""
        if self.plan.soap_not_ready > 0:
            self.plan.soap_not_ready -= 1
            return True
        return False

    def take_import_failure(self) -> bool:
        """True when this finished SOAP import is to take none of its rows."""
        if self.plan.soap_import_failures > 0:
            self.plan.soap_import_failures -= 1
            return True
        return False

    def refuses(self, number1_values: list[str]) -> bool:
        """True when the upload contains the number the plan refuses."""
        target = self.plan.refuse_chunk_containing
        return target is not None and target in number1_values

    def note_success(self) -> bool:
        """Count a 200 upload; True exactly once, when all tokens are to be invalidated."""
        if self.plan.expire_tokens_after <= 0:
            return False
        self._successes += 1
        if self._successes >= self.plan.expire_tokens_after:
            self.plan.expire_tokens_after = 0
            self._successes = 0
            return True
        return False

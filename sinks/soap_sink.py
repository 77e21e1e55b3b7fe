"""The Five9 sink for the legacy SOAP Configuration Web Services (FIVE9_REST_ENABLED=false).

Delivery guarantee: at least once per contact within a run, as on REST. A call is made again
after `OperationsLimitExceededFault`, `ConcurrentModificationFault`, any other server fault, a
5xx, a timeout or a dropped connection before the import identifier is known, and after an
import Five9 says failed having taken none of the call's rows; Five9 matches records on the key
fields, so a contact sent twice updates its record instead of adding a second one. Rows count
as delivered only once `getListImportResult` has answered, less the rows it lists in
`importTroubles` (`rejected_by_five9`); its `failureMessage` is kept as a warning of the run,
not taken as a verdict. The ledger keeps each import Five9 took until its result is read, so a
rerun after a crash while Five9 imports reads that result instead of sending the rows again;
only a crash between the call leaving and its identifier arriving makes a rerun send them again
(an update), as on REST. When the import's outcome cannot be learnt (polls fail until the
attempts run out, or the import stays running or its result unready past the time allowed a
chunk) its rows are `failed` and wait as dead letters, though Five9 may have loaded them.

Five9's limits shape the sink: at most 100 records a call, calls paced for both 20 a minute
and 1,000 an hour (the longer interval, with a margin), and one call at a time per user, so
calls are made strictly one after another, polls included. Before its first import the sink
reads Five9's counters of the user's calls (`getCallCountersState`): what other machines spent
counts against each window with what the run ledger knows (`sinks.call_budget`). A full minute
or hour is waited for; a spent day fails the rest of the run's rows at once as dead letters,
rather than waiting for hours. Query calls (polls, results, lookups) keep to their own limit.

This path has no end of window: each row carries its guard start as the call time (epoch
milliseconds in `callTimeColumnNumber`), and a row whose window has closed by the time its
call leaves is held back as `expired`. Five9 itself does not enforce the end of the window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import numpy as np
from zeep import AsyncClient
from zeep.exceptions import Fault, TransportError
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from contacts_etl.errors import SettingError
from sinks.auth import Five9RefusedError
from sinks.call_budget import BudgetWindow, CallBudget, Spent, spent_reason
from sinks.rest_sink import (
    Chunk,
    Five9RestSink,
    SinkTotals,
    each_chunk,
)
from sinks.soap_wire import (
    ASYNCHRONOUS_UPLOAD,
    BINDING,
    CONCURRENT,
    LIST_NOT_FOUND,
    NOT_READY,
    OPERATIONS_LIMIT,
    QUERY,
    SIZE_LIMIT,
    UNCOUNTED_FAULTS,
    WSDL_PATH,
    CallCounter,
    ImportAnswer,
    fault_name,
    fault_text,
    import_columns,
    import_data,
    list_names,
    list_pattern,
    list_update_settings,
    read_call_counters,
    read_import_result,
)

T = TypeVar("T")
# While a minute or an hour of import calls is spent, Five9's counters are read again this
# often: its periods are calendar ones and may end sooner than the sliding estimate.
RECHECK_SECONDS = 60.0


@dataclass
class SoapTotals(SinkTotals):
    """The REST totals plus what only this path reports."""

    warnings: dict[str, int] = field(default_factory=dict)
    not_ready: int = 0
    polls: int = 0
    operations_limited: int = 0
    day_spent_until: float | None = None
    """Set when the day's budget of import calls ran out: when calls are possible again."""
    counters: list[CallCounter] = field(default_factory=list)
    """Five9's counters of the user's calls, as read before the first import."""
    waited_for_budget: float = 0.0
    """Seconds spent waiting for a minute or an hour of import calls others had spent."""


class Five9SoapSink(Five9RestSink):
    """Imports chunks of up to 100 contacts into one Five9 list, one SOAP call at a time.

    It keeps the REST sink's interface and bookkeeping (expiry as chunks leave, failures,
    dead letters, settled-row progress, the pacer); only the wire differs."""

    totals: SoapTotals

    totals_type = SoapTotals
    # Set by __aenter__, closed by __aexit__.
    _service: AsyncServiceProxy | None = None
    _http: httpx.AsyncClient | None = None
    _wsdl_http: httpx.Client | None = None
    _imports: CallBudget | None = None
    _queries: CallBudget | None = None

    async def __aenter__(self) -> Five9SoapSink:
        """Check the user and the list, and read what the user's calls have spent; any
        refusal stops the run here."""
        settings = self.settings
        if not settings.username or not settings.password:
            raise SettingError(
                "FIVE9_USERNAME and FIVE9_PASSWORD (a Five9 admin user) are needed when "
                "FIVE9_REST_ENABLED is false"
            )
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(settings.username, settings.password.get_secret_value()),
            # a poll may be held open for its waitTime before Five9 answers
            timeout=httpx.Timeout(settings.request_timeout_seconds + settings.soap_poll_seconds),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        self._wsdl_http = httpx.Client()  # zeep wants one; the WSDL is read from our package
        transport = AsyncTransport(client=self._http, wsdl_client=self._wsdl_http)
        client = AsyncClient(str(WSDL_PATH), transport=transport)
        # zeep's create_service gives a sync proxy even on AsyncClient: build the async one
        binding = client.wsdl.bindings[BINDING]
        self._service = AsyncServiceProxy(client, binding, address=settings.resolved_soap_url())
        self._imports = CallBudget(
            [
                BudgetWindow(
                    "a minute", settings.soap_calls_per_minute, settings.soap_minute_seconds
                ),
                BudgetWindow("an hour", settings.soap_calls_per_hour, settings.soap_hour_seconds),
                BudgetWindow(
                    "a day", settings.soap_calls_per_day, settings.soap_day_seconds, False
                ),
            ],
            self._hooks.recent_sends,
            guard=settings.rate_guard_seconds,
        )
        self._queries = CallBudget(
            [
                BudgetWindow(
                    "a minute", settings.soap_queries_per_minute, settings.soap_minute_seconds
                )
            ],
            guard=settings.rate_guard_seconds,
        )
        try:
            await self._check_list()
            self.totals.counters = await self._read_counters()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._wsdl_http is not None:
            self._wsdl_http.close()
        self._http = self._wsdl_http = None

    def _refused(self, status: int) -> Five9RefusedError:
        if status == 401:
            return Five9RefusedError(
                f"Five9 refused user {self.settings.username!r} (HTTP 401): check "
                "FIVE9_USERNAME and FIVE9_PASSWORD"
            )
        return Five9RefusedError(f"Five9 answered HTTP {status} to the SOAP call")

    async def _query(self, call: Callable[[], Awaitable[T]]) -> T:
        """A call of Five9's Query class, kept under its limit (others' calls included)."""
        assert self._queries is not None
        while (spent := self._queries.spent()) is not None:
            await asyncio.sleep(max(spent.until - time.time(), 0.01))
        self._queries.record(time.time())
        return await call()

    async def _check_list(self) -> None:
        assert self._service is not None
        service = self._service
        url = self.settings.resolved_soap_url()
        try:
            answer = await self._query(
                lambda: service.getListsInfo(listNamePattern=list_pattern(self.list_name))
            )
        except TransportError as error:
            raise self._refused(error.status_code) from None
        except Fault as fault:
            raise Five9RefusedError(
                f"Five9 refused to look up list {self.list_name!r}: {fault_text(fault)}"
            ) from None
        except httpx.TransportError as error:
            raise Five9RefusedError(
                f"Five9's SOAP service at {url} cannot be reached ({type(error).__name__})"
            ) from None
        if self.list_name not in list_names(answer):
            raise Five9RefusedError(
                f"Five9 list {self.list_name!r} does not exist for user "
                f"{self.settings.username!r}; create it in Five9 or check --list"
            )

    async def _read_counters(self) -> list[CallCounter]:
        """Five9's counts of the user's calls in its current periods, whoever made them, into
        the budgets. A counter that cannot be read leaves the budgets as they are (the ledger's
        knowledge and Five9's own refusals still hold)."""
        assert self._service is not None
        assert self._imports is not None
        assert self._queries is not None
        service = self._service
        try:
            counters = read_call_counters(await self._query(service.getCallCountersState))
        except TransportError as error:
            if error.status_code in (401, 403):
                raise self._refused(error.status_code) from None
            return []
        except (Fault, httpx.TransportError):
            return []
        for counter in counters:
            budget = {ASYNCHRONOUS_UPLOAD: self._imports, QUERY: self._queries}.get(
                counter.operation
            )
            if budget is not None:
                budget.observe(counter.seconds, counter.limit, counter.used)
        return counters

    def day_shortfall(self, calls: int) -> str | None:
        """A dry run's warning when the import calls left today (Five9's counters and the
        ledger) fall short of `calls`."""
        assert self._imports is not None
        day = next(w for w in self._imports.windows if not w.waits)
        left = self._imports.left(day)
        if calls <= left:
            return None
        return (
            f"Five9's budget of SOAP import calls a day has {left:,} left for this user: "
            f"{calls - left:,} of the {calls:,} calls would not be made, and their rows would "
            "wait for `contacts-etl retry`."
        )

    async def deliver(self, chunks: AsyncIterable[Chunk] | Iterable[Chunk]) -> SinkTotals:
        """Send every chunk, one call at a time, paced; returns the totals."""
        try:
            async for chunk in each_chunk(chunks):
                await self._send(chunk)
        finally:
            self.totals.send_times = list(self._pacer.sent)
        return self.totals

    async def _room_for_a_call(self) -> Spent | None:
        """Wait while a minute or an hour of import calls is spent; a spent day is returned."""
        assert self._imports is not None
        told = False
        while (spent := self._imports.spent()) is not None:
            if not spent.window.waits:
                return spent
            wait = min(max(spent.until - time.time(), 0.0), RECHECK_SECONDS)
            if not told:
                self._notice(
                    f"Five9's {spent.window.calls:,} SOAP import calls {spent.window.name} for "
                    f"this user are spent (by this or other work); waiting until "
                    f"{time.strftime('%H:%M:%SZ', time.gmtime(spent.until))}."
                )
                told = True
            await asyncio.sleep(wait)
            self.totals.waited_for_budget += wait
            await self._read_counters()
        return None

    async def _send(self, chunk: Chunk, *, whole: bool = True) -> None:
        assert self._service is not None
        self.totals.chunks += whole
        began = time.monotonic()
        attempts = 0
        busy = 0  # calls refused because another call of the user was in progress
        while True:
            spent = await self._room_for_a_call()
            if spent is not None:
                self.totals.day_spent_until = spent.until
                self._fail(chunk, spent_reason(spent), None, attempts)
                return
            if self._shared_limit is not None:
                await self._shared_limit()
            await self._pacer.slot()
            chunk = self._hold_back_expired(chunk)
            if chunk.contacts.empty:
                return
            columns = import_columns(chunk.contacts)
            attempts += 1
            self.totals.requests += 1
            sent_at = time.time()
            hold = False
            status: int | None = None
            try:
                identifier = await self._service.asyncAddRecordsToList(
                    listName=self.list_name,
                    listUpdateSettings=list_update_settings(columns, self.modes),
                    importData=import_data(chunk.contacts, columns),
                )
            except Fault as fault:
                name = fault_name(fault)
                if name not in UNCOUNTED_FAULTS:
                    self._count_call(sent_at)
                if name == LIST_NOT_FOUND:
                    raise Five9RefusedError(f"Five9 list {self.list_name!r} is gone") from None
                if name == SIZE_LIMIT:
                    await self._halve(chunk, fault_text(fault), attempts)
                    return
                problem = f"Five9 answered {fault_text(fault)}"
                if name == OPERATIONS_LIMIT:
                    self.totals.throttled += 1
                    self.totals.operations_limited += 1
                    hold = True
                    await self._read_counters()  # which period is spent, and by how much
                if name == CONCURRENT:
                    # Nothing was done; usually our own earlier call (one that timed out here)
                    # is still running at Five9. Bounded by time, not by attempts.
                    busy += 1
            except TransportError as error:
                status = error.status_code
                if status in (401, 403):
                    raise self._refused(status) from None
                self._count_call(sent_at)  # whether Five9 counted it is unknown: assume so
                problem = f"Five9 answered HTTP {status}"
            except httpx.TimeoutException:
                self._count_call(sent_at)
                problem = "no answer from Five9 within the timeout"
            except httpx.TransportError as error:
                self._count_call(sent_at)
                problem = f"the connection to Five9 failed ({type(error).__name__})"
            else:
                self._count_call(sent_at)
                number = _identifier(identifier)
                self._hooks.importing(chunk, number)
                answer = await self._settle(chunk, number, attempts)
                self._hooks.imported(number)
                if answer is None:  # its outcome could not be learnt: the rows failed
                    return
                if not answer.failed_whole:
                    self._landed(chunk, answer.troubles, None, attempts)
                    return
                problem = f"Five9's import {number} took none of the rows: {answer.failure}"
            if self._policy.gives_up(attempts - busy, time.monotonic() - began):
                self._fail(chunk, f"{problem}; gave up after {attempts} attempts", status, attempts)
                return
            self.totals.retries += 1
            pause = self._policy.backoff(attempts - busy or 1)
            if hold:  # the budget is spent (maybe by another run): no call for a while
                self._pacer.hold(self._pacer.interval + pause)
            else:
                await asyncio.sleep(pause)

    async def settle_open_imports(self, imports: Iterable[tuple[str, Chunk]]) -> None:
        """Read the results of imports an earlier attempt made but did not read (it crashed
        while Five9 worked), settling their rows as a finished import does; an identifier
        Five9 no longer knows, or an import that took none of the rows, fails its rows, and
        the load sends them again."""
        for identifier, chunk in imports:
            answer = await self._settle(chunk, identifier, attempts=1)
            if answer is not None and answer.failed_whole:
                reason = f"Five9's import {identifier} took none of the rows: {answer.failure}"
                self._fail(chunk, reason, None, 1)
            elif answer is not None:
                self._landed(chunk, answer.troubles, None, 1)
            self._hooks.imported(identifier)

    def _count_call(self, at: float) -> None:
        """An import call Five9 counts against the user's limits: the budget, and the ledger
        (so later runs count it too)."""
        assert self._imports is not None
        self._imports.record(at)
        self._hooks.sent(at)

    async def _halve(self, chunk: Chunk, problem: str, attempts: int) -> None:
        """Five9 takes fewer records a call than we sent: send each half on its own."""
        rows = len(chunk.contacts)
        if rows == 1:
            self._fail(chunk, f"Five9 answered {problem} for a single record", None, attempts)
            return
        self.totals.splits += 1
        first = np.arange(rows) < rows // 2
        await self._send(chunk.part(first), whole=False)
        await self._send(chunk.part(~first), whole=False)

    async def _settle(self, chunk: Chunk, identifier: str, attempts: int) -> ImportAnswer | None:
        """Poll the import until it ends, then read its result (its warnings and message go to
        the run's warnings). An import still running, or a result not ready, costs time, not
        an attempt: waiting is bounded by the time allowed for a chunk. None when the outcome
        could not be learnt (the rows are failed then)."""
        assert self._service is not None
        service = self._service
        ident = {"identifier": identifier}
        began = time.monotonic()
        failures = 0
        while True:
            waited = False  # Five9 held the poll for its waitTime: poll again at once
            failed = True  # a poll that failed (not one that found the import unfinished)
            try:
                self.totals.polls += 1
                running = await self._query(
                    lambda: service.isImportRunning(
                        identifier=ident, waitTime=self.settings.soap_poll_seconds
                    )
                )
                if running:
                    problem, waited, failed = "the import was still running", True, False
                else:
                    result = await self._query(
                        lambda: service.getListImportResult(identifier=ident)
                    )
            except Fault as fault:
                if fault_name(fault) == NOT_READY:
                    self.totals.not_ready += 1
                    problem, failed = "its result was not ready", False
                else:
                    problem = f"Five9 answered {fault_text(fault)}"
            except TransportError as error:
                if error.status_code in (401, 403):
                    raise self._refused(error.status_code) from None
                problem = f"Five9 answered HTTP {error.status_code}"
            except httpx.TimeoutException:
                problem = "no answer from Five9 within the timeout"
            except httpx.TransportError as error:
                problem = f"the connection to Five9 failed ({type(error).__name__})"
            else:
                if not running:
                    answer = read_import_result(result, len(chunk.contacts))
                    self._keep_warnings(answer)
                    return answer
            failures += failed
            elapsed = time.monotonic() - began
            if self._policy.gives_up(failures, elapsed):
                reason = (
                    f"{problem} while waiting for import {identifier}; gave up after "
                    f"{elapsed:.0f} s and {failures} failed polls (Five9 may have loaded "
                    "these rows)"
                )
                self._fail(chunk, reason, None, attempts)
                return None
            if not waited:
                self.totals.retries += failed
                await asyncio.sleep(self._policy.backoff(max(failures, 1)))

    def _keep_warnings(self, answer: ImportAnswer) -> None:
        """Five9's warnings, and its failure message (a message, not a verdict), for the run."""
        warnings = self.totals.warnings
        for message, count in answer.warnings.items():
            warnings[message] = warnings.get(message, 0) + count
        if answer.failure is not None:
            warnings[answer.failure] = warnings.get(answer.failure, 0) + 1


def _identifier(answer: Any) -> str:
    """The identifier inside `importIdentifier` (zeep unwraps a one-element result)."""
    if isinstance(answer, str):
        return answer
    return str(answer["identifier"] if isinstance(answer, dict) else answer.identifier)

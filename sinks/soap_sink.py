"""The Five9 sink for the legacy SOAP Configuration Web Services (FIVE9_REST_ENABLED=false).

Delivery guarantee: at least once per contact within a run, as on REST. A call is made again
after `OperationsLimitExceededFault`, `ConcurrentModificationFault`, any other server fault, a
5xx, a timeout or a dropped connection before the import identifier is known; Five9 matches
records on the key fields, so a contact sent twice updates its record instead of adding a
second one. Rows count as delivered only once `getListImportResult` has answered, less the
rows it lists in `importTroubles` (`rejected_by_five9`). The ledger keeps each import Five9
took until its result is read, so a rerun after a crash while Five9 imports reads that result
instead of sending the rows again; only a crash between the call leaving and its identifier
arriving makes a rerun send them again (an update), as on REST. When
the import's outcome cannot be learnt (polls fail until the attempts run out, or the import
stays running or its result unready past the time allowed a chunk) its rows are `failed` and
wait as dead letters, though Five9 may have loaded them.

Five9's limits shape the sink (shared/five9-api.md section 3): at most 100 records a call,
calls paced for both 20 a minute and 1,000 an hour (the longer interval, with a margin), and
one call at a time per user, so calls are made strictly one after another, polls included.
The third limit, 2,000 calls a day, is a budget (`sinks.day_budget`): once it is spent the
rest of the run's rows fail at once as dead letters, rather than waiting for hours.

This path has no end of window: each row carries its guard start as the call time (epoch
milliseconds in `callTimeColumnNumber`), and a row whose window has closed by the time its
call leaves is held back as `expired`. Five9 itself does not enforce the end of the window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from zeep import AsyncClient
from zeep.exceptions import Fault, TransportError
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from contacts_etl.errors import SettingError
from sinks.auth import Five9RefusedError
from sinks.day_budget import DayBudget, spent_reason
from sinks.rest_sink import (
    Chunk,
    Five9RestSink,
    SinkTotals,
    each_chunk,
)
from sinks.soap_wire import (
    BINDING,
    CONCURRENT,
    LIST_NOT_FOUND,
    NOT_READY,
    OPERATIONS_LIMIT,
    SIZE_LIMIT,
    UNCOUNTED_FAULTS,
    WSDL_PATH,
    ImportAnswer,
    fault_name,
    fault_text,
    import_columns,
    import_data,
    list_names,
    list_pattern,
    list_update_settings,
    read_import_result,
)


@dataclass
class SoapTotals(SinkTotals):
    """The REST totals plus what only this path reports."""

    warnings: dict[str, int] = field(default_factory=dict)
    not_ready: int = 0
    polls: int = 0
    operations_limited: int = 0
    day_spent_until: float | None = None
    """Set when the day's budget of import calls ran out: when calls are possible again."""


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
    _day: DayBudget | None = None

    async def __aenter__(self) -> Five9SoapSink:
        """Check the user and the list; any refusal stops the run here."""
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
        self._day = DayBudget(
            settings.soap_calls_per_day,
            settings.soap_day_seconds,
            self._hooks.recent_sends,
        )
        try:
            await self._check_list()
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

    async def _check_list(self) -> None:
        assert self._service is not None
        url = self.settings.resolved_soap_url()
        try:
            answer = await self._service.getListsInfo(listNamePattern=list_pattern(self.list_name))
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

    async def deliver(self, chunks: AsyncIterable[Chunk] | Iterable[Chunk]) -> SinkTotals:
        """Send every chunk, one call at a time, paced; returns the totals."""
        try:
            async for chunk in each_chunk(chunks):
                await self._send(chunk)
        finally:
            self.totals.send_times = list(self._pacer.sent)
        return self.totals

    async def _send(self, chunk: Chunk, *, whole: bool = True) -> None:
        assert self._service is not None
        assert self._day is not None
        self.totals.chunks += whole
        began = time.monotonic()
        attempts = 0
        busy = 0  # calls refused because another call of the user was in progress
        while True:
            spent_until = self._day.spent_until()
            if spent_until is not None:
                self.totals.day_spent_until = spent_until
                self._fail(chunk, spent_reason(self._day, spent_until), None, attempts)
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
                await self._settle(chunk, number, attempts)
                self._hooks.imported(number)
                return
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
        Five9 no longer knows fails its rows, and the load sends them again."""
        for identifier, chunk in imports:
            await self._settle(chunk, identifier, attempts=1)
            self._hooks.imported(identifier)

    def _count_call(self, at: float) -> None:
        """An import call Five9 counts against the user's limits: the day's budget, and the
        ledger (so later runs count it too)."""
        assert self._day is not None
        self._day.record(at)
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

    async def _settle(self, chunk: Chunk, identifier: str, attempts: int) -> None:
        """Poll the import until it ends, then read its result. An import still running, or a
        result not ready, costs time, not an attempt: waiting is bounded by the time allowed
        for a chunk."""
        assert self._service is not None
        began = time.monotonic()
        failures = 0
        while True:
            waited = False  # Five9 held the poll for its waitTime: poll again at once
            failed = True  # a poll that failed (not one that found the import unfinished)
            try:
                self.totals.polls += 1
                running = await self._service.isImportRunning(
                    identifier={"identifier": identifier}, waitTime=self.settings.soap_poll_seconds
                )
                if running:
                    problem, waited, failed = "the import was still running", True, False
                else:
                    result = await self._service.getListImportResult(
                        identifier={"identifier": identifier}
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
                    self._take(chunk, read_import_result(result, len(chunk.contacts)), attempts)
                    return
            failures += failed
            elapsed = time.monotonic() - began
            if self._policy.gives_up(failures, elapsed):
                reason = (
                    f"{problem} while waiting for import {identifier}; gave up after "
                    f"{elapsed:.0f} s and {failures} failed polls (Five9 may have loaded "
                    "these rows)"
                )
                self._fail(chunk, reason, None, attempts)
                return
            if not waited:
                self.totals.retries += failed
                await asyncio.sleep(self._policy.backoff(max(failures, 1)))

    def _take(self, chunk: Chunk, answer: ImportAnswer, attempts: int) -> None:
        """Count an import's result: troubles rejected, the rest delivered."""
        for message, count in answer.warnings.items():
            self.totals.warnings[message] = self.totals.warnings.get(message, 0) + count
        if answer.failure is not None:
            self._fail(chunk, f"Five9's import failed: {answer.failure}", None, attempts)
            return
        self._landed(chunk, answer.troubles, None, attempts)


def _identifier(answer: Any) -> str:
    """The identifier inside `importIdentifier` (zeep unwraps a one-element result)."""
    if isinstance(answer, str):
        return answer
    return str(answer["identifier"] if isinstance(answer, dict) else answer.identifier)

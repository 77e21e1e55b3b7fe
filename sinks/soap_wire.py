"""Five9's legacy SOAP wire (FIVE9_REST_ENABLED=false): the Configuration Web Services with an
admin user's name and password, one call at a time per user.

A chunk of at most 100 contacts is one `asyncAddRecordsToList`; the wire polls
`isImportRunning` until the import ends and reads `getListImportResult`: rows named in
`importTroubles` are refused, the rest taken (`Landed`); its `failureMessage` is kept as a
warning of the run, not taken as a verdict; an import that took nothing and names no row is
tried again (`Again`). The ledger keeps each import Five9 took until its result is read
(`importing`/`imported` hooks), so a rerun after a crash reads that result (`resume`) instead
of sending the rows again. When an import's outcome cannot be learnt (polls fail until the
tries run out, or it stays running past the time allowed a chunk) its rows fail
(`GiveUp`), though Five9 may have loaded them.

Five9's limits: at most 100 records a call (a bigger call is `Split`, a lone record that is
still too big fails), 20 import calls a minute and 1,000 an hour (the pacer's interval), and
2,000 a day, counted with what others spent (Five9's `getCallCountersState`, read before the
first import, and the run ledger): a spent minute or hour is waited for, a spent day is
`Spent` and the rest of the run fails at once as dead letters. Query calls (polls, results,
lookups) keep to their own limit. The answers' shapes are in `sinks.soap_format`.

This path has no end of window: each row carries its guard start as the call time (epoch
milliseconds in `callTimeColumnNumber`); Five9 does not enforce the end of the window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pandas as pd
from zeep import AsyncClient
from zeep.exceptions import Fault, TransportError
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from schemas.buckets import Bucket
from schemas.errors import SettingError
from sinks.call_budget import BudgetWindow, CallBudget, spent_reason
from sinks.chunk import Chunk
from sinks.rest_format import UploadModes
from sinks.retry import Attempts, Kind
from sinks.settings import Five9Settings
from sinks.soap_format import (
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
    counters_note,
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
from sinks.wire import (
    Again,
    DeliveryHooks,
    Five9RefusedError,
    GiveUp,
    Landed,
    Outcome,
    Spent,
    Split,
    WireNotes,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
# While a minute or an hour of import calls is spent, Five9's counters are read again this
# often: its periods are calendar ones and may end sooner than the sliding estimate.
RECHECK_SECONDS = 60.0
ImportRequest = tuple[dict[str, Any], dict[str, Any]]  # listUpdateSettings, importData


class SoapWire:
    """Imports through Five9's SOAP Configuration Web Services, one call at a time."""

    max_in_flight = 1  # Five9 serves one call of a user at a time

    def __init__(
        self,
        settings: Five9Settings,
        list_name: str,
        modes: UploadModes,
        hooks: DeliveryHooks,
        notice: Callable[[str], None],
    ) -> None:
        """`notice` hears of long waits for a budget, as they begin."""
        self.settings = settings
        self.list_name = list_name
        self.modes = modes
        self.told = WireNotes()
        self.counters: list[CallCounter] = []
        """Five9's counters of the user's calls, as read before the first import."""
        self.polls = 0
        self._hooks = hooks
        self._notice = notice
        self._policy = settings.retry_policy()
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
            hooks.recent_sends,
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
        self._service: AsyncServiceProxy | None = None
        self._http: httpx.AsyncClient | None = None
        self._wsdl_http: httpx.Client | None = None

    async def open(self) -> None:
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
        try:
            await self._check_list()
            self.counters = await self._read_counters()
        except BaseException:
            await self.close()
            raise
        note = counters_note(self.counters)
        if note:
            self.told.notes.append(note)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._wsdl_http is not None:
            self._wsdl_http.close()
        self._http = self._wsdl_http = None

    def prepare(self, contacts: pd.DataFrame) -> None:
        return None  # a call's XML is quick to make: nothing ahead

    def request(self, chunk: Chunk) -> ImportRequest:
        """The call's `listUpdateSettings` and `importData`."""
        columns = import_columns(chunk.contacts)
        return (
            list_update_settings(columns, self.modes),
            import_data(chunk.contacts, columns),
        )

    def shortfall(self, calls: int) -> str | None:
        """A dry run's warning when the import calls left today (Five9's counters and the
        ledger) fall short of `calls`."""
        day = next(w for w in self._imports.windows if not w.waits)
        left = self._imports.left(day)
        if calls <= left:
            return None
        return (
            f"Five9's budget of SOAP import calls a day has {left:,} left for this user: "
            f"{calls - left:,} of the {calls:,} calls would not be made, and their rows would "
            "wait for `contacts-etl retry`."
        )

    async def spent(self) -> Spent | None:
        """Wait while a minute or an hour of import calls is spent; a spent day is returned."""
        told = False
        while (spent := self._imports.spent()) is not None:
            if not spent.window.waits:
                return Spent(spent_reason(spent), spent.until)
            wait = min(max(spent.until - time.time(), 0.0), RECHECK_SECONDS)
            if not told:
                log.info(
                    "the user's SOAP import calls %s are spent; waiting until %s",
                    spent.window.name,
                    time.strftime("%H:%M:%SZ", time.gmtime(spent.until)),
                )
                self._notice(
                    f"Five9's {spent.window.calls:,} SOAP import calls {spent.window.name} for "
                    f"this user are spent (by this or other work); waiting until "
                    f"{time.strftime('%H:%M:%SZ', time.gmtime(spent.until))}."
                )
                told = True
            await asyncio.sleep(wait)
            await self._read_counters()
        return None

    async def send(self, chunk: Chunk, request: ImportRequest) -> Outcome:
        """One `asyncAddRecordsToList`, then its result."""
        assert self._service is not None
        settings, data = request
        sent_at = time.time()
        try:
            answer = await self._service.asyncAddRecordsToList(
                listName=self.list_name, listUpdateSettings=settings, importData=data
            )
        except Fault as fault:
            return await self._refused(fault, sent_at)
        except TransportError as error:
            if error.status_code in (401, 403):
                raise self._refusal(error.status_code) from None
            self._count_call(sent_at)  # whether Five9 counted it is unknown: assume so
            return Again(f"Five9 answered HTTP {error.status_code}", Kind.TRANSIENT)
        except httpx.TimeoutException:
            self._count_call(sent_at)
            return Again("no answer from Five9 within the timeout", Kind.TRANSIENT)
        except httpx.TransportError as error:
            self._count_call(sent_at)
            problem = f"the connection to Five9 failed ({type(error).__name__})"
            return Again(problem, Kind.TRANSIENT)
        self._count_call(sent_at)
        identifier = _identifier(answer)
        self._hooks.importing(chunk, identifier)
        return await self.resume(identifier, chunk)

    async def _refused(self, fault: Fault, sent_at: float) -> Outcome:
        """The outcome of a call Five9 answered with a fault."""
        name = fault_name(fault)
        if name not in UNCOUNTED_FAULTS:
            self._count_call(sent_at)
        if name == LIST_NOT_FOUND:
            raise Five9RefusedError(f"Five9 list {self.list_name!r} is gone") from None
        if name == SIZE_LIMIT:
            return Split(f"Five9 answered {fault_text(fault)}", Bucket.FAILED)
        problem = f"Five9 answered {fault_text(fault)}"
        if name == OPERATIONS_LIMIT:
            await self._read_counters()  # which period is spent, and by how much
            return Again(problem, Kind.THROTTLED)
        if name == CONCURRENT:
            # Nothing was done; usually our own earlier call (one that timed out here) is
            # still running at Five9. Bounded by time, not by attempts.
            return Again(problem, Kind.BUSY)
        return Again(problem, Kind.TRANSIENT)

    async def resume(self, identifier: str, chunk: Chunk) -> Outcome:
        """The outcome of an import Five9 took: its result, once read, is no longer open."""
        outcome = await self._settle(identifier, chunk)
        self._hooks.imported(identifier)
        return outcome

    async def _settle(self, identifier: str, chunk: Chunk) -> Outcome:
        """Poll the import until it ends, then read its result. An import still running, or
        a result not ready, costs time, not a try: waiting is bounded by the time allowed a
        chunk."""
        assert self._service is not None
        service = self._service
        ident = {"identifier": identifier}
        tries = Attempts(self._policy)
        while True:
            self.polls += 1
            try:
                running = await self._query(
                    lambda: service.isImportRunning(
                        identifier=ident, waitTime=self.settings.soap_poll_seconds
                    )
                )
                if running:
                    problem, kind, held = "the import was still running", Kind.PENDING, True
                else:
                    result = await self._query(
                        lambda: service.getListImportResult(identifier=ident)
                    )
                    return self._result(identifier, result, len(chunk.contacts))
            except Fault as fault:
                held = False
                if fault_name(fault) == NOT_READY:
                    problem, kind = "its result was not ready", Kind.PENDING
                else:
                    problem, kind = f"Five9 answered {fault_text(fault)}", Kind.TRANSIENT
            except TransportError as error:
                if error.status_code in (401, 403):
                    raise self._refusal(error.status_code) from None
                problem, kind, held = (
                    f"Five9 answered HTTP {error.status_code}",
                    Kind.TRANSIENT,
                    False,
                )
            except httpx.TimeoutException:
                problem, kind, held = (
                    "no answer from Five9 within the timeout",
                    Kind.TRANSIENT,
                    False,
                )
            except httpx.TransportError as error:
                problem = f"the connection to Five9 failed ({type(error).__name__})"
                kind, held = Kind.TRANSIENT, False
            wait = tries.again(kind, held=held)
            if wait is None:
                return GiveUp(
                    f"{problem} while waiting for import {identifier}; gave up after "
                    f"{tries.elapsed:.0f} s and {tries.counted} failed polls (Five9 may have "
                    "loaded these rows)"
                )
            await asyncio.sleep(wait)

    def _result(self, identifier: str, result: Any, rows: int) -> Outcome:
        """Rows named as troubles refused, the rest taken; Five9's warnings and message kept."""
        answer = read_import_result(result, rows)
        for message, count in answer.warnings.items():
            self.told.warn(message, count)
        if answer.failure is not None:
            self.told.warn(answer.failure)  # a message, not a verdict
        if answer.failed_whole:
            problem = f"Five9's import {identifier} took none of the rows: {answer.failure}"
            return Again(problem, Kind.TRANSIENT)
        return Landed(answer.troubles)

    def _refusal(self, status: int) -> Five9RefusedError:
        if status == 401:
            return Five9RefusedError(
                f"Five9 refused user {self.settings.username!r} (HTTP 401): check "
                "FIVE9_USERNAME and FIVE9_PASSWORD"
            )
        return Five9RefusedError(f"Five9 answered HTTP {status} to the SOAP call")

    async def _query(self, call: Callable[[], Awaitable[T]]) -> T:
        """A call of Five9's Query class, kept under its limit (others' calls included).
        While another call of the user is served (a call of a process that just died may
        still be), or the Query limit is spent elsewhere, it is made again, for the time
        allowed a chunk."""
        tries = Attempts(self._policy)
        while True:
            while (spent := self._queries.spent()) is not None:
                await asyncio.sleep(max(spent.until - time.time(), 0.01))
            self._queries.record(time.time())
            try:
                return await call()
            except Fault as fault:
                name = fault_name(fault)
                if name not in (CONCURRENT, OPERATIONS_LIMIT):
                    raise
                wait = tries.again(Kind.BUSY)
                if wait is None:
                    raise
            await asyncio.sleep(wait)

    async def _check_list(self) -> None:
        assert self._service is not None
        service = self._service
        url = self.settings.resolved_soap_url()
        try:
            answer = await self._query(
                lambda: service.getListsInfo(listNamePattern=list_pattern(self.list_name))
            )
        except TransportError as error:
            raise self._refusal(error.status_code) from None
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
                f"{self.settings.username!r}; create it in Five9 or check the list name"
            )

    async def _read_counters(self) -> list[CallCounter]:
        """Five9's counts of the user's calls in its current periods, whoever made them, into
        the budgets. Counters that cannot be read leave the budgets as they are (the ledger's
        knowledge and Five9's own refusals still hold)."""
        assert self._service is not None
        service = self._service
        try:
            counters = read_call_counters(await self._query(service.getCallCountersState))
        except TransportError as error:
            if error.status_code in (401, 403):
                raise self._refusal(error.status_code) from None
            return []
        except (Fault, httpx.TransportError):
            return []
        budgets = {ASYNCHRONOUS_UPLOAD: self._imports, QUERY: self._queries}
        for counter in counters:
            budget = budgets.get(counter.operation)
            if budget is not None:
                budget.observe(counter.seconds, counter.limit, counter.used)
        return counters

    def _count_call(self, at: float) -> None:
        """An import call Five9 counts against the user's limits: the budget, and the ledger
        (so later runs count it too)."""
        self._imports.record(at)
        self._hooks.sent(at)


def _identifier(answer: Any) -> str:
    """The identifier inside `importIdentifier` (zeep unwraps a one-element result)."""
    if isinstance(answer, str):
        return answer
    return str(answer["identifier"] if isinstance(answer, dict) else answer.identifier)

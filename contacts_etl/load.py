"""The main job: the valid, normalised contacts of the sources land in a named Five9 list.

A load is planned, run, then reported. Planning checks everything that can be checked without
Five9 (settings, sources, mapping, keys) and opens the run's state; running checks the
credentials, the domain and the list first (a refusal stops the run before a row is read),
settles what an earlier attempt left open, stages the sources, and sends the chunks through
the throttled sink; the report says where every row went, also when the run stopped early.
With no Five9 credentials and no address, a local sandbox is started in this process and
nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import pandas as pd

from contacts_etl.chunking import chunks_of, made_ahead
from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.deadline_first import deadline_first, window_ends_ns
from contacts_etl.embedded_sandbox import embedded_sandbox
from contacts_etl.failure import (
    UnexpectedError,
    failures_dir,
    keep_report,
    summary_of,
    unexpected,
)
from contacts_etl.inputs import RunInputs
from contacts_etl.outputs import TableWriter, rejects_columns
from contacts_etl.pipeline import ContactPipeline, ReadyBatch, contact_columns, original_columns
from contacts_etl.run_report import (
    TIME,
    LoadReport,
    count_outcomes,
    windows_closing_note,
    write_report,
)
from contacts_etl.run_state import REPLAY_ATTEMPTS, RunState, import_step
from schemas.buckets import Bucket, Tally
from schemas.errors import ContactsEtlError, SettingError
from sinks.chunk import Chunk
from sinks.five9_sink import Five9Sink
from sinks.ledger import OpenImport, RunLedger
from sinks.letters import letters_chunk
from sinks.rest_format import UploadModes
from sinks.settings import Five9Settings
from sinks.wire import DeliveryHooks
from sources import open_sources
from transforms.expiry import load_clock
from transforms.normalise import reject_rows
from transforms.send_order import SEND_ORDERS, LoadPace, SendOrder, windows_lost

log = logging.getLogger(__name__)  # counts and reasons only: never a number, a name or a secret
Gate = Callable[[], Awaitable[None]]
SharedLimit = Callable[[Five9Settings], Gate]

SOAP_WINDOW_NOTE = (
    "Loaded over Five9's legacy SOAP web services (FIVE9_REST_ENABLED=false): each contact "
    "carries its guard start as the call time, but Five9 does not enforce the end of each "
    "window on this path; rows whose window closed before their call left were held back as "
    "expired."
)
SOAP_CALL_TIME_NOTE = (
    "Five9 applies a contact's call time only if the list's campaign exists when the record "
    "is added: a list attached to a campaign later may be dialled before the call time."
)
SANDBOX = "local sandbox"
PREFECT_GATE_NOTE = (
    "Runs on other machines share this credential's rate through Prefect's global concurrency "
    "limit, which reaches about two thirds of Five9's ceiling with two runs at once; point "
    "every worker at one state store (CONTACTS_STATE_URL) to share the full rate."
)


@dataclass(frozen=True)
class LoadRequest(RunInputs):
    """A load: the run's inputs, the list to load into, and how to run."""

    list_name: str = ""
    dry_run: bool = False
    report: str | Path | None = None
    """Where the report is written: a local path or a URL of object storage."""
    state_dir: Path | None = None
    state_url: str | None = None
    """Where the run's state lives (a database URL); else CONTACTS_STATE_URL, else the SQLite
    ledger in the state folder."""
    restart: bool = False
    order: SendOrder = "file"
    """How rows are sent: `file` order, streaming as they are read; or `deadline`, the soonest
    window end first, once the whole run is read (the first upload leaves later)."""


@dataclass
class LoadProgress:
    """Callbacks a caller may set to follow the run: notices, rows read, rows to send, rows
    settled (delivered, rejected by Five9, failed or expired as they left), and the report."""

    notice: Callable[[str], None] = lambda _: None
    rows_read: Callable[[int], None] = lambda _: None
    staged: Callable[[int], None] = lambda _: None
    settled: Callable[[int], None] = lambda _: None
    reported: Callable[[LoadReport], None] = lambda _: None


_FOLLOWER: ContextVar[LoadProgress | None] = ContextVar("load_follower", default=None)


@contextmanager
def followed_by(progress: LoadProgress) -> Iterator[None]:
    """Loads run in this context (a flow's, say) tell `progress` too: a caller in this process
    (the command line) follows a run it handed to a flow on its own display."""
    token = _FOLLOWER.set(progress)
    try:
        yield
    finally:
        _FOLLOWER.reset(token)


def follower() -> LoadProgress:
    """Who follows loads in this context (a silent follower when nobody does)."""
    return _FOLLOWER.get() or LoadProgress()


def run_load(
    request: LoadRequest,
    settings: Five9Settings,
    progress: LoadProgress | None = None,
    shared_limit: SharedLimit | None = None,
) -> LoadReport:
    """Plan the load, run it, and return its report (also written where the request says).

    `shared_limit(settings)` gives an awaitable that admits one upload request under a rate
    limit shared by every run on the credential (Prefect's, when a server is configured)."""
    progress = progress or LoadProgress()
    try:
        job = LoadJob.plan(request, settings, progress, shared_limit)
    except Exception as error:
        if isinstance(error, ContactsEtlError):
            raise
        # Nothing was read yet; the report still says the run stopped, and why.
        raise _planning_failed(request, settings, error) from error
    with job:
        report = job.run()
    progress.reported(report)
    return report


def _planning_failed(
    request: LoadRequest, settings: Five9Settings, error: Exception
) -> UnexpectedError:
    """An unexpected error before the run read anything: its report, and the failure."""
    failure = unexpected(
        error, "the load", secrets=settings.secrets(), state_dir=request.state_dir,
        after="nothing was sent; run the same command again once the cause is fixed",
    )  # fmt: skip
    report = LoadReport(
        started_at=pd.Timestamp.now(tz="UTC").strftime(TIME),
        finished_at=pd.Timestamp.now(tz="UTC").strftime(TIME),
        list_name=request.list_name,
        dry_run=request.dry_run,
        order=request.order,
        stopped=failure.summary,
    )
    keep_report(report, request.report, failures_dir(request.state_dir))
    return failure


class LoadJob:
    """One load, planned: its sources, pipeline, target, state and sink, ready to run."""

    def __init__(
        self,
        request: LoadRequest,
        settings: Five9Settings,
        progress: LoadProgress,
        stack: ExitStack,
    ) -> None:
        self.request = request
        self.settings = settings
        self.progress = progress
        self.report = LoadReport(
            started_at=pd.Timestamp.now(tz="UTC").strftime(TIME),
            list_name=request.list_name,
            dry_run=request.dry_run,
            order=request.order,
            rate_limit=" and ".join(
                f"{calls} requests per {window:g} s" for calls, window in settings.rate_limits()
            ),
        )
        self.state: RunState | None = None
        self._stack = stack

    @classmethod
    def plan(
        cls,
        request: LoadRequest,
        settings: Five9Settings,
        progress: LoadProgress,
        shared_limit: SharedLimit | None = None,
    ) -> LoadJob:
        """Check the request and open what the run needs (closed when the job is)."""
        if not request.list_name.strip():
            raise SettingError("needs the name of a Five9 list", setting="list")
        if request.order not in SEND_ORDERS:
            raise SettingError(
                f"{request.order!r} is not one of {', '.join(SEND_ORDERS)}", setting="order"
            )
        options = request.normalise_options()
        now = request.load_time()
        mapping = ColumnMapping.load(request.mapping)
        sources = open_sources(request.sources, request.read_options())
        stack = ExitStack()
        try:
            job = cls(request, settings, progress, stack)
            if not settings.rest_enabled:
                job.report.notes += [SOAP_WINDOW_NOTE, SOAP_CALL_TIME_NOTE]
            if settings.uses_sandbox:
                job.settings = embedded_sandbox(
                    settings, request.list_name, contact_columns(sources, mapping), stack
                )
                job.report.target = SANDBOX
                job.report.notes.append(
                    "No Five9 credentials or base URL are set: loading into the local sandbox "
                    f"at {job.settings.base_url}; nothing leaves this machine."
                )
            else:
                job.report.target = settings.resolved_base_url()
                ledger = RunLedger(request.state_dir, request.state_url)
                stack.callback(ledger.close)
                job.state = RunState.open(
                    ledger, sources, settings, request.list_name, options, mapping.renames,
                    request.restart and not request.dry_run,
                )  # fmt: skip
                job.report.run_id = job.state.run_id
            job.rejects = (
                stack.enter_context(
                    TableWriter(
                        request.rejects,
                        rejects_columns(original_columns(sources)),
                        "rejects",
                        safe=True,
                    )
                )
                if request.rejects
                else None
            )
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="contacts-")))
            job.workdir = workdir
            job.clock = load_clock(now)
            job.pipeline = ContactPipeline(
                sources, mapping, options, now, workdir, job.rejects, progress.rows_read,
                clock=job.clock,
            )  # fmt: skip
            job.sink = job._sink(shared_limit)
        except BaseException:
            stack.__exit__(*sys.exc_info())  # an outputs file holds no header alone
            raise
        return job

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self._stack.__exit__(kind, error, trace)
            return
        try:  # closing what the run opened must not hide why it stopped
            self._stack.__exit__(kind, error, trace)
        except Exception as closing:
            log.info("while stopping: %s", summary_of(closing, self.settings.secrets()))

    def _sink(self, shared_limit: SharedLimit | None) -> Five9Sink:
        """The sink the settings pick; its outcomes reach the ledger and the rejects file."""
        request, state, settings = self.request, self.state, self.settings
        live = not request.dry_run
        hooks = None
        if state is not None:
            # A dry run writes nothing to the ledger, but counts what it knows was spent.
            known = state.hooks()
            hooks = known if live else DeliveryHooks(recent_sends=known.recent_sends)
        return Five9Sink.for_settings(
            settings,
            request.list_name,
            UploadModes.of(settings, request.keys),
            self._set_aside,
            hooks=hooks,
            notice=self.progress.notice,
            on_settled=self.progress.settled,
            clock=self.clock,
            pacer=state.pacer(settings) if state else None,
            shared_limit=self._prefect_gate(shared_limit) if live else None,
        )

    def _prefect_gate(self, shared_limit: SharedLimit | None) -> Gate | None:
        """Prefect's shared rate limit, for runs on other machines, only where no state store
        is shared (a shared store paces every run on the credential itself)."""
        if shared_limit is None or (self.state is not None and self.state.ledger.shared):
            return None
        self.report.notes.append(PREFECT_GATE_NOTE)
        return shared_limit(self.settings)

    def _set_aside(
        self, chunk: Chunk, labels: pd.Series, bucket: Bucket, reason: pd.Series | str
    ) -> None:
        if self.rejects is not None:
            mask = chunk.originals.index.isin(labels)
            why = reason if isinstance(reason, str) else reason.reindex(chunk.originals.index)
            self.rejects.write(reject_rows(chunk.originals, mask, bucket, why))

    def run(self) -> LoadReport:
        """Send the run (or plan it, in a dry run); the report, written however the run ends:
        when it stops early, with `stopped` and the rows left `unsettled`. An error that is
        not a user's mistake ends it as an UnexpectedError (the traceback kept aside)."""
        try:
            asyncio.run(self._load())
            self._count()
        except (ContactsEtlError, KeyboardInterrupt) as error:
            self._stop(str(error) or "interrupted", blamed=False)
            raise
        except Exception as error:
            failure = self._failure(error, "the load")
            self._stop(failure.summary, blamed=True)
            raise failure from error
        _log_summary(self.report)
        try:
            write_report(self.report, self.request.report)
        except Exception as error:  # every row is settled: only the report is missing
            kept = keep_report(self.report, None, failures_dir(self.request.state_dir))
            ending: ContactsEtlError = (
                error
                if isinstance(error, ContactsEtlError)
                else self._failure(error, "writing the report", after="every row is settled")
            )
            ending.args = (f"{ending.args[0]}; the report is in {kept or 'no file'}",)
            if ending is error:
                raise
            raise ending from error
        return self.report

    def _failure(
        self,
        error: Exception,
        what: str,
        after: str = "the report says what was settled; run the same command again to go on "
        "from there",
    ) -> UnexpectedError:
        state = self.state
        return unexpected(
            error, what, secrets=self.settings.secrets(), state_dir=self.request.state_dir,
            run_id=state.run_id if state else "", after=after,
        )  # fmt: skip

    def _stop(self, why: str, *, blamed: bool) -> None:
        """The run stopped early: what was settled before the stop still counts (a nightly
        job's report says so), the rest is `unsettled`; the report is written, into the
        state folder should its own place fail. An unexpected error is `blamed` on the
        replayed steps left under way (a step that fails every time is set aside)."""
        report = self.report
        report.stopped = why
        try:
            self._count()
        except Exception as error:  # the counts of the sink or the wire are half-made
            log.info("counting after the stop: %s", summary_of(error))
        report.unsettled = report.rows_read - report.tally.total()
        log.info("stopped: %s; %d rows read were not settled", why, report.unsettled)
        if self.state is not None and not self.request.dry_run:
            with contextlib.suppress(Exception):  # the store may be what failed
                self.state.stopped_on(why, blamed=blamed)
        where = self.request.report
        # Asked for, or not, the report of an unexpected failure is kept in the state folder.
        fallback = failures_dir(self.request.state_dir) if blamed or where else None
        kept = keep_report(report, where, fallback)
        if where is not None and kept != str(where):
            log.info("the report of this stopped run is in %s", kept or "no file")

    async def _load(self) -> None:
        async with self.sink:
            await self._resume()
            self.report.notes += self.sink.wire.told.notes
            # The census reads every source once, so a bad file's error stays one line.
            total = await asyncio.to_thread(self.pipeline.census)
            log.info(
                "%d rows in %d sources; %s into list %r at %s",
                total,
                len(self.pipeline.sources),
                "planning a load" if self.request.dry_run else "loading",
                self.request.list_name,
                self.report.target,
            )
            for note in self.report.notes:
                log.info("%s", note)
                self.progress.notice(note)
            self.progress.staged(total)
            if self.request.dry_run:
                await asyncio.to_thread(self._plan_sending)
                shortfall = self.sink.wire.shortfall(self.report.requests)
                if shortfall:
                    self.report.notes.append(shortfall)
                    self.progress.notice(shortfall)
                return
            chunks = chunks_of(self._ready(), self.settings.chunk_size, self.sink.prepare)
            await self.sink.deliver(made_ahead(chunks, self.pipeline, self.progress.settled))

    def _ready(self) -> Iterator[ReadyBatch]:
        """The contacts to send, in the request's order: streaming in file order, or all read
        (and spilled to the work folder) first, then by the end of their window."""
        if self.request.order == "deadline":
            return deadline_first(self.pipeline.contacts(), self.workdir)
        return self.pipeline.contacts()

    async def _resume(self) -> None:
        """Settle the imports an earlier attempt left unread, then tell the pipeline what
        earlier attempts settled (those rows are counted, not sent again)."""
        state = self.state
        if state is None:
            return
        if not self.request.dry_run and (imports := state.open_imports()):
            # Its own tally: these rows are counted as settled before, by the pipeline.
            earlier = Five9Sink(self.sink.wire, self.settings, lambda *_: None, hooks=state.hooks())
            attempts = state.replays()
            for held in imports:
                step = import_step(held.identifier)
                tries, error = attempts.get(step, (0, ""))
                if tries >= REPLAY_ATTEMPTS:
                    self._set_aside_import(held, tries, error)
                    continue
                state.replaying(step)
                await earlier.resume([(held.identifier, letters_chunk(held.chunk, held.rows))])
            state.resumed = True
            self.report.notes.append(_open_imports_note(earlier.totals.tally))
        if state.resumed:
            self.report.notes.append(
                f"Resuming run {state.run_id}: rows an earlier attempt delivered are not "
                "sent again."
            )
        self.pipeline.settled_before(state.earlier())

    def _set_aside_import(self, held: OpenImport, tries: int, error: str) -> None:
        """Reading this import's result failed on every attempt: its rows fail, wait as dead
        letters, and the rest of the run goes on."""
        assert self.state is not None
        reason = (
            f"the result of Five9 import {held.identifier} could not be read in {tries} "
            f"attempts (last: {error or 'the process ended'}); Five9 may have loaded these rows"
        )
        rows = self.state.set_aside_import(held, reason)
        self.report.set_aside.append(
            {"step": import_step(held.identifier), "rows": rows, "attempts": tries,
             "error": error}
        )  # fmt: skip
        note = (
            f"Set aside {rows:,} rows of Five9 import {held.identifier}: reading its result "
            f"failed {tries} times (last: {error or 'the process ended'}). They are failed and "
            "wait as dead letters; once the cause is fixed, `contacts-etl retry --list "
            f"{self.request.list_name!r}` sends them again."
        )
        log.info("%s", note)
        self.report.notes.append(note)

    def _plan_sending(self) -> None:
        """A dry run: read everything, then the requests and time a load would take, and the
        windows that would close before their turn in each order at that pace."""
        ends = [window_ends_ns(batch.contacts) for batch in self.pipeline.contacts()]
        self.progress.settled(self.pipeline.counts.rows_read)
        report = self.report
        pace = LoadPace(self.settings.chunk_size, self.settings.request_interval())
        report.chunks = report.requests = pace.requests(self.pipeline.counts.valid)
        report.planned_seconds = round(pace.seconds(self.pipeline.counts.valid), 1)
        in_file_order = np.concatenate(ends) if ends else np.zeros(0, np.int64)
        start = self.pipeline.now.as_unit("ns").value
        report.windows_closing = {
            order: windows_lost(in_file_order, start, pace, order) for order in SEND_ORDERS
        }
        report.notes.append(windows_closing_note(report.windows_closing))

    def _count(self) -> None:
        count_outcomes(
            self.report,
            self.pipeline.counts,
            self.sink.totals,
            self.sink.wire.told,
            self.settings,
            self.request.dry_run,
        )

    rejects: TableWriter | None
    workdir: Path
    clock: Callable[[], pd.Timestamp]
    pipeline: ContactPipeline
    sink: Five9Sink


def _log_summary(report: LoadReport) -> None:
    """Where the rows went, the requests it took, and Five9's warnings."""
    buckets = ", ".join(f"{rows:,} {name}" for name, rows in report.buckets().items() if rows)
    log.info(
        "%s rows read: %s; %d requests, %d answered 429, %d retries",
        f"{report.rows_read:,}",
        buckets or "none",
        report.requests,
        report.throttled_429,
        report.retries,
    )
    for warning, count in report.five9_warnings.items():
        log.info("Five9 warned (%d): %s", count, warning)


def _open_imports_note(settled: Tally) -> str:
    landed = settled[Bucket.DELIVERED] + settled[Bucket.REJECTED_BY_FIVE9]
    note = (
        f"Read the results of imports an earlier attempt left unread: {landed:,} rows "
        "settled there are not sent again"
    )
    if settled[Bucket.FAILED]:
        note += (
            f"; Five9 could not say what became of {settled[Bucket.FAILED]:,}, so they are "
            "sent again"
        )
    return note + "."

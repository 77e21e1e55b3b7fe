"""The main job: the valid, normalised contacts of the sources land in a named Five9 list.

Order matters: the credentials, the domain and the list are checked first (a refusal stops the
run before a row is read), then the sources are staged, then the chunks go out through the
throttled sink. With no Five9 credentials and no base URL, a local sandbox is started in this
process and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import SecretStr

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.errors import ContactsEtlError, SettingError
from contacts_etl.outputs import TableWriter, rejects_columns
from contacts_etl.pipeline import NOTHING_EARLIER, ContactPipeline, ReadyBatch, original_columns
from contacts_etl.preview import PreviewRequest
from contacts_etl.run_state import RunState, letters_chunk
from sinks.five9_wire import UploadModes, contact_objects
from sinks.ledger import RunLedger
from sinks.rest_sink import Chunk, Five9RestSink, SinkTotals
from sinks.settings import SOAP_SERVICE_PATH, Five9Settings
from sinks.soap_sink import Five9SoapSink, SoapTotals
from sources import ReadOptions, open_sources
from transforms.expiry import load_clock
from transforms.normalise import reject_rows

TIME = "%Y-%m-%dT%H:%M:%SZ"
SharedLimit = Callable[[Five9Settings], Callable[[], Awaitable[None]]]


@dataclass(frozen=True)
class LoadRequest(PreviewRequest):
    """A preview's settings plus the list to load, a dry-run switch and the report file."""

    list_name: str = ""
    dry_run: bool = False
    report: Path | None = None
    state_dir: Path | None = None
    restart: bool = False


@dataclass
class LoadReport:
    """The run's JSON report. Every row read is in exactly one bucket."""

    rows_read: int = 0
    delivered: int = 0
    rejected_by_five9: int = 0
    invalid: int = 0
    expired: int = 0
    duplicate: int = 0
    failed: int = 0
    already_delivered: int = 0
    would_deliver: int = 0
    requests: int = 0
    chunks: int = 0
    started_at: str = ""
    finished_at: str = ""
    list_name: str = ""
    run_id: str = ""
    target: str = ""
    dry_run: bool = False
    throttled_429: int = 0
    retries: int = 0
    rate_limit: str = ""
    requests_per_window: float = 0.0
    planned_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    five9_warnings: dict[str, int] = field(default_factory=dict)
    calls_spent_until: str | None = None
    """SOAP: the day's budget of import calls ran out; calls are possible again from then."""
    stopped: str | None = None
    """Why the run stopped before its end (its one line); then `unsettled` rows were read
    but neither sent nor set aside, and the same command resumes the run."""
    unsettled: int = 0

    BUCKETS = (
        "delivered",
        "rejected_by_five9",
        "invalid",
        "expired",
        "duplicate",
        "failed",
        "already_delivered",
        "would_deliver",
    )

    def buckets(self) -> dict[str, int]:
        """Each bucket by name."""
        return {name: getattr(self, name) for name in self.BUCKETS}

    def balanced(self) -> bool:
        """True when every row read is in exactly one bucket."""
        return self.rows_read == sum(self.buckets().values())

    def to_json(self) -> str:
        """The report as JSON (no secrets are ever in it)."""
        return json.dumps(asdict(self), indent=2) + "\n"


@dataclass
class LoadProgress:
    """Callbacks a caller may set to follow the run: notices, rows read, rows to send, and
    rows settled (delivered, rejected by Five9, failed or expired as they left)."""

    notice: Callable[[str], None] = lambda _: None
    rows_read: Callable[[int], None] = lambda _: None
    staged: Callable[[int], None] = lambda _: None
    settled: Callable[[int], None] = lambda _: None


def chunks_of(
    batches: Iterator[ReadyBatch], size: int, *, json_objects: bool = True
) -> Iterator[Chunk]:
    """Cut the contacts into chunks of exactly `size` (the last may be smaller), in order;
    with `json_objects`, each with its contacts' REST JSON objects made ahead, a whole batch
    at a time."""
    number = 0
    carry: Chunk | None = None
    for batch in batches:
        objects = contact_objects(batch.contacts) if json_objects else None
        whole = Chunk(number, batch.contacts, batch.originals, batch.codes, objects)
        if carry is not None:
            whole = _joined(carry, whole)
        start, rows = 0, len(whole.codes)
        while rows - start >= size:
            yield _rows(whole, start, start + size, number)
            number += 1
            start += size
        carry = _rows(whole, start, rows, number) if start < rows else None
    if carry is not None:
        yield carry


def _rows(chunk: Chunk, start: int, stop: int, number: int) -> Chunk:
    objects = None if chunk.objects is None else chunk.objects.iloc[start:stop]
    return Chunk(
        number,
        chunk.contacts.iloc[start:stop],
        chunk.originals.iloc[start:stop],
        chunk.codes[start:stop],
        objects,
    )


def _joined(first: Chunk, second: Chunk) -> Chunk:
    objects = None
    if first.objects is not None and second.objects is not None:
        objects = pd.concat([first.objects, second.objects], ignore_index=True)
    return Chunk(
        first.number,
        pd.concat([first.contacts, second.contacts], ignore_index=True),
        pd.concat([first.originals, second.originals], ignore_index=True),
        np.concatenate([first.codes, second.codes]),
        objects,
    )


def _drain(batches: Iterator[ReadyBatch]) -> None:
    for _ in batches:
        pass


async def made_ahead(
    chunks: Iterator[Chunk], pipeline: ContactPipeline, progress: LoadProgress
) -> AsyncIterator[Chunk]:
    """The chunks, each made in a worker thread so reading and validating never stall the
    event loop (and the pacer); rows the pipeline set aside are reported as settled."""
    reported = 0
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        progress.settled(pipeline.set_aside - reported)
        reported = pipeline.set_aside
        if chunk is None:
            return
        yield chunk


def _embedded_sandbox(
    settings: Five9Settings, request: LoadRequest, stack: ExitStack
) -> Five9Settings:
    """Start the local Five9 sandbox in this process, with the list asked for."""
    from five9_sandbox import Sandbox, SandboxServer, SandboxSettings

    sandbox_settings = SandboxSettings(
        lists=(request.list_name,),
        max_requests=settings.max_requests,
        window_seconds=settings.rate_window_seconds,
        e164=settings.e164,
        soap_calls_per_minute=settings.soap_calls_per_minute,
        soap_minute_seconds=settings.soap_minute_seconds,
        soap_calls_per_hour=settings.soap_calls_per_hour,
        soap_hour_seconds=settings.soap_hour_seconds,
        soap_calls_per_day=settings.soap_calls_per_day,
        soap_day_seconds=settings.soap_day_seconds,
    )
    server = stack.enter_context(SandboxServer(Sandbox(sandbox_settings)))
    return settings.model_copy(
        update={
            "base_url": server.base_url,
            "consumer_key": sandbox_settings.consumer_key,
            "secret_key": SecretStr(sandbox_settings.secret_key),
            "domain_id": None,
            "soap_url": f"{server.base_url}{SOAP_SERVICE_PATH}",
            "username": sandbox_settings.username,
            "password": SecretStr(sandbox_settings.password),
        }
    )


SOAP_WINDOW_NOTE = (
    "Loaded over Five9's legacy SOAP web services (FIVE9_REST_ENABLED=false): each contact "
    "carries its guard start as the call time, but Five9 does not enforce the end of each "
    "window on this path; rows whose window closed before their call left were held back as "
    "expired."
)


def run_load(
    request: LoadRequest,
    settings: Five9Settings,
    progress: LoadProgress | None = None,
    shared_limit: SharedLimit | None = None,
) -> LoadReport:
    """Check the target, stage the sources, send the chunks; return the report.

    `shared_limit(settings)` gives an awaitable that admits one upload request under a rate
    limit shared by every run on the credential (Prefect's, when a server is configured)."""
    progress = progress or LoadProgress()
    if not request.list_name.strip():
        raise SettingError("--list needs the name of a Five9 list")
    options = request.normalise_options()
    now = request.load_time()
    mapping = ColumnMapping.load(request.mapping)
    sources = open_sources(
        request.sources, ReadOptions(delimiter=request.delimiter, encoding=request.encoding)
    )
    report = LoadReport(
        started_at=pd.Timestamp.now(tz="UTC").strftime(TIME),
        list_name=request.list_name,
        dry_run=request.dry_run,
        rate_limit=" and ".join(
            f"{calls} requests per {window:g} s" for calls, window in settings.rate_limits()
        ),
    )
    if not settings.rest_enabled:
        report.notes.append(SOAP_WINDOW_NOTE)
    with ExitStack() as stack:
        if settings.uses_sandbox:
            settings = _embedded_sandbox(settings, request, stack)
            report.target = "local sandbox"
            report.notes.append(
                "No Five9 credentials or base URL are set: loading into the local sandbox at "
                f"{settings.base_url}; nothing leaves this machine."
            )
        else:
            report.target = settings.resolved_base_url()
        rejects = (
            stack.enter_context(
                TableWriter(
                    request.rejects,
                    rejects_columns(original_columns(sources)),
                    "--rejects",
                    safe=True,
                )
            )
            if request.rejects
            else None
        )
        state: RunState | None = None
        if report.target != "local sandbox":
            ledger = RunLedger(request.state_dir)
            stack.callback(ledger.close)
            state = RunState.open(
                ledger, sources, settings, request.list_name, options, mapping.renames,
                request.restart and not request.dry_run,
            )  # fmt: skip
            report.run_id = state.run_id
            if not settings.rest_enabled and not request.dry_run:
                finished = _finish_open_imports(state, settings, request.list_name, options.keys)
                if finished is not None:
                    state.resumed = True
                    report.notes.append(_open_imports_note(finished))
            if state.resumed:
                report.notes.append(
                    f"Resuming run {state.run_id}: rows an earlier attempt delivered are not "
                    "sent again."
                )
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="contacts-etl-")))
        clock = load_clock(now)
        pipeline = ContactPipeline(
            sources,
            mapping,
            options,
            now,
            workdir,
            rejects,
            progress.rows_read,
            earlier=state.earlier() if state else NOTHING_EARLIER,
            clock=clock,
        )

        def set_aside(
            chunk: Chunk, labels: pd.Series, bucket: str, reason: pd.Series | str
        ) -> None:
            if rejects is not None:
                mask = chunk.originals.index.isin(labels)
                why = reason if isinstance(reason, str) else reason.reindex(chunk.originals.index)
                rejects.write(reject_rows(chunk.originals, mask, bucket, why))

        # FIVE9_REST_ENABLED (Five9's RestAPIEnabled) picks the wire; both sinks act alike.
        sink = (Five9RestSink if settings.rest_enabled else Five9SoapSink)(
            settings,
            request.list_name,
            UploadModes.of(settings, options.keys),
            set_aside,
            on_settled=progress.settled,
            clock=clock,
            hooks=state.hooks() if state and not request.dry_run else None,
            not_before=state.pacer_start(settings) if state else None,
            shared_limit=shared_limit(settings) if shared_limit and not request.dry_run else None,
        )

        async def load() -> None:
            async with sink:
                # The census reads every source once, so a bad file's error stays one line.
                total = await asyncio.to_thread(pipeline.census)
                for note in report.notes:
                    progress.notice(note)
                progress.staged(total)
                if request.dry_run:
                    await asyncio.to_thread(_drain, pipeline.contacts())
                    progress.settled(pipeline.counts.rows_read)
                    report.would_deliver = pipeline.counts.valid
                    report.chunks = math.ceil(report.would_deliver / settings.chunk_size)
                    report.requests = report.chunks
                    report.planned_seconds = round(
                        max(report.requests - 1, 0) * settings.request_interval(), 1
                    )
                    if not settings.rest_enabled and state is not None:
                        shortfall = _day_budget_note(report.requests, settings, state)
                        if shortfall:
                            report.notes.append(shortfall)
                            progress.notice(shortfall)
                    return
                chunks = chunks_of(
                    pipeline.contacts(), settings.chunk_size, json_objects=settings.rest_enabled
                )
                await sink.deliver(made_ahead(chunks, pipeline, progress))

        try:
            asyncio.run(load())
        except (ContactsEtlError, KeyboardInterrupt) as error:
            # What was settled before the stop still counts: a nightly job's report says so.
            _count_outcomes(report, pipeline, sink.totals, settings, request.dry_run)
            report.stopped = str(error) or "interrupted"
            report.unsettled = report.rows_read - sum(report.buckets().values())
            with contextlib.suppress(SettingError):
                _write_report(report, request.report)
            raise
    _count_outcomes(report, pipeline, sink.totals, settings, request.dry_run)
    _write_report(report, request.report)
    return report


def _day_budget_note(calls: int, settings: Five9Settings, state: RunState) -> str | None:
    """SOAP dry run: whether the user's calls left today (by the ledger) cover the load."""
    made = state.ledger.recent_sends(state.credential, settings.soap_day_seconds)
    left = max(settings.soap_calls_per_day - len(made), 0)
    if calls <= left:
        return None
    return (
        f"Five9's budget of SOAP import calls a day has {left:,} left for this user: "
        f"{calls - left:,} of the {calls:,} calls would not be made, and their rows would "
        "wait for `contacts-etl retry`."
    )


def _finish_open_imports(
    state: RunState, settings: Five9Settings, list_name: str, keys: tuple[str, ...]
) -> SinkTotals | None:
    """SOAP: settle the rows of imports an earlier attempt made but did not read the results
    of (it stopped while Five9 worked), so the load does not send them again. None when there
    were none."""
    imports = state.open_imports()
    if not imports:
        return None
    sink = Five9SoapSink(
        settings,
        list_name,
        UploadModes.of(settings, keys),
        lambda *_: None,  # the load itself writes the rejects of these rows (settled before)
        hooks=state.hooks(),
        not_before=state.pacer_start(settings),
    )

    async def settle() -> None:
        async with sink:
            await sink.settle_open_imports(
                (held.identifier, letters_chunk(held.chunk, held.rows)) for held in imports
            )

    asyncio.run(settle())
    return sink.totals


def _open_imports_note(totals: SinkTotals) -> str:
    settled = totals.delivered + totals.rejected_by_five9
    note = (
        f"Read the results of imports an earlier attempt left unread: {settled:,} rows "
        "settled there are not sent again"
    )
    if totals.failed:
        note += f"; Five9 could not say what became of {totals.failed:,}, so they are sent again"
    return note + "."


def _count_outcomes(
    report: LoadReport,
    pipeline: ContactPipeline,
    totals: SinkTotals,
    settings: Five9Settings,
    dry_run: bool,
) -> None:
    """The pipeline's and the sink's counts into the report."""
    counts = pipeline.counts
    report.rows_read = counts.rows_read
    report.invalid = counts.invalid
    report.duplicate = counts.duplicate
    report.expired = counts.expired + totals.expired
    report.delivered = totals.delivered
    report.already_delivered = counts.already_delivered
    report.rejected_by_five9 = counts.rejected_by_five9 + totals.rejected_by_five9
    report.failed = totals.failed
    if not dry_run:
        report.requests = totals.requests
        report.chunks = totals.chunks
    report.throttled_429 = totals.throttled
    sent = totals.send_times
    if len(sent) >= 2 and sent[-1] > sent[0]:
        spread = (len(sent) - 1) / (sent[-1] - sent[0])
        report.requests_per_window = round(spread * settings.rate_window_seconds, 1)
    report.retries = totals.retries
    if isinstance(totals, SoapTotals):
        report.five9_warnings = dict(totals.warnings)
    report.calls_spent_until = calls_spent_until(totals)
    report.finished_at = pd.Timestamp.now(tz="UTC").strftime(TIME)


def _write_report(report: LoadReport, path: Path | None) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.to_json(), encoding="utf-8")
    except OSError as error:
        raise SettingError(f"--report {path} cannot be written: {error.strerror}") from None


def calls_spent_until(totals: SinkTotals) -> str | None:
    """SOAP: when the day's budget of import calls, spent during the run, allows calls again."""
    if not isinstance(totals, SoapTotals) or totals.day_spent_until is None:
        return None
    return pd.Timestamp(totals.day_spent_until, unit="s", tz="UTC").ceil("min").strftime(TIME)

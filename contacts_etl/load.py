"""The main job: the valid, normalised contacts of the sources land in a named Five9 list.

Order matters: the credentials, the domain and the list are checked first (a refusal stops the
run before a row is read), then the sources are staged, then the chunks go out through the
throttled sink. With no Five9 credentials and no base URL, a local sandbox is started in this
process and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import SecretStr

from contacts_etl.chunking import chunks_of, made_ahead
from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.errors import ContactsEtlError, SettingError
from contacts_etl.outputs import TableWriter, rejects_columns
from contacts_etl.pipeline import (
    NOTHING_EARLIER,
    ContactPipeline,
    ReadyBatch,
    contact_columns,
    original_columns,
)
from contacts_etl.preview import PreviewRequest
from contacts_etl.run_report import TIME, LoadReport, count_outcomes, write_report
from contacts_etl.run_state import RunState
from contacts_etl.soap_resume import counters_note, finish_open_imports, open_imports_note
from schemas.fields import CANONICAL_FIELDS, INTERNAL_FIELDS
from sinks.five9_wire import UploadModes
from sinks.ledger import RunLedger
from sinks.rest_sink import Chunk, Five9RestSink
from sinks.settings import SOAP_SERVICE_PATH, Five9Settings
from sinks.soap_sink import Five9SoapSink
from sources import ReadOptions, open_sources
from transforms.expiry import load_clock
from transforms.normalise import reject_rows

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
class LoadProgress:
    """Callbacks a caller may set to follow the run: notices, rows read, rows to send, and
    rows settled (delivered, rejected by Five9, failed or expired as they left)."""

    notice: Callable[[str], None] = lambda _: None
    rows_read: Callable[[int], None] = lambda _: None
    staged: Callable[[int], None] = lambda _: None
    settled: Callable[[int], None] = lambda _: None


def _drain(batches: Iterator[ReadyBatch]) -> None:
    for _ in batches:
        pass


def _embedded_sandbox(
    settings: Five9Settings, request: LoadRequest, custom: frozenset[str], stack: ExitStack
) -> Five9Settings:
    """Start the local Five9 sandbox in this process, with the list asked for and the run's
    custom fields (a stand-in cannot know the real domain's; any other name is refused)."""
    from five9_sandbox import Sandbox, SandboxServer, SandboxSettings

    sandbox_settings = SandboxSettings(
        lists=(request.list_name,),
        custom_fields=custom,
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
SOAP_CALL_TIME_NOTE = (
    "Five9 applies a contact's call time only if the list's campaign exists when the record "
    "is added: a list attached to a campaign later may be dialled before the call time."
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
        report.notes += [SOAP_WINDOW_NOTE, SOAP_CALL_TIME_NOTE]
    with ExitStack() as stack:
        if settings.uses_sandbox:
            columns = contact_columns(sources, mapping)
            custom = frozenset(columns) - {*CANONICAL_FIELDS, *INTERNAL_FIELDS}
            settings = _embedded_sandbox(settings, request, custom, stack)
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
                finished = finish_open_imports(state, settings, request.list_name, options.keys)
                if finished is not None:
                    state.resumed = True
                    report.notes.append(open_imports_note(finished))
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
            notice=progress.notice,
        )

        async def load() -> None:
            async with sink:
                if isinstance(sink, Five9SoapSink):
                    counted = counters_note(sink.totals.counters)
                    if counted:
                        report.notes.append(counted)
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
                    if isinstance(sink, Five9SoapSink):
                        shortfall = sink.day_shortfall(report.requests)
                        if shortfall:
                            report.notes.append(shortfall)
                            progress.notice(shortfall)
                    return
                chunks = chunks_of(
                    pipeline.contacts(), settings.chunk_size, json_objects=settings.rest_enabled
                )
                await sink.deliver(made_ahead(chunks, pipeline, progress.settled))

        try:
            asyncio.run(load())
        except (ContactsEtlError, KeyboardInterrupt) as error:
            # What was settled before the stop still counts: a nightly job's report says so.
            count_outcomes(report, pipeline, sink.totals, settings, request.dry_run)
            report.stopped = str(error) or "interrupted"
            report.unsettled = report.rows_read - sum(report.buckets().values())
            with contextlib.suppress(SettingError):
                write_report(report, request.report)
            raise
    count_outcomes(report, pipeline, sink.totals, settings, request.dry_run)
    write_report(report, request.report)
    return report

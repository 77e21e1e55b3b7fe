"""The `load-contacts` flow: sources into a Five9 list, with the run's progress, summary and
rejected rows as artifacts of its list, and the pipeline's log lines in the run's log. A load
that gave up on rows ends Failed (so automations and notifications fire); a fatal problem ends
Failed with its one line (an unexpected one with its traceback in the run's log)."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Failed

from contacts_etl.failure import UnexpectedError
from contacts_etl.load import LoadProgress, LoadRequest, follower, run_load
from contacts_etl.run_report import LoadReport
from flows.artifacts import ProgressArtifact, post_rejects, post_stopped, post_summary
from flows.logs import run_logs, scrubbed
from flows.parameters import PARAMETER_NAMES, input_fields
from flows.rate_limit import shared_limit
from flows.secrets import five9_settings, storage_credentials
from schemas.errors import ContactsEtlError
from schemas.fields import DEFAULT_ZONE
from sinks.state_store import without_password
from sources.storage import storage_options


def load_run_name() -> str:
    """`load demo 2026-12-04T07:00Z`: the list and when the run was due (UTC)."""
    parameters = flow_run.get_parameters()
    return f"load {parameters.get('list_name', '')} {due_at()}"


def due_at() -> str:
    """When this flow run was due, in UTC to the minute: `2026-12-04T07:00Z`."""
    when = flow_run.get_scheduled_start_time().astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M}Z"


def failed_rows_message(report: LoadReport) -> str:
    """Why a run whose rows failed ends Failed, and how to go on."""
    return (
        f"{report.failed:,} of {report.rows_read:,} rows failed and wait as dead letters; "
        "run the flow again to retry them with the rest, or `contacts-etl retry --list "
        f"{report.list_name!r}` once the cause is fixed"
    )


def _load(request: LoadRequest) -> LoadReport:
    """The load, followed by the progress artifact and by a caller in this process."""
    settings = five9_settings()
    artifact = ProgressArtifact(request.list_name)
    caller = follower()

    def staged(total: int) -> None:
        artifact.staged(total)
        caller.staged(total)

    def settled(rows: int) -> None:
        artifact.settled(rows)
        caller.settled(rows)

    progress = LoadProgress(
        notice=caller.notice,
        rows_read=caller.rows_read,
        staged=staged,
        settled=settled,
        reported=caller.reported,
    )
    # The sink retries each request itself (bounded, honouring Retry-After) and the run ledger
    # makes a rerun resume, so nothing retries on top: no retry storms of retries.
    gate = None if settings.uses_sandbox else shared_limit
    return run_load(request, settings, progress, shared_limit=gate)


@flow(name="load-contacts", flow_run_name=load_run_name)
def load_contacts(
    sources: list[str],
    list_name: str,
    mapping: str | None = None,
    timezone: str = DEFAULT_ZONE,
    dry_run: bool = False,
    rejects: str | None = None,
    report: str | None = None,
    calling_hours: str | None = None,
    restart: bool = False,
    keys: list[str] | None = None,
    delimiter: str | None = None,
    encoding: Literal["utf-8", "latin-1"] = "utf-8",
    state_dir: str | None = None,
    as_of: datetime | None = None,
    state_url: str | None = None,
    order: Literal["file", "deadline"] = "file",
) -> dict[str, Any] | State:
    """Load the valid contacts of the sources into a Five9 list; return the run report.

    Args:
        sources: CSV or Parquet files, folders or glob patterns: local paths, or URLs such as
            s3://bucket/exports/*.parquet.
        list_name: The Five9 list to load into (it must exist).
        mapping: A TOML file that renames the sources' columns to Five9's fields.
        timezone: The IANA zone of guard times that carry no offset, in rows without a
            timezone of their own.
        dry_run: Check, read and validate everything; send nothing.
        rejects: Where to write every row not delivered, with its reason (.csv or .parquet; a
            path or a URL). The first rows are shown as an artifact either way.
        report: Where to write the run report as JSON (a path or a URL).
        calling_hours: Narrow each window to these hours in each row's zone, e.g. 08:00-21:00.
        restart: Forget what earlier attempts of this run delivered and send every row again.
        keys: The fields Five9 matches records on (default: number1).
        delimiter: The CSV delimiter (default: sniffed; a tab as \\t).
        encoding: The CSV encoding.
        state_dir: The worker's folder for the run ledger, when no state store is shared.
        as_of: Judge windows at this moment (with an offset) instead of now.
        state_url: The state store every worker shares, without a password (it is shown
            here): else the worker's CONTACTS_STATE_URL.
        order: How rows are sent: file (as read, from the first batch on) or deadline (by
            the end of their window, soonest first, so fewer windows close before their turn
            in a long load; the whole run is read before the first upload).
    """
    with (
        tempfile.TemporaryDirectory(prefix="contacts-load-") as scratch,
        run_logs(),
        ExitStack() as stack,
    ):
        try:
            stack.enter_context(storage_options(storage_credentials()))
            fields = input_fields(
                sources, mapping, timezone, calling_hours, keys, delimiter, encoding, as_of, rejects
            )
            fields["rejects"] = fields["rejects"] or Path(scratch) / "rejects.csv"
            request = LoadRequest(
                **fields,
                list_name=list_name,
                dry_run=dry_run,
                report=report or None,
                restart=restart,
                e164=five9_settings().e164,
                state_dir=Path(state_dir) if state_dir else None,
                state_url=without_password(state_url) if state_url else None,
                order=order,
            )
            result = _load(request)
        except ContactsEtlError as error:
            message = error.worded(PARAMETER_NAMES)
            if isinstance(error, UnexpectedError):  # the traceback belongs in the run's log
                get_run_logger().error("%s", scrubbed(error.trace))
            post_stopped(list_name, message)
            return Failed(message=message)
        post_summary(result)
        post_rejects(fields["rejects"], result)
    if result.failed and not result.dry_run:
        return Failed(message=failed_rows_message(result), data=result.as_dict())
    return result.as_dict()

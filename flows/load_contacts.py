"""The `load-contacts` flow: sources into a Five9 list, sharing one rate limit per credential,
with a progress artifact while it runs and a summary and rejects table when it ends."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.schemas.objects import State
from prefect.states import Failed

from contacts_etl.load import LoadProgress, LoadRequest, follower, run_load
from contacts_etl.outputs import first_rows_of
from contacts_etl.run_report import LoadReport
from flows.parameters import PARAMETER_NAMES, input_fields
from flows.rate_limit import shared_limit
from flows.secrets import five9_settings
from schemas.errors import ContactsEtlError
from schemas.fields import DEFAULT_ZONE
from sinks.state_store import without_password

REJECTS_SHOWN = 100


def summary_markdown(report: LoadReport) -> str:
    """The buckets, the requests, the rate achieved and the time taken, for the Prefect UI."""
    lines = [
        f"# Load into {report.list_name!r}" + (" (dry run)" if report.dry_run else ""),
        "",
        f"Target: {report.target}. Rate limit: {report.rate_limit}.  ",
        f"Started {report.started_at}, finished {report.finished_at}.",
        "",
        "| bucket | rows |",
        "|---|---:|",
        f"| rows read | {report.rows_read:,} |",
        *(f"| {bucket} | {count:,} |" for bucket, count in report.buckets().items()),
        "",
        f"Requests: {report.requests:,} for {report.chunks:,} chunks; "
        f"429 answers: {report.throttled_429}; retries: {report.retries}.  ",
        f"Rate achieved: {report.requests_per_window:g} requests per window "
        f"(limit {report.rate_limit}).",
    ]
    lines += [f"\n{note}" for note in report.notes]
    return "\n".join(lines)


class ProgressArtifact:
    """A Prefect progress artifact that follows the rows settled, a percent at a time."""

    def __init__(self, list_name: str) -> None:
        self._id: UUID | None = None
        self._total = 0
        self._done = 0
        self._shown = -1.0
        self._list_name = list_name

    def staged(self, total: int) -> None:
        self._total = total
        self._id = create_progress_artifact(  # type: ignore[assignment]
            0.0, key="load-progress", description=f"Contacts settled into {self._list_name!r}"
        )

    def settled(self, rows: int) -> None:
        self._done += rows
        percent = 100.0 * self._done / self._total if self._total else 100.0
        if self._id is not None and (percent - self._shown >= 1.0 or percent >= 100.0):
            update_progress_artifact(self._id, min(percent, 100.0))
            self._shown = percent


def rejects_table(path: Path, report: LoadReport) -> None:
    """The first rows not delivered, with the count, as a table artifact."""
    not_delivered = report.rows_read - report.delivered - report.already_delivered
    not_delivered -= report.would_deliver
    rows = first_rows_of(path, REJECTS_SHOWN)
    create_table_artifact(
        table=[{str(k): v for k, v in row.items()} for row in rows.to_dict(orient="records")],
        key="load-rejects",
        description=f"Rows not delivered: {not_delivered:,} (first {len(rows)} shown)",
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


@flow(name="load-contacts")
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
    encoding: str = "utf-8",
    state_dir: str | None = None,
    as_of: str | None = None,
    state_url: str | None = None,
) -> dict[str, Any] | State:
    """Load the valid contacts of the sources into the Five9 list; return the run report.
    A fatal problem ends the run Failed with its one-line message (and no traceback)."""
    with tempfile.TemporaryDirectory(prefix="contacts-load-") as scratch:
        fields = input_fields(
            sources, mapping, timezone, calling_hours, keys, delimiter, encoding, as_of, rejects
        )
        fields["rejects"] = fields["rejects"] or Path(scratch) / "rejects.csv"
        try:
            request = LoadRequest(
                **fields,
                list_name=list_name,
                dry_run=dry_run,
                report=Path(report) if report else None,
                restart=restart,
                e164=five9_settings().e164,
                state_dir=Path(state_dir) if state_dir else None,
                state_url=without_password(state_url) if state_url else None,
            )
            result = _load(request)
        except ContactsEtlError as error:
            message = error.worded(PARAMETER_NAMES)
            create_markdown_artifact(
                f"# Load into {list_name!r} stopped\n\n{message}", key="load-summary"
            )
            return Failed(message=message)
        create_markdown_artifact(
            summary_markdown(result), key="load-summary", description="Five9 load summary"
        )
        rejects_table(fields["rejects"], result)
    return result.as_dict()

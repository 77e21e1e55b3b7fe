"""What a load posts to the Prefect UI: a summary, a progress bar, a table of the rows not
delivered (and a link to the whole rejects file when it was written to object storage), each
under a key of its list, so the artifacts of every list keep their own history."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from contacts_etl.outputs import first_rows_of
from contacts_etl.run_report import LoadReport

REJECTS_SHOWN = 100


def artifact_key(kind: str, list_name: str) -> str:
    """`load-summary-nightly-renewals`: a key Prefect takes (lower-case letters, digits and
    dashes), one per list."""
    slug = re.sub(r"[^a-z0-9]+", "-", list_name.lower()).strip("-") or "list"
    return f"{kind}-{slug}"


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


def post_summary(report: LoadReport) -> None:
    create_markdown_artifact(
        summary_markdown(report),
        key=artifact_key("load-summary", report.list_name),
        description="Five9 load summary",
    )


def post_stopped(list_name: str, message: str) -> None:
    create_markdown_artifact(
        f"# Load into {list_name!r} stopped\n\n{message}",
        key=artifact_key("load-summary", list_name),
    )


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
            0.0,
            key=artifact_key("load-progress", self._list_name),
            description=f"Contacts settled into {self._list_name!r}",
        )

    def settled(self, rows: int) -> None:
        self._done += rows
        percent = 100.0 * self._done / self._total if self._total else 100.0
        if self._id is not None and (percent - self._shown >= 1.0 or percent >= 100.0):
            update_progress_artifact(self._id, min(percent, 100.0))
            self._shown = percent


def post_rejects(rejects: str | Path, report: LoadReport) -> None:
    """The first rows not delivered, with the count, as a table; and where the whole file is,
    as a link, when it is in object storage (a URL a person can follow)."""
    not_delivered = report.rows_read - report.delivered - report.already_delivered
    not_delivered -= report.would_deliver
    rows = first_rows_of(rejects, REJECTS_SHOWN)
    create_table_artifact(
        table=[{str(k): v for k, v in row.items()} for row in rows.to_dict(orient="records")],
        key=artifact_key("load-rejects", report.list_name),
        description=f"Rows not delivered: {not_delivered:,} (first {len(rows)} shown)",
    )
    if "://" in str(rejects):
        create_link_artifact(
            str(rejects),
            link_text=f"All {not_delivered:,} rows not delivered",
            key=artifact_key("load-rejects-file", report.list_name),
        )

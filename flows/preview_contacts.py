"""The `preview-contacts` flow: the analyst's preview, with its summary and rejects as artifacts."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import flow
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.client.schemas.objects import State
from prefect.states import Failed

from contacts_etl.outputs import first_rows_of
from contacts_etl.preview import PreviewRequest, PreviewResult, run_preview
from contacts_etl.preview_profile import PreviewProfile
from flows.load_contacts import due_at
from flows.parameters import PARAMETER_NAMES, input_fields
from flows.secrets import storage_credentials
from schemas.errors import ContactsEtlError
from schemas.fields import DEFAULT_ZONE
from sinks.settings import e164_domain
from sources.storage import storage_options

REJECTS_SHOWN = 100


def summary_markdown(result: PreviewResult) -> str:
    """The buckets and the first rows, guard windows in UTC and in each row's own zone."""
    lines = [
        "# Contacts preview",
        "",
        f"Sources: {', '.join(result.sources)}  ",
        f"Windows judged against {result.load_time:%Y-%m-%dT%H:%M:%SZ}; "
        f"default zone {result.default_zone}.",
        "",
        "| bucket | rows |",
        "|---|---:|",
        f"| rows read | {result.counts.rows_read:,} |",
        *(f"| {bucket} | {count:,} |" for bucket, count in result.counts.buckets().items()),
    ]
    if not result.first_rows.empty:
        shown = result.first_rows[
            [
                "source_line",
                "number1",
                "start_utc",
                "end_utc",
                "start_local",
                "end_local",
                "timezone",
            ]
        ]
        lines += ["", "## First contacts that would be sent", "", *markdown_table(shown)]
    return "\n".join(lines)


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """A DataFrame as Markdown table lines (pipes in values escaped)."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *body]


def post_aggregates(result: PreviewResult) -> None:
    """The report's aggregates as markdown artifacts (reasons, files, zones), and a link to
    the HTML report when one was written."""
    profile = result.profile
    if profile is None:
        return
    create_markdown_artifact(
        reasons_markdown(profile), key="preview-reasons", description="Why rows are invalid"
    )
    create_markdown_artifact(
        files_markdown(result), key="preview-files", description="Where each file's rows went"
    )
    create_markdown_artifact(
        zones_markdown(profile), key="preview-zones", description="Valid windows by time zone"
    )
    if result.html:
        where = str(result.html)
        link = where if "://" in where else Path(where).resolve().as_uri()
        create_link_artifact(link, link_text="The preview's HTML report", key="preview-report")


def reasons_markdown(profile: PreviewProfile) -> str:
    """The most frequent faults of invalid rows, each with its column, count and first row."""
    top = profile.top_reasons()
    if not top:
        return "# Invalid rows\n\nNo row is invalid."
    table = pd.DataFrame(
        {
            "reason": [r.kind for r in top],
            "column": [r.column for r in top],
            "rows": [f"{r.rows:,}" for r in top],
            "first example": [f"{r.example_file} line {r.example_line}: {r.example}" for r in top],
        }
    )
    return "\n".join(["# Why rows are invalid", "", *markdown_table(table)])


def files_markdown(result: PreviewResult) -> str:
    """Rows per file and bucket, with the total row."""
    assert result.profile is not None
    names = ["valid", *result.counts.buckets()]
    table = result.profile.file_buckets(names)
    table.loc["all files"] = table.sum()
    shown = table.reset_index().rename(columns={"index": "file"})
    shown.insert(1, "rows read", table.sum(axis=1).to_numpy())
    return "\n".join(["# Where each file's rows went", "", *markdown_table(shown)])


def zones_markdown(profile: PreviewProfile) -> str:
    """Valid windows per time zone, and the local hour most of them open at."""
    heat = profile.heatmap()
    if heat.empty:
        return "# Valid windows by time zone\n\nNo valid window."
    table = pd.DataFrame(
        {
            "time zone": heat.index,
            "windows": [f"{n:,}" for n in heat.sum(axis=1)],
            "busiest local start hour": [f"{int(h):02d}:00" for h in heat.idxmax(axis=1)],
        }
    )
    return "\n".join(["# Valid windows by time zone", "", *markdown_table(table)])


def preview_run_name() -> str:
    """`preview 2026-12-04T15:31Z`: when the preview was asked for (UTC)."""
    return f"preview {due_at()}"


@flow(name="preview-contacts", flow_run_name=preview_run_name, log_prints=False)
def preview_contacts(
    sources: list[str],
    mapping: str | None = None,
    timezone: str = DEFAULT_ZONE,
    calling_hours: str | None = None,
    e164: bool | None = None,
    output: str | None = None,
    rejects: str | None = None,
    limit: int = 20,
    report: str | None = None,
    keys: list[str] | None = None,
    as_of: datetime | None = None,
    delimiter: str | None = None,
    encoding: Literal["utf-8", "latin-1"] = "utf-8",
) -> dict[str, int] | State:
    """Preview a load: what would be sent, and every row set aside with its reason, as
    artifacts; return the rows in each bucket. Nothing is sent to Five9.

    Args:
        sources: CSV or Parquet files, folders or glob patterns: local paths, or URLs such as
            s3://bucket/exports/*.csv.
        mapping: A TOML file that renames the sources' columns to Five9's fields.
        timezone: The IANA zone of guard times that carry no offset, in rows without a
            timezone of their own.
        calling_hours: Narrow each window to these hours in each row's zone, e.g. 08:00-21:00.
        e164: Whether the Five9 domain keeps numbers in E.164 (+ and country code); empty:
            the worker's FIVE9_E164, as a load reads it.
        output: Where to write the rows that would be sent (.csv or .parquet; a path or URL).
        rejects: Where to write every row set aside, with its reason (a path or a URL).
        limit: How many of the first contacts the summary shows.
        report: Where to write the analyst's HTML report, one self-contained file with
            charts (a path or URL; needs contacts-etl[report] on the worker).
        keys: The fields Five9 matches records on (default: number1).
        as_of: Judge windows at this moment instead of now.
        delimiter: The CSV delimiter (default: sniffed; a tab as \\t).
        encoding: The CSV encoding.
    """
    with tempfile.TemporaryDirectory(prefix="contacts-preview-") as scratch, ExitStack() as stack:
        try:
            stack.enter_context(storage_options(storage_credentials()))
            fields = input_fields(
                sources, mapping, timezone, calling_hours, keys, delimiter, encoding, as_of, rejects
            )
            rejects_path = fields["rejects"] = fields["rejects"] or Path(scratch) / "rejects.csv"
            request = PreviewRequest(
                **fields,
                e164=e164_domain() if e164 is None else e164,
                output=output or None,
                limit=limit,
                html=report or None,
                aggregates=True,
            )
            result = run_preview(request)
        except ContactsEtlError as error:
            message = error.worded(PARAMETER_NAMES)
            create_markdown_artifact(
                f"# Contacts preview stopped\n\n{message}", key="preview-summary"
            )
            return Failed(message=message)
        create_markdown_artifact(
            summary_markdown(result), key="preview-summary", description="Contacts preview"
        )
        post_aggregates(result)
        set_aside = result.counts.rows_read - result.counts.valid
        table = first_rows_of(rejects_path, REJECTS_SHOWN)
        create_table_artifact(
            table=[
                {str(name): value for name, value in row.items()}
                for row in table.to_dict(orient="records")
            ],
            key="preview-rejects",
            description=f"Rows set aside: {set_aside:,} (first {min(set_aside, REJECTS_SHOWN)})",
        )
    return {"rows_read": result.counts.rows_read, **result.counts.buckets()}

"""The `preview-contacts` flow: the analyst's preview, with its summary and rejects as artifacts."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State
from prefect.states import Failed

from contacts_etl.outputs import first_rows_of
from contacts_etl.preview import PreviewRequest, PreviewResult, run_preview
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

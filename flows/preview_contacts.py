"""The `preview-contacts` flow: the analyst's preview, with its summary and rejects as artifacts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State
from prefect.states import Failed

from contacts_etl.outputs import first_rows_of
from contacts_etl.preview import PreviewRequest, PreviewResult, run_preview
from flows.parameters import PARAMETER_NAMES, input_fields
from schemas.errors import ContactsEtlError
from schemas.fields import DEFAULT_ZONE
from sinks.settings import e164_domain

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


@flow(name="preview-contacts", log_prints=False)
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
    as_of: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> dict[str, int] | State:
    """Preview a load: post the summary and the rows set aside as artifacts; return the buckets.
    `e164` defaults to FIVE9_E164, as a load's does. A fatal problem ends the run Failed with
    its one-line message."""
    with tempfile.TemporaryDirectory(prefix="contacts-preview-") as scratch:
        fields = input_fields(
            sources, mapping, timezone, calling_hours, keys, delimiter, encoding, as_of, rejects
        )
        rejects_path = fields["rejects"] = fields["rejects"] or Path(scratch) / "rejects.csv"
        try:
            request = PreviewRequest(
                **fields,
                e164=e164_domain() if e164 is None else e164,
                output=Path(output) if output else None,
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

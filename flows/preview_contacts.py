"""The `preview-contacts` flow: the analyst's preview, with its summary and rejects as artifacts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from contacts_etl.preview import PreviewRequest, PreviewResult, run_preview
from schemas.fields import DEFAULT_ZONE

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


@task(name="preview-sources")
def preview_sources(request: PreviewRequest) -> PreviewResult:
    """Read, validate and normalise the sources; no network."""
    return run_preview(request)


@flow(name="preview-contacts", log_prints=False)
def preview_contacts(
    sources: list[str],
    mapping: str | None = None,
    timezone: str = DEFAULT_ZONE,
    calling_hours: str | None = None,
    e164: bool = False,
    output: str | None = None,
    rejects: str | None = None,
    limit: int = 20,
) -> dict[str, int]:
    """Preview a load: post the summary and the rows set aside as artifacts; return the buckets."""
    with tempfile.TemporaryDirectory(prefix="contacts-preview-") as scratch:
        rejects_path = Path(rejects) if rejects else Path(scratch) / "rejects.csv"
        request = PreviewRequest(
            sources=sources,
            mapping=Path(mapping) if mapping else None,
            timezone=timezone,
            calling_hours=calling_hours,
            e164=e164,
            output=Path(output) if output else None,
            rejects=rejects_path,
            limit=limit,
        )
        result = preview_sources(request)
        create_markdown_artifact(
            summary_markdown(result), key="preview-summary", description="Contacts preview"
        )
        set_aside = result.counts.rows_read - result.counts.valid
        if rejects_path.suffix.lower() == ".csv":
            table = pd.read_csv(rejects_path, dtype=str, keep_default_na=False, nrows=REJECTS_SHOWN)
        else:
            table = pd.read_parquet(rejects_path).head(REJECTS_SHOWN)
        create_table_artifact(
            table=[
                {str(name): value for name, value in row.items()}
                for row in table.astype("str").fillna("").to_dict(orient="records")
            ],
            key="preview-rejects",
            description=f"Rows set aside: {set_aside:,} (first {min(set_aside, REJECTS_SHOWN)})",
        )
    return {"rows_read": result.counts.rows_read, **result.counts.buckets()}

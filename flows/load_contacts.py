"""The `load-contacts` flow: sources into a Five9 list, with a run summary artifact."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from contacts_etl.load import LoadReport, LoadRequest, run_load
from sinks.settings import load_settings
from transforms.normalise import DEFAULT_ZONE


def summary_markdown(report: LoadReport) -> str:
    """The buckets, the requests and the time taken, for the Prefect UI."""
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
        f"429 answers: {report.throttled_429}; retries: {report.retries}.",
    ]
    lines += [f"\n{note}" for note in report.notes]
    return "\n".join(lines)


# The sink retries each request itself (bounded, honouring Retry-After); a task-level retry on
# top would re-send whole runs, so the task does not retry.
@task(name="load-to-five9", retries=0)
def load_to_five9(request: LoadRequest) -> LoadReport:
    """Check the list, extract, validate and normalise, then send through the paced sink."""
    return run_load(request, load_settings())


@flow(name="load-contacts")
def load_contacts(
    sources: list[str],
    list_name: str,
    mapping: str | None = None,
    timezone: str = DEFAULT_ZONE,
    dry_run: bool = False,
    rejects: str | None = None,
    report: str | None = None,
) -> dict[str, Any]:
    """Load the valid contacts of the sources into the Five9 list; return the run report."""
    request = LoadRequest(
        sources=sources,
        mapping=Path(mapping) if mapping else None,
        timezone=timezone,
        list_name=list_name,
        dry_run=dry_run,
        rejects=Path(rejects) if rejects else None,
        report=Path(report) if report else None,
        e164=load_settings().e164,
    )
    result = load_to_five9(request)
    create_markdown_artifact(
        summary_markdown(result), key="load-summary", description="Five9 load summary"
    )
    return asdict(result)

"""What a person sees in the terminal: the run's buckets and the first rows that would be sent."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from contacts_etl.preview import PreviewResult

BUCKET_NOTES = {
    "valid": "would be sent",
    "invalid": "failed validation; never sent",
    "expired": "window closed before the load",
    "duplicate": "a later row has the same key",
}


def summary_table(result: PreviewResult) -> Table:
    """Rows read and each bucket; the buckets add up to the rows read."""
    table = Table(title="Preview", title_justify="left")
    table.add_column("bucket")
    table.add_column("rows", justify="right")
    table.add_column("")
    table.add_row("rows read", f"{result.counts.rows_read:,}", ", ".join(result.sources))
    for bucket, count in result.counts.buckets().items():
        table.add_row(bucket, f"{count:,}", BUCKET_NOTES[bucket])
    return table


def _span(start: str, end: str) -> str:
    """'2028-02-14 10:30 EST' and '2028-02-14 16:00 EST' as '2028-02-14 10:30-16:00 EST'."""
    start_day, start_time, *start_zone = start.split(" ")
    end_day, end_time, *end_zone = end.split(" ")
    if start_day == end_day and start_zone == end_zone:
        return f"{start_day} {start_time}-{end_time} {' '.join(end_zone)}".strip()
    return f"{start} to {end}"


def first_rows_table(result: PreviewResult, limit: int) -> Table:
    """The first contacts that would be sent, guard windows in UTC and in the row's own zone."""
    table = Table(title=f"First {limit} contacts that would be sent", title_justify="left")
    for name in ("line", "number1", "name", "window (UTC)", "window (local)", "zone"):
        table.add_column(name)
    rows = result.first_rows
    for _, row in rows.head(limit).iterrows():
        name = " ".join(
            str(row[c])
            for c in ("first_name", "last_name")
            if c in rows and isinstance(row[c], str)
        )
        utc = _span(
            row["start_utc"].replace("T", " ")[:16] + " UTC",
            row["end_utc"].replace("T", " ")[:16] + " UTC",
        )
        table.add_row(
            str(row["source_line"]),
            str(row["number1"]),
            name,
            utc,
            _span(row["start_local"], row["end_local"]),
            str(row["timezone"]),
        )
    return table


def show_preview(result: PreviewResult, limit: int, console: Console) -> None:
    """Print the summary, the first rows and where the files went."""
    console.print(summary_table(result))
    moment = result.load_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    console.print(
        f"Windows judged against {moment}; times without an offset or zone read in "
        f"{result.default_zone}."
    )
    if limit and not result.first_rows.empty:
        console.print(first_rows_table(result, limit))
    if result.output:
        console.print(f"Contacts that would be sent: {result.output}")
    if result.rejects:
        console.print(f"Rows set aside, with reasons: {result.rejects}")

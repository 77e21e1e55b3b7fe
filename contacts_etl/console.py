"""What a person sees in the terminal: the run's buckets and the first rows that would be sent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from contacts_etl.load import LoadProgress
from contacts_etl.preview import PreviewResult
from contacts_etl.run_report import LoadReport, windows_closing_note

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
        if bucket in BUCKET_NOTES:
            table.add_row(bucket, f"{count:,}", BUCKET_NOTES[bucket])
    return table


def _span(start: str, end: str) -> str:
    """'2028-02-14 10:30 EST' and '2028-02-14 16:00 EST' as '2028-02-14 10:30-16:00 EST'."""
    start_day, start_time, *start_zone = start.split(" ")
    end_day, end_time, *end_zone = end.split(" ")
    if start_day == end_day and start_zone == end_zone:
        return f"{start_day} {start_time}-{end_time} {' '.join(end_zone)}".strip()
    return f"{start} to {end}"


FIRST_READ = "First {limit} contacts read (valid, window open)"
FIRST_SENT = "First {limit} contacts that would be sent"


def _cell(text: str, width: int = 40) -> str:
    """A value as one short line for the terminal (a field may hold line breaks or megabytes);
    the files written keep it whole."""
    line = " ".join(text[: width * 4].split())
    return line if len(line) <= width and len(text) <= width * 4 else line[: width - 1] + "…"


def first_rows_table(rows: pd.DataFrame, limit: int, title: str = FIRST_SENT) -> Table:
    """The first contacts, guard windows in UTC and in the row's own zone."""
    table = Table(title=title.format(limit=limit), title_justify="left")
    for name in ("line", "number1", "name", "window (UTC)", "window (local)", "zone"):
        table.add_column(name)
    for _, row in rows.head(limit).iterrows():
        name = _cell(
            " ".join(
                str(row[c])
                for c in ("first_name", "last_name")
                if c in rows and isinstance(row[c], str)
            )
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


def show_first_rows(rows: pd.DataFrame, limit: int, console: Console) -> None:
    """Print the first rows read, as soon as they are known (before the whole run is read)."""
    if limit and not rows.empty:
        console.print(first_rows_table(rows, limit, FIRST_READ))
        console.print(
            "A later row with the same key may still replace one of these; the summary "
            "counts those as duplicate."
        )


def show_preview(
    result: PreviewResult, limit: int, console: Console, *, first_rows_shown: bool = False
) -> None:
    """Print the summary, the first rows (unless shown already) and where the files went."""
    console.print(summary_table(result))
    moment = result.load_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    console.print(
        f"Windows judged against {moment}; times without an offset or zone read in "
        f"{result.default_zone}."
    )
    if limit and not result.first_rows.empty and not first_rows_shown:
        console.print(first_rows_table(result.first_rows, limit))
    if result.output:
        console.print(f"Contacts that would be sent: {result.output}")
    if result.rejects:
        console.print(f"Rows set aside, with reasons: {result.rejects}")
    if result.clock is not None:
        clock = result.clock
        console.print(
            f"A load of the {clock.rows:,} valid rows would take {clock.seconds / 60:,.1f} min "
            f"at {clock.rate}: {clock.lost_in_file_order:,} windows would close before their "
            f"turn in file order, {clock.lost_in_deadline_order:,} in deadline order."
        )
    if result.html:
        console.print(f"Report: {result.html}")


class _ContactsPerMinute(ProgressColumn):
    """Contacts delivered per minute so far."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed * 60:,.0f}/min")


class LoadDisplay:
    """A load's progress on the terminal: reading, then a bar of contacts sent."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _ContactsPerMinute(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # a log or a pipe gets the report, not a bar
        )
        self._reading: TaskID | None = None
        self._sending: TaskID | None = None
        self.progress = LoadProgress(
            notice=self._notice, rows_read=self._read, staged=self._staged, settled=self._sent
        )

    def __enter__(self) -> LoadDisplay:
        self._progress.start()
        self._reading = self._progress.add_task("Checking keys", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def _notice(self, text: str) -> None:
        self._console.print(text)

    def _read(self, rows: int) -> None:
        if self._reading is not None:
            self._progress.advance(self._reading, rows)

    def _staged(self, total: int) -> None:
        if self._reading is not None:
            self._progress.remove_task(self._reading)
            self._reading = None
        self._sending = self._progress.add_task("Rows settled", total=total)

    def _sent(self, contacts: int) -> None:
        if self._sending is not None:
            self._progress.advance(self._sending, contacts)

    @staticmethod
    def show_report(
        report: LoadReport, console: Console, rejects: str | Path | None = None
    ) -> None:
        """The buckets, the requests, and what the run means for the user."""
        title = f"Load into {report.list_name!r}" + (" (dry run)" if report.dry_run else "")
        table = Table(title=title, title_justify="left")
        table.add_column("")
        table.add_column("rows", justify="right")
        table.add_row("rows read", f"{report.rows_read:,}")
        for bucket, count in report.buckets().items():
            if count or bucket in ("delivered", "invalid", "expired", "duplicate", "failed"):
                table.add_row(bucket, f"{count:,}")
        console.print(table)
        console.print(f"Target: {report.target}", soft_wrap=True)  # an address, never cut
        started = pd.Timestamp(report.started_at)
        seconds = (pd.Timestamp(report.finished_at) - started).total_seconds()
        if report.dry_run:
            console.print(
                f"Would send {report.would_deliver:,} contacts in "
                f"{counted(report.requests, 'request')}, "
                + (
                    f"about {report.planned_seconds:,.0f} s"
                    if report.planned_seconds >= 1
                    else "in under a second"
                )
                + f" at {report.rate_limit}."
            )
            if report.windows_closing:
                console.print(windows_closing_note(report.windows_closing))
        else:
            console.print(
                f"{counted(report.requests, 'request')} for {counted(report.chunks, 'chunk')} in "
                f"{seconds:,.1f} s ({report.rate_limit}); 429 answers: {report.throttled_429}; "
                f"retries: {report.retries}."
            )
        if report.calls_spent_until:
            console.print(
                "Five9's budget of SOAP import calls a day for this user is spent until "
                f"{report.calls_spent_until}: the rows left were not sent. Run "
                "`contacts-etl retry` after that time."
            )
        for warning, count in report.five9_warnings.items():
            console.print(f"Five9 warned ({count:,}): {warning}")
        if report.failed:
            console.print(
                f"{report.failed:,} rows were not loaded; they wait for `contacts-etl retry`"
                + (" and are in the rejects file with the reason." if rejects else ".")
            )


def counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")

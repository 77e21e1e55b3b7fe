"""The run report: where every row of a load went, the requests it took, and why it stopped if
it did; written as JSON by the report option and returned by the flow."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from contacts_etl.pipeline import RunCounts
from schemas.buckets import Bucket, Tallied, Tally
from schemas.errors import SettingError
from sinks.five9_sink import SinkTotals
from sinks.settings import Five9Settings
from sinks.wire import WireNotes
from sources.storage import Location, written

TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class LoadReport(Tallied):
    """The run's report. Every row read is in exactly one bucket of `tally`; the JSON has
    `rows_read`, then each bucket by name (`delivered`, ...), then the rest."""

    rows_read: int = 0
    tally: Tally = field(default_factory=Tally)
    requests: int = 0
    chunks: int = 0
    started_at: str = ""
    finished_at: str = ""
    list_name: str = ""
    run_id: str = ""
    target: str = ""
    dry_run: bool = False
    order: str = "file"
    """The send order: `file` (as read) or `deadline` (the soonest window end first)."""
    throttled_429: int = 0
    retries: int = 0
    rate_limit: str = ""
    requests_per_window: float = 0.0
    planned_seconds: float = 0.0
    windows_closing: dict[str, int] = field(default_factory=dict)
    """Dry run: per send order, the windows that would close before their turn at the
    configured pace, from the load's moment."""
    notes: list[str] = field(default_factory=list)
    five9_warnings: dict[str, int] = field(default_factory=dict)
    calls_spent_until: str | None = None
    """SOAP: the day's budget of import calls ran out; calls are possible again from then."""
    set_aside: list[dict[str, Any]] = field(default_factory=list)
    """Steps a rerun replays first that failed on every attempt, set aside so the run goes
    on: `step`, its `rows` (failed, waiting as dead letters), `attempts` and last `error`."""
    stopped: str | None = None
    """Why the run stopped before its end (its one line); then `unsettled` rows were read
    but neither sent nor set aside, and the same command resumes the run."""
    unsettled: int = 0

    def buckets(self) -> dict[str, int]:
        """Each bucket by name."""
        return self.tally.by_name()

    def balanced(self) -> bool:
        """True when every row read is in exactly one bucket."""
        return self.rows_read == self.tally.total()

    def as_dict(self) -> dict[str, Any]:
        """The report as the JSON has it (no secrets are ever in it)."""
        data = asdict(self)
        data.pop("tally")
        return {"rows_read": data.pop("rows_read"), **self.buckets(), **data}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


def count_outcomes(
    report: LoadReport,
    counts: RunCounts,
    totals: SinkTotals,
    told: WireNotes,
    settings: Five9Settings,
    dry_run: bool,
) -> None:
    """The pipeline's and the sink's counts, and what the wire learnt, into the report."""
    report.rows_read = counts.rows_read
    report.tally = counts.tally + totals.tally
    if dry_run:
        report.tally.add(Bucket.WOULD_DELIVER, counts.valid)
    else:
        report.requests = totals.requests
        report.chunks = totals.chunks
    report.throttled_429 = totals.throttled
    sent = totals.send_times
    if len(sent) >= 2 and sent[-1] > sent[0]:
        spread = (len(sent) - 1) / (sent[-1] - sent[0])
        report.requests_per_window = round(spread * settings.rate_window_seconds, 1)
    report.retries = totals.retries
    report.five9_warnings = dict(told.warnings)
    report.calls_spent_until = calls_spent_until(told)
    report.finished_at = pd.Timestamp.now(tz="UTC").strftime(TIME)


def windows_closing_note(windows: dict[str, int]) -> str:
    """A dry run's one line on the windows each send order would lose at the pace."""
    return (
        "Windows that would close before their turn at this pace: "
        f"{windows.get('file', 0):,} in file order, {windows.get('deadline', 0):,} in deadline "
        "order (`--order deadline`)."
    )


def write_report(report: LoadReport, where: str | os.PathLike[str] | None) -> None:
    """The report as JSON (when asked for), to a local path or a URL of object storage; a
    place that cannot be written is fatal."""
    if where is None:
        return
    location = Location(where)
    try:
        with written(location, "w") as handle:
            handle.write(report.to_json())
    except OSError as error:
        raise SettingError(
            f"{where} cannot be written: {error.strerror or error}", setting="report"
        ) from None


def calls_spent_until(told: WireNotes) -> str | None:
    """When a budget of calls spent during the run (SOAP's day) allows calls again."""
    if told.spent_until is None:
        return None
    return pd.Timestamp(told.spent_until, unit="s", tz="UTC").ceil("min").strftime(TIME)

"""The run report: where every row of a load went, the requests it took, and why it stopped if
it did; written as JSON by `--report` and returned by the flow."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from contacts_etl.errors import SettingError
from contacts_etl.pipeline import ContactPipeline
from sinks.rest_sink import SinkTotals
from sinks.settings import Five9Settings
from sinks.soap_sink import SoapTotals

TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class LoadReport:
    """The run's JSON report. Every row read is in exactly one bucket."""

    rows_read: int = 0
    delivered: int = 0
    rejected_by_five9: int = 0
    invalid: int = 0
    expired: int = 0
    duplicate: int = 0
    failed: int = 0
    already_delivered: int = 0
    would_deliver: int = 0
    requests: int = 0
    chunks: int = 0
    started_at: str = ""
    finished_at: str = ""
    list_name: str = ""
    run_id: str = ""
    target: str = ""
    dry_run: bool = False
    throttled_429: int = 0
    retries: int = 0
    rate_limit: str = ""
    requests_per_window: float = 0.0
    planned_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    five9_warnings: dict[str, int] = field(default_factory=dict)
    calls_spent_until: str | None = None
    """SOAP: the day's budget of import calls ran out; calls are possible again from then."""
    stopped: str | None = None
    """Why the run stopped before its end (its one line); then `unsettled` rows were read
    but neither sent nor set aside, and the same command resumes the run."""
    unsettled: int = 0

    BUCKETS = (
        "delivered",
        "rejected_by_five9",
        "invalid",
        "expired",
        "duplicate",
        "failed",
        "already_delivered",
        "would_deliver",
    )

    def buckets(self) -> dict[str, int]:
        """Each bucket by name."""
        return {name: getattr(self, name) for name in self.BUCKETS}

    def balanced(self) -> bool:
        """True when every row read is in exactly one bucket."""
        return self.rows_read == sum(self.buckets().values())

    def to_json(self) -> str:
        """The report as JSON (no secrets are ever in it)."""
        return json.dumps(asdict(self), indent=2) + "\n"


def count_outcomes(
    report: LoadReport,
    pipeline: ContactPipeline,
    totals: SinkTotals,
    settings: Five9Settings,
    dry_run: bool,
) -> None:
    """The pipeline's and the sink's counts into the report."""
    counts = pipeline.counts
    report.rows_read = counts.rows_read
    report.invalid = counts.invalid
    report.duplicate = counts.duplicate
    report.expired = counts.expired + totals.expired
    report.delivered = totals.delivered
    report.already_delivered = counts.already_delivered
    report.rejected_by_five9 = counts.rejected_by_five9 + totals.rejected_by_five9
    report.failed = totals.failed
    if not dry_run:
        report.requests = totals.requests
        report.chunks = totals.chunks
    report.throttled_429 = totals.throttled
    sent = totals.send_times
    if len(sent) >= 2 and sent[-1] > sent[0]:
        spread = (len(sent) - 1) / (sent[-1] - sent[0])
        report.requests_per_window = round(spread * settings.rate_window_seconds, 1)
    report.retries = totals.retries
    if isinstance(totals, SoapTotals):
        report.five9_warnings = dict(totals.warnings)
    report.calls_spent_until = calls_spent_until(totals)
    report.finished_at = pd.Timestamp.now(tz="UTC").strftime(TIME)


def write_report(report: LoadReport, path: Path | None) -> None:
    """The report as JSON at `path` (when given); a path that cannot be written is fatal."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.to_json(), encoding="utf-8")
    except OSError as error:
        raise SettingError(f"--report {path} cannot be written: {error.strerror}") from None


def calls_spent_until(totals: SinkTotals) -> str | None:
    """SOAP: when the day's budget of import calls, spent during the run, allows calls again."""
    if not isinstance(totals, SoapTotals) or totals.day_spent_until is None:
        return None
    return pd.Timestamp(totals.day_spent_until, unit="s", tz="UTC").ceil("min").strftime(TIME)

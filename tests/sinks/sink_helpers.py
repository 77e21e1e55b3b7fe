"""Helpers for the sink tests: client settings for a sandbox, the rows a preview says would be
sent, generated contact files, and comparisons with what the sandbox stored."""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import SecretStr

from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.preview import PreviewRequest, run_preview
from contacts_etl.run_report import LoadReport
from five9_sandbox import Sandbox, SandboxServer
from sinks.settings import Five9Settings
from tests.conftest import AS_OF, ROOT, SAMPLES

AS_OF_TS = pd.Timestamp(AS_OF)
SAMPLE_CONTACTS = SAMPLES / "contacts.csv"
SAMPLE_EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
NOT_FIELDS = ("source_file", "source_line", "guard_start", "guard_end")


def client_settings(server: SandboxServer, **overrides: Any) -> Five9Settings:
    """Five9 settings that point at `server` with its own credential; every limit explicit."""
    sandbox = server.sandbox.settings
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "consumer_key": sandbox.consumer_key,
        "secret_key": SecretStr(sandbox.secret_key),
        "domain_id": None,
        "region": None,
        "max_requests": sandbox.max_requests,
        "rate_window_seconds": sandbox.window_seconds,
        "chunk_size": 50,
        "max_in_flight": 4,
        "request_timeout_seconds": 10.0,
        "max_attempts": 8,
        "max_retry_seconds": 120.0,
        "backoff_base_seconds": 0.05,
        "backoff_cap_seconds": 0.2,
        "e164": False,
        "crm_add_mode": "ADD_NEW",
    }
    values.update(overrides)
    return Five9Settings(**values)


@dataclass(frozen=True)
class ExpectedRecord:
    """A row a preview says would be sent: its source line, Five9 fields and guard window."""

    source_line: int
    fields: dict[str, str]
    guard_start: str
    guard_end: str


def preview_rows(
    sources: Sequence[Path], output: Path, as_of: pd.Timestamp = AS_OF_TS
) -> list[ExpectedRecord]:
    """The exact rows a load would send, in send order, from preview's `--output`."""
    run_preview(PreviewRequest(sources=[str(s) for s in sources], output=output, as_of=as_of))
    frame = pd.read_csv(output, dtype="str", keep_default_na=False)
    rows = []
    for record in frame.to_dict("records"):
        fields = {str(k): str(v) for k, v in record.items() if k not in NOT_FIELDS and v != ""}
        rows.append(
            ExpectedRecord(
                source_line=int(record["source_line"]),
                fields=fields,
                guard_start=str(record["guard_start"]),
                guard_end=str(record["guard_end"]),
            )
        )
    return rows


def by_number(rows: Iterable[ExpectedRecord]) -> dict[str, ExpectedRecord]:
    """Rows keyed by number1 (the pipeline sends each key once)."""
    keyed: dict[str, ExpectedRecord] = {}
    for row in rows:
        number = row.fields["number1"]
        assert number not in keyed, f"the preview would send {number} twice"
        keyed[number] = row
    return keyed


def stored(sandbox: Sandbox, list_name: str = "demo") -> dict[str, tuple[dict[str, str], str, str]]:
    """number1 -> (fields, guard_start, guard_end) of what the sandbox holds; every record's
    window was still open when it was written (an expired window is never sent)."""
    records = sandbox.records(list_name)
    closed = [
        key for key, r in records.items() if pd.Timestamp(r.guard_end).timestamp() <= r.written_at
    ]
    assert not closed, f"written after their window closed: {closed[:5]}"
    return {key[0]: (r.fields, r.guard_start, r.guard_end) for key, r in records.items()}


def wanted(rows: Iterable[ExpectedRecord]) -> dict[str, tuple[dict[str, str], str, str]]:
    """number1 -> (fields, guard_start, guard_end) as the preview says they would be sent."""
    return {
        row.fields["number1"]: (row.fields, row.guard_start, row.guard_end)
        for row in by_number(rows).values()
    }


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most of `times` (sorted or not) inside any half-open `[t, t + window)`."""
    ordered = sorted(times)
    return max(
        (bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)),
        default=0,
    )


def wire(moment: pd.Timestamp) -> str:
    """An instant as the REST path carries it (exact minute, UTC)."""
    return moment.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:00Z")


def write_contacts(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    """A CSV of contacts with the columns of the first row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def generate_contacts(path: Path, count: int, first: int = 2_000_000_000) -> Path:
    """`count` valid contacts with distinct North American numbers and future windows."""
    base = pd.Timestamp("2027-12-01T14:00:00Z")
    rows = []
    for i in range(count):
        start = base + pd.Timedelta(minutes=7 * i)
        rows.append(
            {
                "number1": str(first + i),
                "first_name": f"Name{i}",
                "city": "Chicago",
                "guard_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "guard_end": (start + pd.Timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return write_contacts(path, rows)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV the pipeline wrote (rejects, output), every cell as text."""
    return pd.read_csv(path, dtype="str", keep_default_na=False)


def chunk_count(rows: int, size: int) -> int:
    return math.ceil(rows / size)


def load_samples_with(
    settings: Five9Settings, rejects: Path | None = None, source: Path = SAMPLE_CONTACTS
) -> LoadReport:
    """`source` (the samples) loaded into list "demo", windows judged at AS_OF."""
    request = LoadRequest(sources=[str(source)], as_of=AS_OF_TS, list_name="demo", rejects=rejects)
    return run_load(request, settings, LoadProgress())


def assert_samples_delivered(report: LoadReport) -> None:
    """Every valid sample row delivered, nothing failed, the buckets add up."""
    assert report.failed == 0
    assert report.balanced(), report.buckets()
    assert report.delivered == SAMPLE_EXPECTED["buckets"]["valid"]
    assert report.rows_read == SAMPLE_EXPECTED["rows"]


def load_command(source: Path, report: Path, list_name: str = "demo") -> list[str]:
    """`contacts-etl load` of `source` as a user runs it (at the tests' moment), with a report."""
    return [
        sys.executable, "-m", "contacts_etl", "load", str(source), "--list", list_name,
        "--as-of", AS_OF, "--report", str(report),
    ]  # fmt: skip


def kill_loads_midway(
    command: list[str],
    env: dict[str, str],
    stored: Callable[[], int],
    attempts: int,
    step: int,
) -> int:
    """Start `command` `attempts` times; kill each (SIGKILL) as soon as the sandbox holds
    `step`, then 2 x `step`, then 3 x `step` (and round again) more records than before it
    started: kill points set by what was observed, not by a delay, so each attempt settles some
    rows first however slowly the machine starts Python, and dies with requests in flight.
    Returns how many were killed."""
    killed = 0
    for attempt in range(attempts):
        target = stored() + step * (1 + attempt % 3)
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while stored() < target and process.poll() is None:
            assert time.monotonic() < deadline, "the load stored nothing within 120 s"
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
    return killed

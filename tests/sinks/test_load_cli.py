"""`contacts-etl load` as a user runs it (a subprocess) against a sandbox served by this test
process on loopback: exit codes, one-line refusals, dry runs, and a secret that never shows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings
from tests.conftest import AS_OF, SAMPLES, run_cli

from .sink_helpers import ExpectedRecord, read_table

CONTACTS = SAMPLES / "contacts.csv"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
VALID = int(EXPECTED["buckets"]["valid"])
CHUNK = 50
CHUNKS = -(-VALID // CHUNK)
# Planted secrets: the sandbox's real one, and a wrong one a user might type.
SECRET = "pl4nted-S3CRET-7f2e9a0c"
WRONG_SECRET = "wr0ng-S3CRET-c0ffee42"


def sandbox_server(**settings: Any) -> SandboxServer:
    return SandboxServer(
        Sandbox(SandboxSettings(secret_key=SECRET, max_requests=20, window_seconds=2, **settings))
    )


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with sandbox_server() as running:
        yield running


def point_at(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, **extra: str) -> None:
    """FIVE9_* for the CLI subprocess: this sandbox, its credential, quick scaled limits."""
    values = {
        "FIVE9_BASE_URL": server.base_url,
        "FIVE9_CONSUMER_KEY": server.sandbox.settings.consumer_key,
        "FIVE9_SECRET_KEY": SECRET,
        "FIVE9_MAX_REQUESTS": "20",
        "FIVE9_RATE_WINDOW_SECONDS": "2",
        "FIVE9_CHUNK_SIZE": str(CHUNK),
        "FIVE9_MAX_IN_FLIGHT": "4",
        "FIVE9_MAX_ATTEMPTS": "8",
        "FIVE9_BACKOFF_BASE_SECONDS": "0.05",
        "FIVE9_BACKOFF_CAP_SECONDS": "0.2",
        "FIVE9_REQUEST_TIMEOUT_SECONDS": "10",
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def load(list_name: str, *options: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("load", CONTACTS, "--list", list_name, "--as-of", AS_OF, *options)


def assert_no_secret(result: subprocess.CompletedProcess[str], *files: Path) -> None:
    """Neither planted secret is in what the run printed or wrote."""
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    texts.update({str(f): f.read_text(encoding="utf-8") for f in files if f.exists()})
    for where, text in texts.items():
        for secret in (SECRET, WRONG_SECRET):
            assert secret not in text, f"the secret is in {where}"


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """A refusal: exit code 2 and exactly one line on stderr, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("contacts-etl: error: ")
    return lines[0]


# -------------------------------------------------------------------------------- runs


def test_cli_load_delivers_every_valid_row(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    point_at(monkeypatch, server)
    report_file, rejects = tmp_path / "report.json", tmp_path / "rejects.csv"
    result = load("demo", "--report", report_file, "--rejects", rejects)

    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (report["delivered"], report["failed"], report["rows_read"]) == (VALID, 0, 329)
    assert len(sandbox.records("demo")) == VALID
    assert len(read_table(rejects)) == EXPECTED["rows"] - VALID
    assert_no_secret(result, report_file, rejects)


def test_cli_retries_exhausted_fail_rows_and_exit_1(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    sandbox: Sandbox,
    sample_rows: list[ExpectedRecord],
    tmp_path: Path,
) -> None:
    point_at(monkeypatch, server, FIVE9_MAX_ATTEMPTS="2")
    sandbox.set_faults(FaultPlan(errors_5xx=10_000))
    report_file, rejects = tmp_path / "report.json", tmp_path / "rejects.csv"
    result = load("demo", "--report", report_file, "--rejects", rejects)

    assert result.returncode == 1, result.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (report["failed"], report["delivered"]) == (VALID, 0)
    buckets = [report[name] for name in ("failed", "invalid", "expired", "duplicate")]
    assert sum(buckets) == report["rows_read"] == EXPECTED["rows"]
    assert report["requests"] == 2 * CHUNKS  # each chunk tried exactly max_attempts times
    assert len(sandbox.events_of("error_5xx")) == 2 * CHUNKS
    assert sandbox.records("demo") == {}
    failed = read_table(rejects).query("bucket == 'failed'")
    assert sorted(int(n) for n in failed["source_line"]) == sorted(
        r.source_line for r in sample_rows
    )
    assert failed["reason"].str.contains("gave up after 2 attempts").all()
    assert_no_secret(result, report_file, rejects)


def test_cli_retry_says_why_rows_still_fail_then_delivers_them(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    point_at(monkeypatch, server, FIVE9_MAX_ATTEMPTS="1", FIVE9_CHUNK_SIZE="1000")
    state = tmp_path / "state"
    sandbox.set_faults(FaultPlan(errors_5xx=10_000))
    failed = load("demo", "--state-dir", state)
    assert failed.returncode == 1, failed.stderr
    assert f"{VALID} rows were not loaded; they wait for `contacts-etl retry`." in failed.stdout
    assert "rejects file" not in failed.stdout  # none was asked for

    again = run_cli("retry", "--list", "demo", "--state-dir", state)
    assert again.returncode == 1, again.stderr
    shown = " ".join(again.stdout.split())
    assert f"Replayed in 1 request: 0 delivered, 0 rejected by Five9 again, {VALID} failed" in shown
    assert f"Still failing ({VALID}): Five9 answered HTTP 5" in shown

    sandbox.set_faults(FaultPlan())
    landed = run_cli("retry", "--list", "demo", "--state-dir", state)
    assert landed.returncode == 0, landed.stderr
    assert f"Replayed in 1 request: {VALID} delivered" in " ".join(landed.stdout.split())
    assert "Still failing" not in landed.stdout
    assert len(sandbox.records("demo")) == VALID
    assert_no_secret(landed)


def test_cli_dry_run_plans_without_uploading(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    point_at(monkeypatch, server)
    report_file = tmp_path / "report.json"
    result = load("demo", "--dry-run", "--report", report_file, "--order", "deadline")

    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (report["dry_run"], report["order"]) == (True, "deadline")
    assert report["would_deliver"] == VALID
    assert report["requests"] == report["chunks"] == CHUNKS
    assert report["delivered"] == 0
    buckets = [report[name] for name in ("would_deliver", "invalid", "expired", "duplicate")]
    assert sum(buckets) == report["rows_read"] == EXPECTED["rows"]
    assert sandbox.upload_times() == []
    assert sandbox.records("demo") == {}
    assert f"{VALID:,} contacts in {CHUNKS:,} requests" in result.stdout
    # The samples' windows end in 2027-2028: none closes during the load, in either order.
    assert report["windows_closing"] == {"file": 0, "deadline": 0}
    shown = " ".join(result.stdout.split())
    assert "before their turn at this pace: 0 in file order, 0 in deadline order" in shown
    assert_no_secret(result, report_file)


# ---------------------------------------------------------------------------- refusals


def test_cli_wrong_secret_is_one_line_naming_the_settings_not_the_secret(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    point_at(monkeypatch, server, FIVE9_SECRET_KEY=WRONG_SECRET)
    report_file = tmp_path / "report.json"
    result = load("demo", "--report", report_file)

    line = one_error_line(result)
    assert "FIVE9_CONSUMER_KEY" in line
    assert "FIVE9_SECRET_KEY" in line
    assert [e["reason"] for e in sandbox.events_of("token_refused")] == ["wrong secret key"]
    assert sandbox.upload_times() == []
    assert_no_secret(result, report_file)


def test_cli_unknown_order_is_one_line_naming_the_choices(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox
) -> None:
    point_at(monkeypatch, server)
    line = one_error_line(load("demo", "--order", "bogus"))
    assert "--order" in line
    assert "'bogus'" in line
    assert "'file', 'deadline'" in line
    assert sandbox.upload_times() == []


def test_cli_unknown_list_is_one_line_naming_the_list(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox
) -> None:
    point_at(monkeypatch, server)
    result = load("no-such-list")

    line = one_error_line(result)
    assert "'no-such-list'" in line
    assert sandbox.upload_times() == []
    assert_no_secret(result)


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        (frozenset({"campaigns:read", "lists:read"}), "lists:write"),
        (frozenset({"campaigns:read", "lists:write"}), "lists:read"),
    ],
    ids=["without-lists-write", "without-lists-read"],
)
def test_cli_missing_scope_is_one_line_naming_the_scope(
    monkeypatch: pytest.MonkeyPatch, granted: frozenset[str], missing: str, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    with sandbox_server(scopes=granted) as scoped:
        point_at(monkeypatch, scoped)
        result = load("demo", "--report", report_file)
        records = scoped.sandbox.records("demo")

    line = one_error_line(result)
    assert missing in line
    assert records == {}
    assert_no_secret(result, report_file)


def test_ctrl_c_stops_with_one_line_saying_how_to_go_on(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    # One request per 2 s: the load is still sending when SIGINT arrives.
    point_at(monkeypatch, server, FIVE9_MAX_REQUESTS="1", FIVE9_CHUNK_SIZE="20")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "contacts_etl", "load", CONTACTS, "--list", "demo"]
    with subprocess.Popen(
        [*map(str, command), "--as-of", AS_OF, "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as running:
        deadline = time.monotonic() + 60
        while not sandbox.upload_times() and time.monotonic() < deadline:
            time.sleep(0.05)
        running.send_signal(signal.SIGINT)
        _, stderr = running.communicate(timeout=60)
    assert running.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [
        "contacts-etl: error: interrupted; run the same command again to go on where this "
        "one stopped"
    ]


def test_cli_load_from_object_storage_delivers_what_the_files_on_disk_do(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    sandbox: Sandbox,
    tmp_path: Path,
    s3_bucket: str,
) -> None:
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.put_file(str(CONTACTS), f"{s3_bucket}/exports/contacts.csv")
    point_at(monkeypatch, server)
    report_file, rejects = tmp_path / "report.json", tmp_path / "rejects.csv"
    assert load("demo", "--report", report_file, "--rejects", rejects).returncode == 0
    with sandbox_server() as other:
        point_at(monkeypatch, other)
        result = run_cli(
            *("load", f"{s3_bucket}/exports/*.csv", "--list", "demo", "--as-of", AS_OF),
            *("--report", f"{s3_bucket}/out/report.json"),
            *("--rejects", f"{s3_bucket}/out/rejects.csv"),
        )
        from_storage = other.sandbox.records("demo")
    assert result.returncode == 0, result.stderr
    assert from_storage == sandbox.records("demo")
    assert len(from_storage) == VALID

    on_disk = json.loads(report_file.read_text(encoding="utf-8"))
    with fs.open(f"{s3_bucket}/out/report.json", "rt") as handle:
        stored = json.load(handle)
    for bucket in ("rows_read", "delivered", "invalid", "expired", "duplicate", "failed"):
        assert stored[bucket] == on_disk[bucket], bucket
    with fs.open(f"{s3_bucket}/out/rejects.csv", "rb") as handle:
        stored_rejects = pd.read_csv(handle, dtype=str, keep_default_na=False)
    local_rejects = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert set(stored_rejects["source_file"]) == {f"{s3_bucket}/exports/contacts.csv"}
    # The same rows with the same reasons; a duplicate's reason names its file as it was read.
    stored_rejects["reason"] = stored_rejects["reason"].str.replace(
        f"{s3_bucket}/exports/contacts.csv", str(CONTACTS), regex=False
    )
    pd.testing.assert_frame_equal(
        stored_rejects.drop(columns="source_file"), local_rejects.drop(columns="source_file")
    )

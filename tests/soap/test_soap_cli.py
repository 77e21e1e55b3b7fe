"""`contacts-etl load` with FIVE9_REST_ENABLED=false, as a user runs it (a subprocess), against
a sandbox on loopback: the same behaviour as REST from the user's side, one-line refusals, and
a password that never shows."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from five9_sandbox import Sandbox, SandboxServer
from tests.conftest import AS_OF, SAMPLES, run_cli
from tests.sinks.sink_helpers import read_table

from .soap_helpers import PASSWORD, soap_env, soap_sandbox

CONTACTS = SAMPLES / "contacts.csv"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
VALID = int(EXPECTED["buckets"]["valid"])
WRONG_PASSWORD = "wr0ng-PASSW0RD-c0ffee"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(soap_sandbox()) as running:
        yield running


def load(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], list_name: str, *options: str | Path
) -> subprocess.CompletedProcess[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return run_cli("load", CONTACTS, "--list", list_name, "--as-of", AS_OF, *options)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("contacts-etl: error: ")
    return lines[0]


def assert_no_password(result: subprocess.CompletedProcess[str], *files: Path) -> None:
    texts = [result.stdout, result.stderr, *(f.read_text() for f in files if f.exists())]
    for text in texts:
        assert PASSWORD not in text
        assert WRONG_PASSWORD not in text


def test_cli_load_over_soap_delivers_and_says_the_window_end_is_not_enforced(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    report_file, rejects = tmp_path / "report.json", tmp_path / "rejects.csv"
    result = load(
        monkeypatch, soap_env(server), "demo", "--report", report_file, "--rejects", rejects
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (report["delivered"], report["failed"], report["rows_read"]) == (VALID, 0, 329)
    assert any("does not enforce the end of each window" in n for n in report["notes"])
    assert "does not enforce the end" in " ".join(result.stderr.split())
    assert len(sandbox.records("demo")) == VALID
    assert len(read_table(rejects)) == EXPECTED["rows"] - VALID
    assert_no_password(result, report_file, rejects)


def test_cli_shows_five9s_warnings_and_where_failed_rows_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    knows_no_segment = soap_sandbox(custom_fields=frozenset({"account_id"}))
    with SandboxServer(knows_no_segment) as other:
        result = load(monkeypatch, soap_env(other), "demo")
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert f"Five9 warned ({VALID}): Field 'segment' does not exist" in shown


def test_cli_wrong_password_is_one_line_naming_the_settings(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    env = soap_env(server, FIVE9_PASSWORD=WRONG_PASSWORD)
    result = load(monkeypatch, env, "demo", "--report", report_file)

    line = one_error_line(result)
    assert "FIVE9_USERNAME" in line
    assert "FIVE9_PASSWORD" in line
    assert sandbox.events_of("soap_unauthorized")
    assert sandbox.soap.import_times() == []
    assert_no_password(result, report_file)


def test_cli_unknown_list_is_one_line_naming_the_list(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox
) -> None:
    result = load(monkeypatch, soap_env(server), "no-such-list")

    line = one_error_line(result)
    assert "'no-such-list'" in line
    assert sandbox.soap.import_times() == []
    assert_no_password(result)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"FIVE9_PASSWORD": ""}, "FIVE9_PASSWORD"),
        ({"FIVE9_LIST_ADD_MODE": "ADD_ALL"}, "FIVE9_LIST_ADD_MODE ADD_ALL"),
        ({"FIVE9_CHUNK_SIZE": "500"}, "FIVE9_CHUNK_SIZE"),
    ],
    ids=["username-without-password", "add-all-on-asynchronous-imports", "chunk-over-100"],
)
def test_cli_soap_setting_mistakes_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    sandbox: Sandbox,
    changes: dict[str, str],
    named: str,
) -> None:
    result = load(monkeypatch, {**soap_env(server), **changes}, "demo")

    assert named in one_error_line(result)
    assert sandbox.soap.calls() == {}
    assert_no_password(result)


def test_cli_without_credentials_loads_over_soap_into_the_embedded_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    env = {
        "FIVE9_REST_ENABLED": "false",
        "FIVE9_SOAP_CALLS_PER_MINUTE": "20",
        "FIVE9_SOAP_MINUTE_SECONDS": "2",
        "FIVE9_SOAP_CALLS_PER_HOUR": "60",
        "FIVE9_SOAP_HOUR_SECONDS": "6",
    }
    result = load(monkeypatch, env, "demo", "--report", report_file)

    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["target"] == "local sandbox"
    assert (report["delivered"], report["requests"]) == (VALID, -(-VALID // 100))
    assert report["rate_limit"] == "20 requests per 2 s and 60 requests per 6 s"


def test_cli_dry_run_over_soap_plans_calls_of_100_without_importing(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    result = load(monkeypatch, soap_env(server), "demo", "--dry-run", "--report", report_file)

    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["would_deliver"] == VALID
    assert report["requests"] == report["chunks"] == -(-VALID // 100)
    # the dry run reads the list and what the user's calls have spent, and imports nothing
    assert sandbox.soap.calls() == {"getListsInfo": 1, "getCallCountersState": 1}
    assert sandbox.records("demo") == {}

"""Resuming a load: a rerun never sends a delivered row again, dead letters are replayed, and
a load killed at any point (SIGKILL, mid-request included) ends complete after reruns."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.retry import run_retry
from contacts_etl.run_report import LoadReport
from contacts_etl.run_state import credential_id
from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings
from schemas.errors import ContactsEtlError, SettingError
from sinks.ledger import RunLedger
from tests.conftest import REPORT_BUCKETS, ROOT
from tests.sinks.sink_helpers import (
    AS_OF_TS,
    client_settings,
    generate_contacts,
    kill_loads_midway,
    load_command,
    max_in_window,
    preview_rows,
    stored,
    wanted,
)

ROWS = 400
CHUNK = 20


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxSettings(max_requests=20, window_seconds=2))) as running:
        yield running


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    return generate_contacts(tmp_path / "contacts.csv", ROWS)


def load(
    server: SandboxServer, source: Path, state: Path, *, restart: bool = False, **settings: object
) -> LoadReport:
    request = LoadRequest(
        sources=[str(source)],
        as_of=AS_OF_TS,
        list_name="demo",
        state_dir=state,
        restart=restart,
        rejects=source.with_suffix(".rejects.csv"),
    )
    chosen = {"chunk_size": CHUNK, **settings}
    return run_load(request, client_settings(server, **chosen), LoadProgress())


def test_rerun_of_a_finished_load_sends_nothing(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    first = load(server, contacts, tmp_path / "state")
    writes = {key: record.writes for key, record in sandbox.records("demo").items()}
    again = load(server, contacts, tmp_path / "state")
    assert first.delivered == ROWS
    assert (again.delivered, again.already_delivered, again.requests) == (0, ROWS, 0)
    assert again.run_id == first.run_id
    assert again.balanced()
    assert {key: record.writes for key, record in sandbox.records("demo").items()} == writes


def test_a_rerun_with_another_chunk_size_is_the_same_run(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    # Rows are settled by source and line, not by chunk: a smaller chunk (a natural reaction
    # to timeouts) must not send everything again.
    first = load(server, contacts, tmp_path / "state")
    again = load(server, contacts, tmp_path / "state", chunk_size=CHUNK // 2)
    assert again.run_id == first.run_id
    assert (again.delivered, again.already_delivered, again.requests) == (0, ROWS, 0)


def test_a_second_attempt_while_the_first_is_under_way_is_refused(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    first = load(server, contacts, tmp_path / "state")
    holder = RunLedger(tmp_path / "state")  # another process's attempt, still running
    holder.lock(first.run_id)
    try:
        with pytest.raises(SettingError, match=f"run {first.run_id} .* already under way"):
            load(server, contacts, tmp_path / "state")
    finally:
        holder.close()
    again = load(server, contacts, tmp_path / "state")  # the lock goes with its holder
    assert (again.delivered, again.already_delivered) == (0, ROWS)


def test_a_row_refused_on_its_own_is_not_sent_again_by_a_rerun(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    target = contacts.read_text(encoding="utf-8").splitlines()[30].split(",")[0]
    sandbox.set_faults(FaultPlan(refuse_chunk_containing=target))
    first = load(server, contacts, tmp_path / "state")
    assert (first.delivered, first.rejected_by_five9) == (ROWS - 1, 1)
    again = load(server, contacts, tmp_path / "state")
    # Settled as rejected, like an importTroubles row: no request, no second halving.
    assert (again.requests, again.already_delivered, again.rejected_by_five9) == (0, ROWS - 1, 1)
    assert again.balanced(), again.buckets()


def test_an_attempt_refused_before_any_row_leaves_nothing_to_resume(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    with pytest.raises(ContactsEtlError):
        load(server, contacts, tmp_path / "state", secret_key=SecretStr("not-the-secret"))
    report = load(server, contacts, tmp_path / "state")
    assert report.delivered == ROWS
    assert not any(note.startswith("Resuming run") for note in report.notes), report.notes


def test_changed_source_is_a_new_run_and_restart_ignores_the_ledger(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    first = load(server, contacts, tmp_path / "state")
    changed = tmp_path / "changed.csv"
    changed.write_bytes(
        contacts.read_bytes() + b"2999999999,Late,,2027-12-01T14:00:00Z,2027-12-01T20:00:00Z\n"
    )
    second = load(server, changed, tmp_path / "state")
    assert second.run_id != first.run_id
    assert second.delivered == ROWS + 1
    restarted = load(server, contacts, tmp_path / "state", restart=True)
    assert restarted.run_id == first.run_id
    assert (restarted.delivered, restarted.already_delivered) == (ROWS, 0)


def test_failed_rows_wait_as_dead_letters_and_a_rerun_delivers_only_them(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    sandbox.set_faults(FaultPlan(errors_5xx=3))
    first = load(server, contacts, state, max_attempts=1)
    assert first.failed == 3 * CHUNK
    ledger = RunLedger(state)
    letters = ledger.dead_letters("demo")
    assert len(letters) == first.failed
    assert {letter.bucket for letter in letters} == {"failed"}
    assert all(letter.http_status in {500, 502, 503, 504} for letter in letters)
    assert all(letter.payload["guardTime"]["start"].endswith(":00Z") for letter in letters)

    again = load(server, contacts, state)
    assert (again.delivered, again.already_delivered, again.failed) == (
        3 * CHUNK,
        ROWS - 3 * CHUNK,
        0,
    )
    assert ledger.dead_letters("demo") == []
    assert len(sandbox.records("demo")) == ROWS
    ledger.close()


def test_retry_replays_a_rejected_row_and_removes_it_once_it_lands(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    sandbox.set_faults(FaultPlan(refuse_chunk_containing="2000000007"))
    first = load(server, contacts, state)
    assert (first.delivered, first.rejected_by_five9) == (ROWS - 1, 1)
    settings = client_settings(server, chunk_size=CHUNK)
    listed = run_retry("demo", settings, state, dry_run=True)
    assert (listed.dead_letters, listed.by_bucket) == (1, {"rejected_by_five9": 1})
    assert "2000000007" not in {key[0] for key in sandbox.records("demo")}

    still = run_retry("demo", settings, state)  # Five9 refuses it again: it stays
    assert (still.delivered, still.rejected_by_five9) == (0, 1)
    assert len(RunLedger(state).dead_letters("demo")) == 1

    sandbox.set_faults(FaultPlan())
    replayed = run_retry("demo", settings, state)
    assert (replayed.delivered, replayed.rejected_by_five9) == (1, 0)
    assert RunLedger(state).dead_letters("demo") == []
    record = sandbox.records("demo")[("2000000007",)]
    assert record.guard_start == "2027-12-01T14:49:00Z"
    # A rerun of the load now counts the replayed row as delivered before, not rejected.
    rerun = load(server, contacts, state)
    assert (rerun.already_delivered, rerun.rejected_by_five9, rerun.requests) == (ROWS, 0, 0)


def test_a_later_run_delivering_the_same_record_retires_its_older_dead_letter(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    sandbox.set_faults(FaultPlan(refuse_chunk_containing="2000000007"))
    load(server, contacts, state)  # 2000000007 waits as a dead letter of this run
    sandbox.set_faults(FaultPlan())
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(contacts.read_text(encoding="utf-8").replace("Name7,", "Fixed7,"))
    second = load(server, fixed, state)  # a new run: the record now holds the fixed row
    assert second.delivered == ROWS
    settings = client_settings(server, chunk_size=CHUNK)
    # Replaying the old letter would put the old name (and window) back: it is gone.
    assert run_retry("demo", settings, state, dry_run=True).dead_letters == 0
    assert run_retry("demo", settings, state).delivered == 0
    assert sandbox.records("demo")[("2000000007",)].fields["first_name"] == "Fixed7"


def test_a_run_that_stops_midway_reports_what_it_settled_and_what_it_did_not(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.add_list("temp")
    source = generate_contacts(tmp_path / "contacts.csv", 2000)
    report_file = tmp_path / "report.json"
    request = LoadRequest(
        sources=[str(source)],
        as_of=AS_OF_TS,
        list_name="temp",
        state_dir=tmp_path / "state",
        report=report_file,
    )
    stopped: list[BaseException] = []

    def run() -> None:
        try:
            run_load(request, client_settings(server, chunk_size=CHUNK), LoadProgress())
        except ContactsEtlError as error:
            stopped.append(error)

    loading = threading.Thread(target=run)
    loading.start()
    deadline = time.monotonic() + 60
    while len(sandbox.records("temp")) < 5 * CHUNK:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    sandbox.remove_list("temp")  # an administrator deletes the list mid-load
    loading.join(timeout=60)

    assert [str(e) for e in stopped] == ["Five9 list 'temp' is gone (HTTP 404)"]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["stopped"] == "Five9 list 'temp' is gone (HTTP 404)"
    assert report["delivered"] >= 5 * CHUNK
    assert report["unsettled"] > 0
    buckets = sum(report[name] for name in REPORT_BUCKETS)
    assert report["rows_read"] == buckets + report["unsettled"]


def test_rerun_right_after_a_run_starts_its_pacer_after_the_last_requests(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = load(server, contacts, state)
    ledger = RunLedger(state)
    sends = ledger.recent_sends(credential_id(client_settings(server)), 60.0)
    ledger.close()
    assert len(sends) == first.requests  # the ledger knows when each request left
    other = generate_contacts(tmp_path / "other.csv", ROWS, first=3_000_000_000)
    load(server, other, state)  # same credential, at once: a new run
    assert sandbox.events_of("rate_limited") == []
    assert max_in_window(sandbox.upload_times(), 2.0) <= 20


KILL_POINTS = 5
KILLED_ROWS = 1000  # more than the kill points settle (at most 5 x 3 chunks)


def test_load_killed_at_observed_points_ends_complete_after_reruns(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", KILLED_ROWS)
    expected = wanted(preview_rows([source], tmp_path / "would_send.csv"))
    sandbox.set_faults(FaultPlan(slow_seconds=0.3))  # requests in flight at most moments
    env = {
        **os.environ,
        "FIVE9_BASE_URL": server.base_url,
        "FIVE9_CONSUMER_KEY": "sandbox-key",
        "FIVE9_SECRET_KEY": "sandbox-secret",
        "FIVE9_MAX_REQUESTS": "20",
        "FIVE9_RATE_WINDOW_SECONDS": "2",
        "FIVE9_CHUNK_SIZE": str(CHUNK),
        "CONTACTS_STATE_DIR": str(tmp_path / "state"),
    }
    report = tmp_path / "report.json"
    command = load_command(source, report)
    killed = kill_loads_midway(
        command, env, lambda: len(sandbox.records("demo")), KILL_POINTS, step=CHUNK
    )
    assert killed == KILL_POINTS
    assert len(stored(sandbox)) < len(expected)

    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    result = json.loads(report.read_text())
    assert result["rows_read"] == sum(result[b] for b in REPORT_BUCKETS) == KILLED_ROWS
    assert result["delivered"] + result["already_delivered"] == len(expected)
    assert result["failed"] == 0
    assert result["already_delivered"] > 0  # the last attempt resumed
    assert stored(sandbox) == expected  # every valid contact, once per key, exact windows
    assert sandbox.events_of("rate_limited") == []


def test_fault_mix_loses_nothing_and_leaks_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "planted-secret-4c1f9e"
    sandbox = Sandbox(SandboxSettings(max_requests=20, window_seconds=2, secret_key=secret))
    sandbox.set_faults(
        FaultPlan(
            storm_429=3,
            retry_after="soon",
            errors_5xx=4,
            drop_connections=2,
            slow_seconds=1.5,
            slow_count=2,
            expire_tokens_after=5,
            refuse_chunk_containing="2000000123",
        )
    )
    source = generate_contacts(tmp_path / "contacts.csv", ROWS)
    state = tmp_path / "state"
    with SandboxServer(sandbox) as server:
        request = LoadRequest(
            sources=[str(source)],
            as_of=AS_OF_TS,
            list_name="demo",
            state_dir=state,
            rejects=tmp_path / "rejects.csv",
            report=tmp_path / "report.json",
        )
        settings = client_settings(
            server, chunk_size=CHUNK, request_timeout_seconds=1.0, max_attempts=4
        )
        report = run_load(request, settings, LoadProgress())
        held = {key[0] for key in sandbox.records("demo")}

    for kind in ("storm_429", "error_5xx", "dropped_connection", "slow_answer", "refused_chunk"):
        assert sandbox.events_of(kind), kind
    assert report.balanced(), report.buckets()
    ledger = RunLedger(state)
    dead = {letter.payload["fields"]["number1"] for letter in ledger.dead_letters("demo")}
    ledger.close()
    every = {str(2_000_000_000 + i) for i in range(ROWS)}
    # Each valid row landed, or waits in the dead-letter store with its reason: none is lost.
    assert held | dead == every
    assert "2000000123" in dead
    assert report.delivered + report.rejected_by_five9 + report.failed == ROWS
    assert len(dead) == report.rejected_by_five9 + report.failed
    rejects = (tmp_path / "rejects.csv").read_text()
    assert rejects.count("\n") - 1 == report.rejected_by_five9 + report.failed

    printed = capsys.readouterr()
    for place in (
        printed.out,
        printed.err,
        rejects,
        (tmp_path / "report.json").read_text(),
        *(path.read_bytes().decode("latin-1") for path in state.rglob("*") if path.is_file()),
    ):
        assert secret not in place

"""Resuming a SOAP load: a rerun never sends a delivered row again, dead letters are replayed
over SOAP, and a load killed at random points (SIGKILL) ends complete after reruns."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from contacts_etl.retry import run_retry
from contacts_etl.run_report import LoadReport
from five9_sandbox import FaultPlan, Sandbox, SandboxServer
from sinks.ledger import RunLedger
from tests.conftest import REPORT_BUCKETS, ROOT
from tests.sinks.sink_helpers import (
    generate_contacts,
    kill_loads_midway,
    load_command,
    max_in_window,
    preview_rows,
)

from .soap_helpers import (
    HOUR,
    MINUTE,
    PER_HOUR,
    PER_MINUTE,
    load_file,
    soap_env,
    soap_sandbox,
    soap_settings,
    stored_calls,
    wanted_calls,
)

ROWS = 200
CHUNK = 20


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(soap_sandbox()) as running:
        yield running


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    return generate_contacts(tmp_path / "contacts.csv", ROWS)


def load(server: SandboxServer, source: Path, state: Path, **settings: object) -> LoadReport:
    return load_file(server, source, state, chunk_size=CHUNK, **settings)


def test_rerun_of_a_finished_load_sends_nothing(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    first = load(server, contacts, tmp_path / "state")
    again = load(server, contacts, tmp_path / "state")
    assert first.delivered == ROWS
    assert (again.delivered, again.already_delivered, again.requests) == (0, ROWS, 0)
    assert again.run_id == first.run_id
    assert again.balanced()
    assert {record.writes for record in sandbox.records("demo").values()} == {1}


def test_failed_rows_wait_as_dead_letters_and_retry_replays_them_over_soap(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    sandbox.set_faults(FaultPlan(errors_5xx=2))
    first = load(server, contacts, state, max_attempts=1)
    assert first.failed == 2 * CHUNK
    ledger = RunLedger(state)
    letters = ledger.dead_letters("demo")
    assert len(letters) == first.failed
    assert {letter.bucket for letter in letters} == {"failed"}

    replayed = run_retry("demo", soap_settings(server, chunk_size=CHUNK), state)
    assert (replayed.delivered, replayed.failed) == (2 * CHUNK, 0)
    assert ledger.dead_letters("demo") == []
    assert len(sandbox.records("demo")) == ROWS
    rerun = load(server, contacts, state)
    assert (rerun.already_delivered, rerun.requests) == (ROWS, 0)
    ledger.close()


def test_rerun_right_after_a_run_starts_its_pacer_after_the_last_calls(
    server: SandboxServer, sandbox: Sandbox, contacts: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    load(server, contacts, state)
    load(server, generate_contacts(tmp_path / "other.csv", ROWS, first=3_000_000_000), state)
    times = sandbox.soap.import_times()
    assert len(times) == 2 * ROWS // CHUNK
    assert sandbox.events_of("soap_operations_limit") == []
    assert max_in_window(times, MINUTE) <= PER_MINUTE
    assert max_in_window(times, HOUR) <= PER_HOUR


KILL_POINTS = 4
KILLED_ROWS = 300  # more than the kill points settle (at most 7 chunks of 20)


def test_load_killed_at_observed_points_ends_complete_after_reruns(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", KILLED_ROWS)
    expected = wanted_calls(preview_rows([source], tmp_path / "would_send.csv"))
    sandbox.set_faults(FaultPlan(slow_seconds=0.2))  # calls in flight at most moments
    env = {
        **os.environ,
        **soap_env(server),
        "FIVE9_CHUNK_SIZE": str(CHUNK),
        "CONTACTS_STATE_DIR": str(tmp_path / "state"),
    }
    report = tmp_path / "report.json"
    command = load_command(source, report)
    killed = kill_loads_midway(
        command, env, lambda: len(sandbox.records("demo")), KILL_POINTS, step=CHUNK
    )
    assert killed == KILL_POINTS
    assert len(stored_calls(sandbox)) < len(expected)

    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    result = json.loads(report.read_text())
    assert result["rows_read"] == sum(result[b] for b in REPORT_BUCKETS) == KILLED_ROWS
    assert result["delivered"] + result["already_delivered"] == len(expected)
    assert result["failed"] == 0
    assert result["already_delivered"] > 0
    assert stored_calls(sandbox) == expected
    # a contact is written again only when a kill fell between a call and its identifier
    rewritten = [r for r in sandbox.records("demo").values() if r.writes > 1]
    assert len(rewritten) <= killed * CHUNK


def open_imports(state: Path) -> int:
    """Rows of imports the run ledger in `state` keeps unread (0 before it exists)."""
    path = state / "ledger.sqlite3"
    if not path.exists():
        return 0
    with closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM open_imports").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not written yet
            return 0


def until(seen: Callable[[], bool], process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait for an observed event (a minute at most; a process that ended fails at once)."""
    deadline = time.monotonic() + 60
    while not seen():
        assert process is None or process.poll() is None, "the load ended first"
        assert time.monotonic() < deadline, "not seen within 60 s"
        time.sleep(0.02)


@pytest.mark.parametrize("forgotten", [False, True], ids=["result-read", "import-forgotten"])
def test_a_load_stopped_while_five9_imports_reads_that_result_instead_of_sending_again(
    tmp_path: Path, forgotten: bool
) -> None:
    """Killed after Five9 took an import and before its result was read: the rerun asks Five9
    for that result, so no contact is written twice. Should Five9 no longer know the import,
    its rows are sent again (and every contact still lands)."""
    source = generate_contacts(tmp_path / "contacts.csv", 3 * CHUNK)
    state = tmp_path / "state"
    with SandboxServer(soap_sandbox(soap_import_seconds=1.0)) as slow:
        env = {
            **os.environ,
            **soap_env(slow),
            "FIVE9_CHUNK_SIZE": str(CHUNK),
            "CONTACTS_STATE_DIR": str(state),
        }
        report = tmp_path / "report.json"
        command = load_command(source, report)
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # killed once the ledger keeps the import Five9 took (it runs 1 s: unread yet)
        until(lambda: open_imports(state) > 0, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert slow.sandbox.records("demo") == {}  # still importing when the load died
        if forgotten:
            until(lambda: bool(slow.sandbox.events_of("soap_import_finished")))  # it ends ...
            slow.sandbox.reset()  # ... and Five9 forgets it, and its records

        final = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert final.returncode == 0, final.stderr
        result = json.loads(report.read_text())
        records = slow.sandbox.records("demo")
    assert len(records) == 3 * CHUNK
    assert all(record.writes == 1 for record in records.values())  # nothing sent twice
    assert result["failed"] == 0
    if forgotten:
        assert (result["already_delivered"], result["delivered"]) == (0, 3 * CHUNK)
        assert any(f"could not say what became of {CHUNK}" in n for n in result["notes"])
    else:
        assert (result["already_delivered"], result["delivered"]) == (CHUNK, 2 * CHUNK)
        assert any(f"{CHUNK} rows settled there" in note for note in result["notes"])
        assert len(slow.sandbox.soap.import_times()) == 3

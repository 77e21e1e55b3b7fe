"""Many machines, one truth: loads on several "machines" (each its own home, working folder and
state folder; only the state store's URL and the Five9 settings shared) against a real
PostgreSQL started by the suite: one pacer reaching Five9's ceiling, a run killed on one
machine resumed on another, one attempt of a run at a time anywhere, SOAP calls counted
across machines, and `retry` from anywhere."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.retry import run_retry
from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings
from sinks.ledger import RunLedger
from sinks.state_store import SCHEMA_VERSION
from tests.conftest import AS_OF
from tests.postgres_cluster import PostgresCluster
from tests.sinks.sink_helpers import (
    AS_OF_TS,
    client_settings,
    generate_contacts,
    max_in_window,
    preview_rows,
    stored,
    wanted,
)
from tests.soap.soap_helpers import soap_sandbox, soap_settings

LIMIT, WINDOW = 10, 6.0  # uploads per credential, as the sandbox counts them


class Machine:
    """A place a load runs as if on its own machine: its own home, working and state folders,
    and its own copy of the sources; it shares only the store URL and the Five9 settings."""

    def __init__(self, root: Path, store: str, five9: SandboxServer, **settings: str) -> None:
        self.home, self.work, self.state = root / "home", root / "work", root / "state"
        for folder in (self.home, self.work):
            folder.mkdir(parents=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FIVE9_", "CONTACTS_"))},
            "HOME": str(self.home),
            "CONTACTS_STATE_DIR": str(self.state),
            "CONTACTS_STATE_URL": store,
            "FIVE9_BASE_URL": five9.base_url,
            "FIVE9_CONSUMER_KEY": "sandbox-key",
            "FIVE9_SECRET_KEY": "sandbox-secret",
            "FIVE9_MAX_REQUESTS": str(five9.sandbox.settings.max_requests),
            "FIVE9_RATE_WINDOW_SECONDS": str(five9.sandbox.settings.window_seconds),
            **settings,
        }

    def command(self, source: Path, list_name: str) -> list[str]:
        own = self.work / source.name
        if not own.exists():
            shutil.copy(source, own)  # the same content: the same run on every machine
        return [
            sys.executable, "-m", "contacts_etl", "load", str(own), "--list", list_name,
            "--as-of", AS_OF, "--report", str(self.work / "report.json"),
        ]  # fmt: skip

    def start(self, source: Path, list_name: str = "demo") -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(source, list_name),
            cwd=self.work,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, source: Path, list_name: str = "demo") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(source, list_name),
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def report(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.work / "report.json").read_text())
        return data


def settled_rows(store: str) -> int:
    with psycopg.connect(store) as db:
        found = db.execute("SELECT count(*) FROM settled").fetchone()
    return int(found[0]) if found else 0


@pytest.mark.slow
@pytest.mark.parametrize("machines", [2, 3])
def test_loads_on_several_machines_share_the_credentials_ceiling(
    shared_store: str, tmp_path: Path, machines: int
) -> None:
    rows, chunk = 50, 5  # 10 uploads a load
    lists = [f"list{n}" for n in range(machines)]
    sandbox = Sandbox(
        SandboxSettings(lists=tuple(lists), max_requests=LIMIT, window_seconds=WINDOW)
    )
    sources = [
        generate_contacts(tmp_path / f"{name}.csv", rows, first=2_000_000_000 + n * 1_000)
        for n, name in enumerate(lists)
    ]
    with SandboxServer(sandbox) as five9:
        places = [
            Machine(tmp_path / f"machine{n}", shared_store, five9, FIVE9_CHUNK_SIZE=str(chunk))
            for n in range(machines)
        ]
        loads = [m.start(s, name) for m, s, name in zip(places, sources, lists, strict=True)]
        for load in loads:
            assert load.wait(timeout=300) == 0, load.stderr.read() if load.stderr else ""

    uploads = sandbox.upload_times()
    assert len(uploads) == machines * rows // chunk
    assert sandbox.events_of("rate_limited") == []  # zero 429s
    assert max_in_window(uploads, WINDOW) <= LIMIT  # no sliding window over the limit
    together = (len(uploads) - 1) / (uploads[-1] - uploads[0])
    assert together >= 0.95 * LIMIT / WINDOW, together  # the aggregate reaches the ceiling
    for name, source in zip(lists, sources, strict=True):
        expected = wanted(preview_rows([source], tmp_path / f"{name}.sent.csv"))
        records = sandbox.records(name)
        assert stored(sandbox, name) == expected  # every row, its exact window
        assert {record.writes for record in records.values()} == {1}  # exactly once


@pytest.mark.slow
def test_a_load_killed_on_one_machine_resumes_on_another(shared_store: str, tmp_path: Path) -> None:
    rows, chunk, in_flight = 400, 20, 4
    source = generate_contacts(tmp_path / "contacts.csv", rows)
    expected = wanted(preview_rows([source], tmp_path / "sent.csv"))
    sandbox = Sandbox(SandboxSettings(max_requests=20, window_seconds=2.0))
    sandbox.set_faults(FaultPlan(slow_seconds=0.3))  # chunks in flight at the kill
    with SandboxServer(sandbox) as five9:
        settings = {"FIVE9_CHUNK_SIZE": str(chunk), "FIVE9_MAX_IN_FLIGHT": str(in_flight)}
        first = Machine(tmp_path / "a", shared_store, five9, **settings)
        second = Machine(tmp_path / "b", shared_store, five9, **settings)
        load = first.start(source)
        deadline = time.monotonic() + 120
        while len(sandbox.records("demo")) < 3 * chunk:  # killed on an observed event
            assert load.poll() is None, "the load ended before its kill"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        load.send_signal(signal.SIGKILL)
        load.wait(timeout=30)
        recorded = settled_rows(shared_store)  # what machine A's ledger recorded
        assert 0 < recorded < rows
        sandbox.set_faults(FaultPlan())
        done = second.run(source)

    assert done.returncode == 0, done.stderr
    report = second.report()
    assert report["already_delivered"] == recorded
    assert report["delivered"] == rows - recorded
    assert report["failed"] == 0
    assert stored(sandbox) == expected  # every valid row, once per key
    twice = [r for r in sandbox.records("demo").values() if r.writes > 1]
    assert len(twice) <= in_flight * chunk  # only the chunks in flight at the kill


@pytest.mark.slow
def test_an_attempt_on_another_machine_while_one_runs_is_refused(
    shared_store: str, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", 200)
    sandbox = Sandbox(SandboxSettings(max_requests=20, window_seconds=2.0))
    # One upload at a time, 3 s each: machine A needs a minute for its 20 chunks, far longer
    # than machine B takes to start (a fast load could end first, and B would then resume it).
    sandbox.set_faults(FaultPlan(slow_seconds=3.0))
    settings = {"FIVE9_CHUNK_SIZE": "10", "FIVE9_MAX_IN_FLIGHT": "1"}
    with SandboxServer(sandbox) as five9:
        first = Machine(tmp_path / "a", shared_store, five9, **settings)
        second = Machine(tmp_path / "b", shared_store, five9, **settings)
        load = first.start(source)
        try:
            while not sandbox.events_of("slow_answer"):  # machine A holds the run by now
                assert load.poll() is None, "the load ended early"
                time.sleep(0.02)
            refused = second.run(source)
            assert load.poll() is None, "machine A ended before machine B tried the run"
        finally:
            load.send_signal(signal.SIGKILL)
            load.wait(timeout=30)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2, refused.stderr
    assert len(lines) == 1, refused.stderr
    assert "already under way on a machine that shares this state store" in lines[0]


def test_soap_calls_spent_on_one_machine_count_on_another(
    shared_store: str, tmp_path: Path
) -> None:
    sandbox = soap_sandbox(soap_calls_per_day=3, soap_day_seconds=60.0)
    with SandboxServer(sandbox) as five9:
        settings = soap_settings(five9, chunk_size=100, soap_calls_per_day=3, soap_day_seconds=60.0)
        first = LoadRequest(
            sources=[str(generate_contacts(tmp_path / "a.csv", 200))],
            as_of=AS_OF_TS,
            list_name="demo",
            state_dir=tmp_path / "a",
            state_url=shared_store,
        )
        assert run_load(first, settings).requests == 2  # machine A spends 2 of the 3 calls
        sandbox.reset()  # Five9's counters no longer show them: only the store does
        second = LoadRequest(
            sources=[str(generate_contacts(tmp_path / "b.csv", 300, first=3_000_000_000))],
            as_of=AS_OF_TS,
            list_name="demo",
            state_dir=tmp_path / "b",
            state_url=shared_store,
        )
        report = run_load(second, settings, LoadProgress())
    assert (report.delivered, report.failed, report.requests) == (100, 200, 1)
    assert report.calls_spent_until is not None


def test_retry_from_another_machine_never_replays_an_older_letter(
    shared_store: str, tmp_path: Path
) -> None:
    sandbox = Sandbox(SandboxSettings(max_requests=20, window_seconds=2.0))
    contacts = generate_contacts(tmp_path / "contacts.csv", 40)
    with SandboxServer(sandbox) as five9:
        settings = client_settings(five9, chunk_size=20)

        def load(source: Path, machine: str) -> None:
            request = LoadRequest(
                sources=[str(source)],
                as_of=AS_OF_TS,
                list_name="demo",
                state_dir=tmp_path / machine,
                state_url=shared_store,
            )
            run_load(request, settings)

        sandbox.set_faults(FaultPlan(refuse_chunk_containing="2000000007"))
        load(contacts, "a")  # 2000000007 waits as a dead letter, in the shared store
        sandbox.set_faults(FaultPlan())
        seen = run_retry("demo", settings, tmp_path / "c", state_url=shared_store, dry_run=True)
        assert seen.dead_letters == 1  # machine C sees machine A's letter
        fixed = tmp_path / "fixed.csv"
        fixed.write_text(contacts.read_text(encoding="utf-8").replace("Name7,", "Fixed7,"))
        load(fixed, "b")  # machine B delivers the record with the fixed row
        replay = run_retry("demo", settings, tmp_path / "c", state_url=shared_store)
    assert (replay.dead_letters, replay.delivered) == (0, 0)
    assert sandbox.records("demo")[("2000000007",)].fields["first_name"] == "Fixed7"


@pytest.mark.parametrize("problem", ["wrong password", "nothing listening"])
def test_a_store_that_refuses_or_cannot_be_reached_is_one_line_naming_the_host(
    postgres: PostgresCluster, tmp_path: Path, problem: str
) -> None:
    secret = "n0t-the-Passw0rd-5e1f"
    url = (
        postgres.url(password=secret)
        if problem == "wrong password"
        else f"postgresql://etl:{secret}@127.0.0.1:9/contacts"
    )
    with SandboxServer(Sandbox()) as five9:
        machine = Machine(tmp_path / "a", url, five9)
        done = machine.run(generate_contacts(tmp_path / "contacts.csv", 5))
        assert sandbox_untouched(five9)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("contacts-etl: error: --state-url the state store at host 127.0.0.1")
    assert secret not in done.stderr + done.stdout


def sandbox_untouched(five9: SandboxServer) -> bool:
    return five9.sandbox.upload_times() == []


def test_a_ledger_written_before_schema_versions_keeps_its_rows(tmp_path: Path) -> None:
    old = tmp_path / "ledger.sqlite3"
    with closing(sqlite3.connect(old)) as db:
        db.executescript(
            """
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, list_name TEXT NOT NULL,
                started_at REAL NOT NULL, meta TEXT);
            CREATE TABLE settled (run_id TEXT NOT NULL, row_code INTEGER NOT NULL,
                status TEXT NOT NULL, chunk INTEGER, at REAL NOT NULL,
                PRIMARY KEY (run_id, row_code)) WITHOUT ROWID;
            CREATE TABLE sends (credential TEXT NOT NULL, at REAL NOT NULL);
            CREATE TABLE dead_letters (list_name TEXT NOT NULL, run_id TEXT NOT NULL,
                row_code INTEGER NOT NULL, source_file TEXT NOT NULL, source_line INTEGER NOT NULL,
                payload TEXT NOT NULL, bucket TEXT NOT NULL, error TEXT NOT NULL,
                http_status INTEGER, attempts INTEGER NOT NULL, at REAL NOT NULL,
                PRIMARY KEY (list_name, run_id, row_code));
            CREATE TABLE open_imports (run_id TEXT NOT NULL, identifier TEXT NOT NULL,
                chunk INTEGER NOT NULL, position INTEGER NOT NULL, row_code INTEGER NOT NULL,
                source_file TEXT NOT NULL, source_line INTEGER NOT NULL, payload TEXT NOT NULL,
                at REAL NOT NULL, PRIMARY KEY (run_id, identifier, position)) WITHOUT ROWID;
            INSERT INTO runs VALUES ('r1', 'demo', 1.0, '{}');
            INSERT INTO settled VALUES ('r1', 7, 'delivered', 0, 1.0);
            """
        )
        db.commit()
    ledger = RunLedger(tmp_path)
    assert ledger.begin("r1", "demo", {}) is False  # the old run is known
    assert ledger.settled_codes("r1", "delivered").tolist() == [7]
    assert ledger.reserve_slot("credential", 1.0) == 0.0  # the table version 2 added
    ledger.close()
    with closing(sqlite3.connect(old)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_reserved_slots_are_spaced_whoever_takes_them(
    store: str, postgres: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres.database() if store == "postgresql" else None
    one, other = RunLedger(tmp_path / "a", url), RunLedger(tmp_path / "a", url)
    waits = [ledger.reserve_slot("key", 0.5) for ledger in (one, other, one, other)]
    assert waits[0] == 0.0
    assert [round(wait, 1) for wait in waits[1:]] == [0.5, 1.0, 1.5]  # one sequence for both
    one.hold_slot("key", 5.0)  # Five9 said Retry-After: 5
    assert 4.5 <= other.reserve_slot("key", 0.5) <= 5.0
    one.close()
    other.close()


def test_a_machines_sqlite_ledger_copied_into_the_shared_store_resumes_anywhere(
    shared_store: str, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", 60)
    sandbox = Sandbox(SandboxSettings(max_requests=20, window_seconds=2.0))
    with SandboxServer(sandbox) as five9:
        first = Machine(tmp_path / "a", shared_store, five9, FIVE9_CHUNK_SIZE="20")
        alone = {**first.env, "CONTACTS_STATE_URL": ""}  # machine A before the shared store
        done = subprocess.run(
            first.command(source, "demo"), cwd=first.work, env=alone, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        copied = subprocess.run(
            [sys.executable, "-m", "contacts_etl", "copy-state", "--to", shared_store],
            cwd=first.work, env=first.env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert copied.returncode == 0, copied.stderr
        assert "60 settled" in copied.stdout
        second = Machine(tmp_path / "b", shared_store, five9, FIVE9_CHUNK_SIZE="20")
        rerun = second.run(source)
    assert rerun.returncode == 0, rerun.stderr
    assert (second.report()["already_delivered"], second.report()["delivered"]) == (60, 0)
    assert {record.writes for record in sandbox.records("demo").values()} == {1}

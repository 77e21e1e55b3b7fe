"""No poison state: a step a rerun replays first that fails every time is set aside after three
attempts, so the rest of the run goes on; and what a person sees of an unexpected failure on
the command line (one line, exit code 1, the traceback kept; printed with --debug)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from contacts_etl.cli import main
from contacts_etl.failure import UnexpectedError
from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.retry import run_retry
from contacts_etl.run_state import REPLAY_ATTEMPTS
from five9_sandbox import FaultPlan, SandboxServer
from sinks import rest_format, rest_wire
from sinks.chunk import Chunk
from sinks.ledger import RunLedger
from sinks.soap_wire import SoapWire
from sinks.wire import Five9RefusedError
from tests.conftest import REPORT_BUCKETS
from tests.sinks.sink_helpers import AS_OF_TS, client_settings, generate_contacts
from tests.soap.soap_helpers import soap_settings

from .conftest import SECRET
from .injection import Boundary, Fault, InjectedFault

ROWS, CHUNK = 50, 10


def test_an_import_whose_result_cannot_be_read_is_set_aside_after_three_attempts(
    soap_server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five9's answer for one import breaks the parser every time: the first attempt and two
    reruns stop on it (each reading it once), the fourth sets its rows aside as failed dead
    letters, says so in the report, and delivers the rest; once fixed, `retry` sends them."""
    five9 = soap_server.sandbox
    five9.reset()
    source = generate_contacts(tmp_path / "contacts.csv", ROWS)
    request = LoadRequest(
        sources=[str(source)],
        as_of=AS_OF_TS,
        list_name="demo",
        state_dir=tmp_path / "state",
        report=tmp_path / "report.json",
        rejects=tmp_path / "rejects.csv",
    )
    settings = soap_settings(soap_server, chunk_size=CHUNK, rate_guard_seconds=0.01)
    poisoned: list[str] = []  # the import's identifier, once per time its result is read
    original = SoapWire._result

    def result(self: SoapWire, identifier: str, answer: Any, rows: int) -> Any:
        if not poisoned or identifier == poisoned[0]:
            poisoned.append(identifier)
            raise InjectedFault(f"cannot parse the result of import {identifier}")
        return original(self, identifier, answer, rows)

    monkeypatch.setattr(SoapWire, "_result", result)
    for attempt in range(1, REPLAY_ATTEMPTS + 1):
        with pytest.raises(UnexpectedError, match="cannot parse the result"):
            run_load(request, settings, LoadProgress())
        assert len(poisoned) == attempt  # each attempt read that result first, once
        stopped = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
        assert stopped["stopped"].startswith("InjectedFault: cannot parse")
        assert stopped["delivered"] == 0  # every attempt stopped on the same step first

    final = run_load(request, settings, LoadProgress())
    assert len(poisoned) == REPLAY_ATTEMPTS  # not read a fourth time: set aside
    assert final.stopped is None
    assert final.failed == CHUNK
    assert final.delivered == ROWS - CHUNK
    assert final.rows_read == sum(final.as_dict()[b] for b in REPORT_BUCKETS)
    [aside] = final.set_aside
    assert aside["step"] == f"import {poisoned[0]}"
    assert (aside["rows"], aside["attempts"]) == (CHUNK, REPLAY_ATTEMPTS)
    assert "cannot parse the result" in aside["error"]
    assert any("contacts-etl retry --list 'demo'" in note for note in final.notes)

    again = run_load(request, settings, LoadProgress())  # set aside for good, not resent
    assert (again.failed, again.already_delivered, again.delivered) == (CHUNK, ROWS - CHUNK, 0)

    monkeypatch.setattr(SoapWire, "_result", original)  # the cause is fixed
    replay = run_retry("demo", settings, tmp_path / "state")
    assert (replay.delivered, replay.failed) == (CHUNK, 0)
    assert len(five9.records("demo")) == ROWS
    after_retry = run_load(request, settings, LoadProgress())
    assert (after_retry.failed, after_retry.already_delivered) == (0, ROWS)


def test_stops_that_are_not_the_steps_fault_do_not_count_against_it(
    soap_server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three stops while an import's result is read that are not the step's fault (Five9
    says the list is gone, as when an administrator deletes it mid-run): the fourth attempt
    reads the result as usual, and sets nothing aside."""
    soap_server.sandbox.reset()
    source = generate_contacts(tmp_path / "contacts.csv", ROWS)
    request = LoadRequest(
        sources=[str(source)], as_of=AS_OF_TS, list_name="demo", state_dir=tmp_path / "state"
    )
    settings = soap_settings(soap_server, chunk_size=CHUNK, rate_guard_seconds=0.01)
    original = SoapWire._result
    stops: list[str] = []

    def result(self: SoapWire, identifier: str, answer: Any, rows: int) -> Any:
        if len(stops) < REPLAY_ATTEMPTS:
            stops.append(identifier)
            raise Five9RefusedError("Five9 list 'demo' is gone")
        return original(self, identifier, answer, rows)

    monkeypatch.setattr(SoapWire, "_result", result)
    for _ in range(REPLAY_ATTEMPTS):
        with pytest.raises(Five9RefusedError):
            run_load(request, settings, LoadProgress())
    assert len(set(stops)) == 1  # the same import each time
    final = run_load(request, settings, LoadProgress())
    assert final.set_aside == []
    assert (final.failed, final.delivered + final.already_delivered) == (0, ROWS)


def test_dead_letters_whose_replay_fails_every_time_are_left_out_so_the_rest_land(
    rest_server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty rows wait as dead letters; replaying the second chunk breaks the request's
    encoding every time. The first `retry` delivers the first chunk and stops on the second,
    as do two more; the fourth leaves that chunk's letters out and delivers the last; once
    fixed, the next delivers them, and no count of any letter is left behind."""
    five9 = rest_server.sandbox
    five9.reset()
    five9.set_faults(FaultPlan(errors_5xx=3))
    source = generate_contacts(tmp_path / "contacts.csv", 30)
    state = tmp_path / "state"
    request = LoadRequest(sources=[str(source)], as_of=AS_OF_TS, list_name="demo", state_dir=state)
    settings = client_settings(
        rest_server, chunk_size=CHUNK, max_in_flight=1, max_attempts=1, rate_guard_seconds=0.01
    )
    failing = run_load(request, settings, LoadProgress())
    assert failing.failed == 30
    fixed_run = failing.run_id
    five9.set_faults(FaultPlan())
    original = rest_format.chunk_body  # as the REST wire calls it

    def body(chunk: Chunk, *args: Any) -> bytes:
        if "2000000015" in set(chunk.contacts["number1"]):
            raise InjectedFault("cannot encode this chunk")
        return original(chunk, *args)

    monkeypatch.setattr(rest_wire, "chunk_body", body)
    for _ in range(REPLAY_ATTEMPTS):
        with pytest.raises(InjectedFault):
            run_retry("demo", settings, state)
    assert len(five9.records("demo")) == CHUNK  # the first chunk, in the first retry
    fourth = run_retry("demo", settings, state)
    assert (fourth.set_aside, fourth.delivered) == (CHUNK, CHUNK)
    assert "InjectedFault: cannot encode this chunk" in fourth.set_aside_error
    monkeypatch.setattr(rest_wire, "chunk_body", original)  # the cause is fixed
    fixed = run_retry("demo", settings, state)
    assert (fixed.set_aside, fixed.delivered, fixed.dead_letters) == (0, CHUNK, CHUNK)
    assert len(five9.records("demo")) == 30
    ledger = RunLedger(state)  # no count left behind, of letters that landed early included
    assert [step for step in ledger.replay_attempts(fixed_run) if step.startswith("letter")] == []
    ledger.close()


@pytest.fixture
def cli_load(
    rest_server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """The command line of a load of 30 rows into the REST sandbox (settings in the env)."""
    rest_server.sandbox.reset()
    for name, value in {
        "FIVE9_BASE_URL": rest_server.base_url,
        "FIVE9_CONSUMER_KEY": "sandbox-key",
        "FIVE9_SECRET_KEY": SECRET,
        "FIVE9_MAX_REQUESTS": "50",
        "FIVE9_RATE_WINDOW_SECONDS": "1",
        "FIVE9_CHUNK_SIZE": "10",
        "CONTACTS_STATE_DIR": str(tmp_path / "state"),
    }.items():
        monkeypatch.setenv(name, value)
    source = generate_contacts(tmp_path / "contacts.csv", 30)
    report = tmp_path / "report.json"
    return ["load", str(source), "--list", "demo", "--report", str(report), "--no-prefect"]


def run_main(arguments: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["contacts-etl", *arguments])
    with pytest.raises(SystemExit) as ended:
        main()
    return int(ended.value.code or 0)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_an_unexpected_failure_is_one_line_and_exit_1_with_the_traceback_kept(
    debug: bool,
    cli_load: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    boundary = Boundary("sinks.rest_wire:parse_upload_answer", 2)
    fault = Fault(boundary, lambda: InjectedFault(f"bad answer; secret {SECRET}")).arm(monkeypatch)
    code = run_main([*cli_load, *(["--debug"] if debug else [])], monkeypatch)
    assert fault.fired == 1
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert code == 1
    assert line.startswith("contacts-etl: error: the load failed unexpectedly: InjectedFault:")
    assert "run the same command again" in line
    assert "(or run with --debug)" in line
    kept = Path(line.split("the details are in ")[1].split(" (or run")[0])
    assert kept.parent == tmp_path / "state" / "failures"
    assert "Traceback" in kept.read_text(encoding="utf-8")
    assert ("Traceback" in err) is debug  # the traceback on screen only when asked for
    if not debug:
        assert err.strip().count("\n") == 0
    assert SECRET not in err + kept.read_text(encoding="utf-8")
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["stopped"].startswith("InjectedFault: bad answer; secret ***")
    assert report["delivered"] >= 10
    assert report["unsettled"] > 0


def test_a_rerun_from_the_command_line_goes_on_after_the_failure(
    cli_load: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with monkeypatch.context() as patched:
        Fault(Boundary("sinks.ledger:RunLedger.record_chunk", 2), InjectedFault).arm(patched)
        assert run_main(cli_load, monkeypatch) == 1
    capsys.readouterr()
    assert run_main(cli_load, monkeypatch) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["stopped"] is None
    assert report["delivered"] + report["already_delivered"] == 30
    assert report["already_delivered"] >= 10


def test_an_unexpected_failure_of_another_command_is_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", 30)
    monkeypatch.setenv("CONTACTS_STATE_DIR", str(tmp_path / "state"))
    Fault(Boundary("contacts_etl.pipeline:normalise_batch"), InjectedFault).arm(monkeypatch)
    code = run_main(["preview", str(source)], monkeypatch)
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("contacts-etl: error: preview failed unexpectedly: InjectedFault")
    assert "Traceback" not in err
    assert err.count("\n") == 0
    assert list((tmp_path / "state" / "failures").glob("*-preview.log"))


def test_a_user_mistake_stays_exit_2_without_a_traceback(
    cli_load: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_main([*cli_load[:-1], "--order", "sideways", "--debug"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0

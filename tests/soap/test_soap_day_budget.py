"""Five9's third SOAP limit, 2,000 import calls a day per user: the sandbox refuses calls past
it, and the sink counts it (across runs, through the run ledger) and, once it is spent, fails
the rest of the run at once as dead letters instead of waiting for hours."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.retry import run_retry
from contacts_etl.run_report import LoadReport
from contacts_etl.run_state import credential_id
from five9_sandbox import FaultPlan, Sandbox, SandboxServer
from sinks.call_budget import BudgetWindow, CallBudget, Spent
from sinks.ledger import RunLedger
from tests.sandbox.soap_helpers import SoapCaller, add_records, numbered_rows
from tests.sinks.sink_helpers import AS_OF_TS, generate_contacts, read_table

from .soap_helpers import load_file, soap_sandbox, soap_settings

PER_DAY, DAY = 3, 4.0  # a "day" of 4 s holds 3 calls
CHUNK = 100


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(soap_sandbox(soap_calls_per_day=PER_DAY, soap_day_seconds=DAY)) as running:
        yield running


def load(
    server: SandboxServer, source: Path, state: Path, **settings: object
) -> tuple[LoadReport, float]:
    values: dict[str, object] = {
        "chunk_size": CHUNK,
        "soap_calls_per_day": PER_DAY,
        "soap_day_seconds": DAY,
        **settings,
    }
    began = time.monotonic()
    report = load_file(server, source, state, **values)
    return report, time.monotonic() - began


DAY_OF_TWO = BudgetWindow("a day", 2, 10.0, waits=False)


def test_the_budget_counts_calls_in_a_sliding_day() -> None:
    now = [1000.0]
    ledger = [985.0, 995.0]
    budget = CallBudget([DAY_OF_TWO], recorded=lambda _: list(ledger), clock=lambda: now[0])
    assert budget.spent() is None  # 985 left the day at 995
    budget.record(1000.0)
    assert budget.spent() == Spent(DAY_OF_TWO, 1005.0)  # full until the call at 995 leaves
    now[0] = 1005.0
    assert budget.spent() is None
    budget.record(1005.0)
    ledger.append(1005.0)  # the ledger holds this run's calls too: counted once
    assert budget.spent() == Spent(DAY_OF_TWO, 1010.0)


def test_calls_another_run_makes_meanwhile_count_at_once() -> None:
    now = [1000.0]
    ledger: list[float] = []
    budget = CallBudget([DAY_OF_TWO], recorded=lambda _: list(ledger), clock=lambda: now[0])
    budget.record(1000.0)
    ledger.append(1000.0)
    assert budget.spent() is None
    ledger.append(1001.0)  # another process on the same user, after this budget began
    assert budget.spent() == Spent(DAY_OF_TWO, 1010.0)


def test_a_spent_budget_fails_the_rest_at_once_and_retry_sends_it_later(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", 500)
    state = tmp_path / "state"
    report, seconds = load(server, source, state)
    assert (report.delivered, report.failed, report.requests) == (PER_DAY * CHUNK, 200, PER_DAY)
    assert report.balanced()
    assert report.calls_spent_until is not None
    assert seconds < DAY  # no waiting for the day to pass
    assert sandbox.events_of("soap_operations_limit") == []  # Five9 never had to refuse
    assert len(sandbox.records("demo")) == PER_DAY * CHUNK
    ledger = RunLedger(state)
    letters = ledger.dead_letters("demo")
    assert len(letters) == 200
    assert all("SOAP import calls a day" in letter.error for letter in letters)
    assert all("contacts-etl retry" in letter.error for letter in letters)

    settings = soap_settings(
        server, chunk_size=CHUNK, soap_calls_per_day=PER_DAY, soap_day_seconds=DAY
    )
    too_soon = run_retry("demo", settings, state)
    assert (too_soon.delivered, too_soon.failed, too_soon.requests) == (0, 200, 0)
    assert too_soon.calls_spent_until == report.calls_spent_until
    ((reason, count),) = too_soon.still_failing.items()
    assert count == 200
    assert "SOAP import calls a day" in reason

    time.sleep(DAY)  # the day passes
    replayed = run_retry(
        "demo",
        soap_settings(server, chunk_size=CHUNK, soap_calls_per_day=PER_DAY, soap_day_seconds=DAY),
        state,
    )
    assert (replayed.delivered, replayed.failed) == (200, 0)
    assert ledger.dead_letters("demo") == []
    assert len(sandbox.records("demo")) == 500
    ledger.close()


def test_the_budget_counts_the_calls_of_earlier_runs(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first, _ = load(server, generate_contacts(tmp_path / "a.csv", 200), state)
    second, _ = load(server, generate_contacts(tmp_path / "b.csv", 200, first=3_000_000_000), state)
    assert (first.delivered, first.requests) == (200, 2)
    assert (second.delivered, second.failed, second.requests) == (100, 100, 1)
    assert sandbox.events_of("soap_operations_limit") == []


def test_a_dry_run_says_when_the_budget_left_today_falls_short(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    load(server, generate_contacts(tmp_path / "a.csv", 200), state)  # 2 of the 3 calls
    sandbox.reset()  # Five9's counters no longer show them (its day ended): the ledger does
    request = LoadRequest(
        sources=[str(generate_contacts(tmp_path / "b.csv", 300, first=3_000_000_000))],
        as_of=AS_OF_TS,
        list_name="demo",
        state_dir=state,
        dry_run=True,
    )
    settings = soap_settings(
        server, chunk_size=CHUNK, soap_calls_per_day=PER_DAY, soap_day_seconds=DAY
    )
    report = run_load(request, settings, LoadProgress())
    assert (report.would_deliver, report.requests) == (300, 3)
    assert any("has 1 left for this user: 2 of the 3 calls" in note for note in report.notes)
    assert sandbox.soap.import_times() == []  # the dry run made none


def test_calls_five9_refused_for_a_limit_do_not_spend_the_budget(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(FaultPlan(soap_operations_limit=2))
    state = tmp_path / "state"
    report, _ = load(server, generate_contacts(tmp_path / "a.csv", PER_DAY * CHUNK), state)
    assert (report.delivered, report.failed, report.requests) == (PER_DAY * CHUNK, 0, PER_DAY + 2)
    assert report.calls_spent_until is None
    ledger = RunLedger(state)
    assert len(ledger.recent_sends(credential_id(soap_settings(server)), DAY)) == PER_DAY
    ledger.close()


def test_the_sandbox_refuses_calls_past_the_day(server: SandboxServer, sandbox: Sandbox) -> None:
    # Another machine spent the day: a client that does not know it is refused by Five9.
    sandbox.spend_soap_calls(PER_DAY, seconds_ago=1.0)
    caller = SoapCaller(server)
    answer = caller.call(add_records("demo", numbered_rows(1)))
    caller.close()
    assert (answer.status, answer.fault) == (500, "OperationsLimitExceededFault")
    assert [event["window"] for event in sandbox.events_of("soap_operations_limit")] == ["day"]
    assert sandbox.records("demo") == {}


def test_a_day_limit_five9_reports_binds_a_client_set_for_more(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    # The client is told 100 calls a day; Five9's counters say the user's limit is 3.
    source = generate_contacts(tmp_path / "contacts.csv", 400)
    report, _ = load(
        server, source, tmp_path / "state", soap_calls_per_day=100, max_retry_seconds=1.0
    )
    assert (report.delivered, report.failed) == (PER_DAY * CHUNK, CHUNK)
    assert report.calls_spent_until is not None
    assert sandbox.events_of("soap_operations_limit") == []  # Five9 never had to refuse
    assert sandbox.soap.max_in_any("day") == PER_DAY
    assert report.balanced()


def test_day_calls_other_machines_spent_count_before_the_first_import(tmp_path: Path) -> None:
    # Five9's real day: 2,000 calls, 1,990 of them spent by other work earlier today (outside
    # the sandbox's scaled minute and hour), none of them in this machine's ledger.
    sandbox = soap_sandbox()
    with SandboxServer(sandbox) as server:
        sandbox.spend_soap_calls(1_990, seconds_ago=10.0)
        state = tmp_path / "state"
        rejects = tmp_path / "contacts.rejects.csv"
        report = load_file(server, generate_contacts(tmp_path / "contacts.csv", 1_500), state)

    assert (report.delivered, report.failed, report.requests) == (1_000, 500, 10)
    assert report.balanced(), report.buckets()
    assert sandbox.soap.calls()["asyncAddRecordsToList"] == 10
    assert sandbox.soap.max_in_any("day") == 2_000  # the day's budget used, not passed
    assert sandbox.events_of("soap_operations_limit") == []
    assert report.calls_spent_until is not None
    assert any("1,990 of 2,000 import calls a day" in note for note in report.notes)
    reasons = set(read_table(rejects).query("bucket == 'failed'")["reason"])
    assert len(reasons) == 1
    assert "budget of 2,000 SOAP import calls a day for this user is spent until" in reasons.pop()
    ledger = RunLedger(state)
    assert len(ledger.dead_letters("demo")) == 500
    ledger.close()


def test_an_hour_other_work_spent_is_waited_for_not_refused(tmp_path: Path) -> None:
    # 57 of the scaled hour's 60 calls were made 3 s ago (outside the 2 s minute): the load's
    # first 3 calls fit, then it waits for the hour to free instead of meeting Five9's refusal.
    sandbox = soap_sandbox()
    notices: list[str] = []
    with SandboxServer(sandbox) as server:
        sandbox.spend_soap_calls(57, seconds_ago=3.0)
        request = LoadRequest(
            sources=[str(generate_contacts(tmp_path / "contacts.csv", 500))],
            as_of=AS_OF_TS,
            list_name="demo",
        )
        began = time.monotonic()
        report = run_load(request, soap_settings(server), LoadProgress(notice=notices.append))
        took = time.monotonic() - began

    assert (report.delivered, report.failed, report.requests) == (500, 0, 5)
    assert sandbox.events_of("soap_operations_limit") == []
    assert sandbox.soap.max_in_any("hour") <= 60
    assert any("SOAP import calls an hour for this user are spent" in n for n in notices)
    assert took >= 2.5  # it waited for the spent calls to leave the hour (3 s after)

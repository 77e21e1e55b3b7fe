"""`run_load` over the legacy SOAP path against the sandbox on loopback: the same exact
delivery, faults, refusals and accounting as the REST path, and Five9's SOAP limits held."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from contacts_etl.load import SOAP_WINDOW_NOTE, LoadRequest, run_load
from contacts_etl.run_report import LoadReport
from five9_sandbox import FaultPlan, Sandbox, SandboxServer
from sinks.chunk import Chunk
from sinks.five9_sink import Five9Sink
from sinks.rest_format import UploadModes
from sinks.settings import Five9Settings
from tests.conftest import FIXTURES, SAMPLES
from tests.sandbox.soap_helpers import SoapCaller, add_records, by_identifier, numbered_rows
from tests.sinks.sink_helpers import (
    AS_OF_TS,
    ExpectedRecord,
    assert_samples_delivered,
    generate_contacts,
    load_samples_with,
    max_in_window,
    preview_rows,
    read_table,
)

from .soap_helpers import soap_sandbox, soap_settings, stored_calls, wanted_calls

CONTACTS = SAMPLES / "contacts.csv"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
VALID = int(EXPECTED["buckets"]["valid"])
CHUNK = 20


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(soap_sandbox()) as running:
        yield running


def load_samples(
    server: SandboxServer,
    rejects: Path | None = None,
    source: Path = CONTACTS,
    settings: Five9Settings | None = None,
) -> LoadReport:
    return load_samples_with(settings or soap_settings(server, chunk_size=CHUNK), rejects, source)


def assert_complete(report: LoadReport, sandbox: Sandbox, rows: list[ExpectedRecord]) -> None:
    """Every valid row delivered once, nothing failed, the buckets add up, records exact."""
    assert_samples_delivered(report)
    assert stored_calls(sandbox) == wanted_calls(rows)


def test_every_valid_sample_row_arrives_once_with_its_guard_start_as_call_time(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord], tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    report = load_samples(server, rejects, settings=soap_settings(server))

    records = sandbox.records("demo")
    assert len(records) == VALID
    assert stored_calls(sandbox) == wanted_calls(sample_rows)
    assert {record.writes for record in records.values()} == {1}
    assert report.balanced(), report.buckets()
    assert (report.rows_read, report.delivered) == (EXPECTED["rows"], VALID)
    for bucket in ("invalid", "expired", "duplicate"):
        assert getattr(report, bucket) == EXPECTED["buckets"][bucket], bucket
    assert report.requests == report.chunks == -(-VALID // 100)  # at most 100 a call
    assert (report.failed, report.rejected_by_five9, report.throttled_429) == (0, 0, 0)
    assert SOAP_WINDOW_NOTE in report.notes
    assert report.target.endswith("/wsadmin/v13/AdminWebService")
    set_aside = read_table(rejects)
    for bucket in ("invalid", "expired", "duplicate"):
        lines = sorted(int(n) for n in set_aside.loc[set_aside["bucket"] == bucket, "source_line"])
        assert lines == EXPECTED["lines"][bucket], bucket
    assert len(set_aside) == EXPECTED["rows"] - VALID
    calls = sandbox.soap.calls()
    assert calls["asyncAddRecordsToList"] == report.requests
    assert calls["getListImportResult"] == report.requests


@pytest.mark.parametrize(
    ("plan", "event", "count"),
    [
        (FaultPlan(soap_operations_limit=3), "soap_operations_limit", 3),
        (FaultPlan(errors_5xx=4), "error_5xx", 4),
        (FaultPlan(drop_connections=3), "dropped_connection", 3),
        (FaultPlan(soap_not_ready=3), "soap_result_not_ready", 3),
    ],
    ids=["operations-limit-exceeded", "5xx-and-server-faults", "dropped-connections", "not-ready"],
)
def test_injected_faults_end_delivered(
    server: SandboxServer,
    sandbox: Sandbox,
    sample_rows: list[ExpectedRecord],
    plan: FaultPlan,
    event: str,
    count: int,
) -> None:
    sandbox.set_faults(plan)
    report = load_samples(server)

    assert_complete(report, sandbox, sample_rows)
    assert len(sandbox.events_of(event)) >= count
    if event in ("error_5xx", "dropped_connection", "soap_operations_limit"):
        assert report.retries == count
        assert report.requests == report.chunks + count
    if event == "error_5xx":
        assert [e["status"] for e in sandbox.events_of(event)] == [500, 502, 503, 504]
    if event == "soap_operations_limit":
        assert report.throttled_429 == count
    assert {record.writes for record in sandbox.records("demo").values()} == {1}


def test_drop_after_import_resend_updates_instead_of_adding_a_second_record(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(drop_connections=3, drop_after_load=True))
    report = load_samples(server)

    assert_complete(report, sandbox, sample_rows)
    records = sandbox.records("demo")
    assert len(records) == VALID
    assert len([key for key, record in records.items() if record.writes > 1]) >= CHUNK


def test_answers_slower_than_the_client_timeout_are_retried(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    # the client waits 0.5 s + the 1 s poll allowance; the two slow calls take 2 s, and while
    # one is still in progress Five9 refuses the user's next call (ConcurrentModification)
    sandbox.set_faults(FaultPlan(slow_seconds=2.0, slow_count=2))
    settings = soap_settings(server, chunk_size=CHUNK, request_timeout_seconds=0.5)
    report = load_samples(server, settings=settings)

    assert_complete(report, sandbox, sample_rows)
    assert len(sandbox.events_of("slow_answer")) == 2
    assert report.retries >= 2


def test_calls_whose_retries_run_out_fail_their_rows(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord], tmp_path: Path
) -> None:
    sandbox.set_faults(FaultPlan(errors_5xx=10_000))
    rejects = tmp_path / "rejects.csv"
    report = load_samples(server, rejects, settings=soap_settings(server, max_attempts=2))

    chunks = -(-VALID // 100)
    assert (report.failed, report.delivered) == (VALID, 0)
    assert report.balanced(), report.buckets()
    assert report.requests == 2 * chunks
    assert sandbox.records("demo") == {}
    failed = read_table(rejects).query("bucket == 'failed'")
    assert sorted(int(n) for n in failed["source_line"]) == sorted(
        r.source_line for r in sample_rows
    )
    assert failed["reason"].str.contains("gave up after 2 attempts").all()


def test_an_import_result_that_never_comes_fails_its_rows_once_the_time_is_spent(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(FaultPlan(soap_not_ready=10_000))
    rejects = tmp_path / "rejects.csv"
    settings = soap_settings(server, max_attempts=2, max_retry_seconds=1.5)
    began = time.monotonic()
    report = load_samples(server, rejects, settings=settings)
    assert time.monotonic() - began < 30  # not a poll loop without end
    assert report.failed == VALID
    assert report.balanced(), report.buckets()
    reasons = read_table(rejects).query("bucket == 'failed'")["reason"]
    assert reasons.str.contains("its result was not ready while waiting for import").all()
    assert reasons.str.contains("Five9 may have loaded these rows").all()
    assert len(sandbox.events_of("soap_result_not_ready")) > 2  # more polls than attempts


def test_import_troubles_are_rejected_by_five9_with_its_message(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    lines = CONTACTS.read_text(encoding="utf-8").splitlines(keepends=True)
    first_part = tmp_path / "first_part.csv"
    first_part.write_text("".join(lines[:121]), encoding="utf-8")
    known = {
        r.fields["number1"] for r in preview_rows([first_part], tmp_path / "first_would_send.csv")
    }
    every = preview_rows([CONTACTS], tmp_path / "would_send.csv")
    load_samples(server, source=first_part)
    rejects = tmp_path / "rejects.csv"
    settings = soap_settings(server, chunk_size=CHUNK, crm_add_mode="DONT_ADD")
    report = load_samples(server, rejects, settings=settings)

    updated = [r for r in every if r.fields["number1"] in known]
    refused = [r for r in every if r.fields["number1"] not in known]
    assert 0 < len(updated) < len(every)
    assert (report.delivered, report.rejected_by_five9, report.failed) == (
        len(updated),
        len(refused),
        0,
    )
    assert report.balanced(), report.buckets()
    assert stored_calls(sandbox) == wanted_calls(updated)
    by_five9 = read_table(rejects).query("bucket == 'rejected_by_five9'")
    assert sorted(int(n) for n in by_five9["source_line"]) == sorted(r.source_line for r in refused)
    assert set(by_five9["reason"]) == {
        "Five9: NoMatchesInContacts: No matching contact (crmAddMode DONT_ADD)"
    }
    # Five9's failureMessage came with the troubles: a warning of the run, not a verdict
    assert report.five9_warnings["There were errors during the upload"] >= 1


def test_five9_warnings_reach_the_report(tmp_path: Path) -> None:
    sandbox = soap_sandbox(custom_fields=frozenset({"account_id"}))
    with SandboxServer(sandbox) as server:
        report = load_samples(server, settings=soap_settings(server))
    assert report.delivered == VALID
    assert report.five9_warnings == {
        "Field 'segment' does not exist; its column was ignored": VALID
    }
    assert all("segment" not in r.fields for r in sandbox.records("demo").values())


def test_limits_hold_in_both_windows(tmp_path: Path) -> None:
    # 30 calls an "hour" of 3 s binds harder than 20 a "minute" of 2 s: 0.105 s apart
    sandbox = soap_sandbox(soap_calls_per_hour=30, soap_hour_seconds=3.0, soap_import_seconds=0.0)
    source = generate_contacts(tmp_path / "contacts.csv", 500)
    with SandboxServer(sandbox) as server:
        settings = soap_settings(server, chunk_size=10)
        request = LoadRequest(sources=[str(source)], as_of=AS_OF_TS, list_name="demo")
        report = run_load(request, settings)
    assert (report.delivered, report.requests) == (500, 50)
    times = sandbox.soap.import_times()
    assert len(times) == 50
    assert max_in_window(times, 3.0) <= 30
    assert max_in_window(times, 2.0) <= 20
    assert sandbox.events_of("soap_operations_limit") == []
    assert sandbox.events_of("soap_concurrent_call") == []


SOURCES = sorted(
    [p for p in FIXTURES.iterdir() if p.suffix in {".csv", ".tsv", ".parquet"}]
    + [SAMPLES / "contacts.parquet"]
)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_row_read_is_in_exactly_one_bucket(
    server: SandboxServer, sandbox: Sandbox, source: Path, tmp_path: Path
) -> None:
    encoding = "latin-1" if "latin1" in source.name else "utf-8"
    request = LoadRequest(
        sources=[str(source)],
        as_of=AS_OF_TS,
        list_name="demo",
        encoding=encoding,
        rejects=tmp_path / "rejects.csv",
    )
    report = run_load(request, soap_settings(server))
    assert report.balanced(), report.buckets()
    assert report.failed == 0
    assert len(sandbox.records("demo")) == report.delivered
    if report.rows_read > report.delivered:
        assert len(read_table(tmp_path / "rejects.csv")) == report.rows_read - report.delivered


def direct_chunk(ends: list[str]) -> Chunk:
    labels = pd.Index(range(10, 10 + len(ends)))
    count = len(ends)
    contacts = pd.DataFrame(
        {
            "source_file": pd.Series(["direct.csv"] * count, index=labels, dtype="str"),
            "source_line": pd.Series(range(2, 2 + count), index=labels, dtype="int64"),
            "number1": pd.Series(
                [str(2125550100 + i) for i in range(count)], index=labels, dtype="str"
            ),
            "guard_start": pd.Series(
                pd.to_datetime(["2027-12-01T14:00:00Z"] * count, utc=True), index=labels
            ),
            "guard_end": pd.Series(pd.to_datetime(ends, utc=True), index=labels),
        }
    )
    originals = contacts[["source_file", "source_line", "number1"]].astype("str")
    return Chunk(0, contacts, originals, np.arange(count))


def test_rows_whose_window_closed_before_their_call_are_held_back_as_expired(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    chunk = direct_chunk(["2027-12-01T22:00:00Z", "2027-12-01T15:00:00Z", "2027-12-01T22:00:00Z"])
    seen: list[tuple[list[int], str]] = []

    def set_aside(part: Chunk, rows: pd.Series, bucket: str, reason: Any) -> None:
        seen.append((list(rows), bucket))

    async def deliver() -> Five9Sink:
        sink = Five9Sink.for_settings(
            soap_settings(server),
            "demo",
            UploadModes(),
            set_aside,
            clock=lambda: pd.Timestamp("2027-12-01T15:00:00Z"),
        )
        async with sink:
            await sink.deliver([chunk])
        return sink

    totals = asyncio.run(deliver()).totals
    assert (totals.delivered, totals.expired) == (2, 1)
    assert seen == [([11], "expired")]
    assert sorted(stored_calls(sandbox)) == ["2125550100", "2125550102"]


def test_calls_over_five9s_record_limit_are_halved_until_they_fit(
    sample_rows: list[ExpectedRecord],
) -> None:
    sandbox = soap_sandbox(soap_max_records=40)
    with SandboxServer(sandbox) as server:
        report = load_samples(server, settings=soap_settings(server))
    assert_complete(report, sandbox, sample_rows)
    # each call of 100 is refused, then its halves of 50, then 4 calls of 25 land; the last
    # call holds VALID % 100 rows and fits
    full = VALID // 100
    assert report.requests == 7 * full + 1
    assert report.chunks == full + 1
    assert len(sandbox.soap.import_times()) == 4 * full + 1


def test_a_control_character_sets_its_row_aside_and_the_rest_land(
    server: SandboxServer, tmp_path: Path
) -> None:
    server.sandbox.reset()
    source = tmp_path / "control.csv"
    source.write_text(
        "number1,first_name,guard_start,guard_end\n"
        + "".join(
            f"21255501{n:02d},{name},2030-01-02 09:00,2030-01-02 17:00\n"
            for n, name in enumerate(["Ann", "Ctrl\x01Char", "Vertical\x0btab", "Bo"])
        ),
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    report = load_samples(server, rejects, source)
    assert (report.rows_read, report.delivered, report.invalid) == (4, 2, 2)
    assert {key[0] for key in server.sandbox.records("demo")} == {"2125550100", "2125550103"}
    assert read_table(rejects)["reason"].tolist() == [
        "first_name contains the control character U+0001",
        "first_name contains the control character U+000B",
    ]


def test_a_call_of_the_user_still_served_is_waited_out_not_fatal(tmp_path: Path) -> None:
    # A process killed mid-poll leaves its call served at Five9 for a while: a rerun's first
    # calls meet ConcurrentModificationFault, and wait instead of stopping the run.
    sandbox = soap_sandbox(soap_import_seconds=1.5)
    with SandboxServer(sandbox) as server:
        caller = SoapCaller(server)
        started = caller.call(add_records("demo", numbered_rows(1, first=3_000_000_000)))
        identifier = str(started.returned().findtext("identifier"))
        held = threading.Thread(
            target=caller.call, args=(by_identifier("isImportRunning", identifier, wait="5"),)
        )
        held.start()
        while not sandbox.soap.serving(sandbox.settings.username):
            time.sleep(0.01)
        report = load_samples(server, settings=soap_settings(server))
        held.join()
        caller.close()
    assert (report.delivered, report.failed) == (VALID, 0)
    assert sandbox.events_of("soap_concurrent_call")

"""`run_load` against the Five9 sandbox over real HTTP on loopback: exact delivery, every
injected fault, retries running out, whole-chunk refusals and Five9's importTroubles."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contacts_etl.run_report import LoadReport
from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings
from sinks.chunk import Chunk
from sinks.five9_sink import Five9Sink
from sinks.rest_format import UploadModes, parse_upload_answer
from sinks.settings import Five9Settings
from tests.conftest import SAMPLES

from .sink_helpers import (
    ExpectedRecord,
    assert_samples_delivered,
    client_settings,
    load_samples_with,
    preview_rows,
    read_table,
    stored,
    wanted,
    write_contacts,
)

CONTACTS = SAMPLES / "contacts.csv"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
VALID = int(EXPECTED["buckets"]["valid"])
CHUNK = 50


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """One sandbox for the module (20 uploads per 2 s), reset before each test."""
    with SandboxServer(Sandbox(SandboxSettings(max_requests=20, window_seconds=2))) as running:
        yield running


def load_samples(
    server: SandboxServer,
    rejects: Path | None = None,
    source: Path = CONTACTS,
    settings: Five9Settings | None = None,
) -> LoadReport:
    return load_samples_with(settings or client_settings(server, chunk_size=CHUNK), rejects, source)


def assert_complete(report: LoadReport, sandbox: Sandbox, rows: list[ExpectedRecord]) -> None:
    """Every valid row delivered once, nothing failed, the buckets add up, records exact."""
    assert_samples_delivered(report)
    assert stored(sandbox) == wanted(rows)


# ------------------------------------------------------------------------- exact delivery


def test_every_valid_sample_row_arrives_once_with_its_exact_guard_time(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord], tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    report = load_samples(server, rejects)

    records = sandbox.records("demo")
    assert len(records) == len(sample_rows) == VALID
    # same keys, same fields, same guard_start/guard_end to the minute as preview's --output
    assert stored(sandbox) == wanted(sample_rows)
    assert {record.writes for record in records.values()} == {1}
    assert report.balanced(), report.buckets()
    assert (report.rows_read, report.delivered) == (EXPECTED["rows"], VALID)
    for bucket in ("invalid", "expired", "duplicate"):
        assert getattr(report, bucket) == EXPECTED["buckets"][bucket], bucket
    assert report.requests == report.chunks == -(-VALID // CHUNK)
    assert (report.failed, report.rejected_by_five9, report.throttled_429) == (0, 0, 0)
    set_aside = read_table(rejects)
    for bucket in ("invalid", "expired", "duplicate"):
        lines = sorted(int(n) for n in set_aside.loc[set_aside["bucket"] == bucket, "source_line"])
        assert lines == EXPECTED["lines"][bucket], bucket
    assert len(set_aside) == EXPECTED["rows"] - VALID


# --------------------------------------------------------------------------------- faults

STORMS = 3


@pytest.mark.parametrize("retry_after", [None, "0", "soon"])
def test_429_storm_without_a_usable_retry_after_backs_off_and_delivers(
    server: SandboxServer,
    sandbox: Sandbox,
    sample_rows: list[ExpectedRecord],
    retry_after: str | None,
) -> None:
    sandbox.set_faults(FaultPlan(storm_429=STORMS, retry_after=retry_after))
    report = load_samples(server, settings=client_settings(server, max_in_flight=1))

    assert_complete(report, sandbox, sample_rows)
    storms = sandbox.events_of("storm_429")
    assert [event["retry_after"] for event in storms] == [retry_after] * STORMS
    assert (report.throttled_429, report.retries) == (STORMS, STORMS)
    # its own jittered backoff (0.05 s base, 0.2 s cap), not a fixed wait of a second or more
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(storms)]
    assert max(gaps) < 0.75, gaps


def test_a_429_storm_longer_than_the_attempts_is_ridden_out_when_five9_says_when(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    # Twice as many 429s as attempts allowed, each with a Retry-After: Five9 said when to
    # come back, so only the time budget bounds them, and every row lands.
    storms = 2 * 8
    sandbox.set_faults(FaultPlan(storm_429=storms, retry_after="0.05"))
    settings = client_settings(server, max_in_flight=1, max_attempts=8)
    report = load_samples(server, settings=settings)

    assert_complete(report, sandbox, sample_rows)
    assert report.throttled_429 == storms


def test_429_storm_honours_retry_after(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(storm_429=STORMS, retry_after="1"))
    report = load_samples(server, settings=client_settings(server, max_in_flight=1))

    assert_complete(report, sandbox, sample_rows)
    storms = [event["t"] for event in sandbox.events_of("storm_429")]
    assert len(storms) == STORMS
    first_counted = sandbox.upload_times()[0] - sandbox.started_at
    moments = [*storms, first_counted]
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert min(gaps) >= 0.95, gaps  # nothing was sent within a second of a 429
    assert (report.throttled_429, report.retries) == (STORMS, STORMS)


def test_5xx_burst_is_retried(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(errors_5xx=4))
    report = load_samples(server)

    assert_complete(report, sandbox, sample_rows)
    assert [event["status"] for event in sandbox.events_of("error_5xx")] == [500, 502, 503, 504]
    assert report.retries == 4
    assert report.requests == report.chunks + 4


def test_dropped_connections_are_retried(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(drop_connections=3))
    report = load_samples(server)

    assert_complete(report, sandbox, sample_rows)
    assert len(sandbox.events_of("dropped_connection")) == 3
    assert report.retries == 3
    assert {record.writes for record in sandbox.records("demo").values()} == {1}


def test_drop_after_load_resend_updates_instead_of_adding_a_second_record(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(drop_connections=3, drop_after_load=True))
    report = load_samples(server)

    assert_complete(report, sandbox, sample_rows)
    assert len(sandbox.events_of("dropped_connection")) == 3
    records = sandbox.records("demo")
    assert len(records) == VALID  # one record per key, however often it was sent
    rewritten = [key for key, record in records.items() if record.writes > 1]
    assert len(rewritten) >= CHUNK  # the hung-up chunks were loaded, then sent again


def test_answers_slower_than_the_client_timeout_are_retried(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    slow = 2.0
    sandbox.set_faults(FaultPlan(slow_seconds=slow, slow_count=2))
    settings = client_settings(server, chunk_size=CHUNK, request_timeout_seconds=0.8)
    report = load_samples(server, settings=settings)

    assert_complete(report, sandbox, sample_rows)
    assert len(sandbox.events_of("slow_answer")) == 2
    assert report.retries >= 2
    # the sandbox still loads a slow request after the client gave up on it: once those
    # late loads have landed, there is still one record per key, with the same values
    time.sleep(slow + 0.5)
    assert stored(sandbox) == wanted(sample_rows)
    assert max(record.writes for record in sandbox.records("demo").values()) == 2


def test_early_token_expiry_renews_once_and_carries_on(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(expire_tokens_after=2))
    report = load_samples(server)

    assert_complete(report, sandbox, sample_rows)
    assert len(sandbox.events_of("tokens_expired_early")) == 1
    assert sandbox.events_of("unauthorized")
    assert len(sandbox.events_of("token_issued")) == 2  # the first one, and one renewal


# ---------------------------------------------------------------------- giving up on chunks


def test_chunk_whose_retries_run_out_is_failed_with_its_rows_in_the_rejects(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord], tmp_path: Path
) -> None:
    # one request at a time: chunk 0 meets 500 then 502 and gives up; chunk 1 meets 503, then
    # its second attempt is answered 200
    sandbox.set_faults(FaultPlan(errors_5xx=3))
    settings = client_settings(server, chunk_size=CHUNK, max_attempts=2, max_in_flight=1)
    rejects = tmp_path / "rejects.csv"
    report = load_samples(server, rejects, settings=settings)

    first_chunk, rest = sample_rows[:CHUNK], sample_rows[CHUNK:]
    assert report.failed == CHUNK
    assert report.delivered == VALID - CHUNK
    assert report.balanced(), report.buckets()
    assert stored(sandbox) == wanted(rest)
    failed = read_table(rejects).query("bucket == 'failed'")
    assert sorted(int(n) for n in failed["source_line"]) == sorted(
        r.source_line for r in first_chunk
    )
    assert failed["reason"].str.contains("gave up after 2 attempts").all()
    assert failed["reason"].str.contains("HTTP 502").all()
    assert report.requests == report.chunks + 2


def test_whole_chunk_400_is_split_until_the_bad_row_is_isolated(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord], tmp_path: Path
) -> None:
    refused_chunk = sample_rows[2 * CHUNK : 3 * CHUNK]
    target = refused_chunk[20].fields["number1"]
    sandbox.set_faults(FaultPlan(refuse_chunk_containing=target))
    rejects = tmp_path / "rejects.csv"
    report = load_samples(server, rejects)

    # The good 49 rows of the refused chunk still land; the one Five9 refuses is set aside.
    assert report.failed == 0
    assert report.rejected_by_five9 == 1
    assert report.delivered == VALID - 1
    assert report.balanced(), report.buckets()
    assert report.retries == 0
    # Halving 50 rows down to the one bad row: the whole chunk, then one half at each level.
    refusals = len(sandbox.events_of("refused_chunk"))
    assert refusals == 7  # 50, 25, 13, 7, 4, 2, 1 rows
    everyone_else = [r for r in sample_rows if r.fields["number1"] != target]
    assert stored(sandbox) == wanted(everyone_else)
    rejected = read_table(rejects).query("bucket == 'rejected_by_five9'")
    assert rejected["source_line"].astype(int).tolist() == [refused_chunk[20].source_line]
    assert rejected["reason"].str.contains("HTTP 400").all()
    assert rejected["reason"].str.contains(f"contact with number1 {target} refused").all()


# -------------------------------------------------------------------------- importTroubles


def test_contacts_five9_will_not_add_are_rejected_by_five9_with_its_message(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    """crmAddMode DONT_ADD passes every check of the pipeline, but Five9 answers each
    contact it does not know with an importTroubles row (NoMatchesInContacts)."""
    lines = CONTACTS.read_text(encoding="utf-8").splitlines(keepends=True)
    first_part = tmp_path / "first_part.csv"
    first_part.write_text("".join(lines[:121]), encoding="utf-8")
    known = {
        r.fields["number1"] for r in preview_rows([first_part], tmp_path / "first_would_send.csv")
    }
    every = preview_rows([CONTACTS], tmp_path / "would_send.csv")
    assert 0 < len(known & {r.fields["number1"] for r in every}) < len(every)

    load_samples(server, source=first_part)
    rejects = tmp_path / "rejects.csv"
    settings = client_settings(server, chunk_size=CHUNK, crm_add_mode="DONT_ADD")
    report = load_samples(server, rejects, settings=settings)

    updated = [r for r in every if r.fields["number1"] in known]
    refused = [r for r in every if r.fields["number1"] not in known]
    assert report.delivered == len(updated)
    assert report.rejected_by_five9 == len(refused)
    assert report.failed == 0
    assert report.balanced(), report.buckets()
    assert stored(sandbox) == wanted(updated)
    by_five9 = read_table(rejects).query("bucket == 'rejected_by_five9'")
    assert sorted(int(n) for n in by_five9["source_line"]) == sorted(r.source_line for r in refused)
    assert set(by_five9["reason"]) == {
        "Five9: NoMatchesInContacts: No matching contact (crmAddMode DONT_ADD)"
    }


def test_parse_upload_answer_reads_import_troubles() -> None:
    answer = {
        "listName": "demo",
        "success": True,
        "crmRecordsInserted": 1,
        "importTroubles": [
            {"rowNumber": 3, "kind": "ParseError", "troubleMessage": "bad number1"},
            {"rowNumber": 1, "kind": "DuplicateKey", "troubleMessage": "row 1 repeats"},
            {"rowNumber": 0, "kind": "InternalImportError", "troubleMessage": "out of range"},
            {"rowNumber": 4, "kind": "InternalImportError", "troubleMessage": "out of range"},
        ],
    }
    parsed = parse_upload_answer(answer, rows=3)
    assert [(t.position, t.kind, t.message) for t in parsed.troubles] == [
        (2, "ParseError", "bad number1"),
        (0, "DuplicateKey", "row 1 repeats"),
    ]
    assert "importTroubles" not in parsed.raw
    assert parsed.raw["crmRecordsInserted"] == 1
    assert parse_upload_answer({"success": True, "importTroubles": None}, rows=2).troubles == ()


def test_sink_sets_aside_the_row_five9_lists_in_import_troubles(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    """A chunk built directly (no normalisation) with a number Five9 cannot read: that row,
    and only that row, is `rejected_by_five9` with Five9's message; its label is kept."""
    labels = pd.Index([10, 11, 12])  # not 0..n-1: positions and labels must not be mixed up
    contacts = pd.DataFrame(
        {
            "source_file": pd.Series(["direct.csv"] * 3, index=labels, dtype="str"),
            "source_line": pd.Series([2, 3, 4], index=labels, dtype="int64"),
            "number1": pd.Series(["2125550101", "555-0102", "2125550103"], labels, dtype="str"),
            "first_name": pd.Series(["Ann", "Bo", "Cy"], index=labels, dtype="str"),
            "guard_start": pd.Series(
                pd.to_datetime(["2027-12-01T14:00:00Z"] * 3, utc=True), index=labels
            ),
            "guard_end": pd.Series(
                pd.to_datetime(["2027-12-01T22:00:00Z"] * 3, utc=True), index=labels
            ),
        }
    )
    assert contacts.notna().all().all()
    originals = contacts[["source_file", "source_line", "number1"]].astype("str")
    seen: list[tuple[list[int], str, pd.Series | str]] = []

    def set_aside(chunk: Chunk, rows: pd.Series, bucket: str, reason: pd.Series | str) -> None:
        seen.append((list(rows), bucket, reason))

    async def deliver() -> Five9Sink:
        sink = Five9Sink.for_settings(client_settings(server), "demo", UploadModes(), set_aside)
        async with sink:
            await sink.deliver([Chunk(0, contacts, originals, np.arange(len(contacts)))])
        return sink

    totals = asyncio.run(deliver()).totals
    assert (totals.delivered, totals.rejected_by_five9, totals.failed) == (2, 1, 0)
    assert len(seen) == 1
    rows, bucket, reason = seen[0]
    assert (rows, bucket) == ([11], "rejected_by_five9")
    assert isinstance(reason, pd.Series)
    message = "Five9: ParseError: Value of field number1 has incorrect format"
    assert reason.to_dict() == {11: message}
    assert sorted(stored(sandbox)) == ["2125550101", "2125550103"]


def test_contacts_file_written_by_helper_round_trips(tmp_path: Path) -> None:
    """The generated files these tests load are read back as written (guards the helpers)."""
    path = write_contacts(
        tmp_path / "one.csv",
        [
            {
                "number1": "2125550199",
                "guard_start": "2027-12-01T14:00:30Z",
                "guard_end": "2027-12-01T22:00:30Z",
            }
        ],
    )
    [row] = preview_rows([path], tmp_path / "out.csv")
    assert (row.guard_start, row.guard_end) == ("2027-12-01T14:01:00Z", "2027-12-01T22:00:00Z")
    assert row.fields == {"number1": "2125550199"}

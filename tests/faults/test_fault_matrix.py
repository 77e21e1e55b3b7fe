"""Any failure, anywhere: an error raised at each boundary the run crosses ends the run with
its report written, and a rerun without --restart completes.

For every boundary (reading a source batch, the transform, writing rejects, each ledger
write, before and after each Five9 call, parsing each answer on REST and SOAP, the report
itself) and for two kinds of error (one of a type nothing expects, and a full disk), the first
attempt meets the fault once and must end with:

- one error of the project's own (the unexpected one with its traceback kept in a file);
- a report (where asked, or in the state folder when that write is what failed) whose buckets
  plus `unsettled` equal the rows read;
- no secret in the report, the rejects, the kept traceback or the error's line;

and the rerun, with no fault, must deliver every valid row, none of them more than once
beyond the chunks that were in flight when the fault struck.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from contacts_etl.failure import UnexpectedError
from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.run_report import LoadReport
from five9_sandbox import FaultPlan, SandboxServer
from schemas.errors import ContactsEtlError
from sinks.settings import Five9Settings
from tests.conftest import REPORT_BUCKETS
from tests.sinks.sink_helpers import AS_OF_TS, client_settings, generate_contacts
from tests.soap.soap_helpers import PASSWORD, soap_settings

from .conftest import SECRET
from .injection import ERRORS, Boundary, Fault

ROWS_PER_FILE = 40
VALID = 2 * ROWS_PER_FILE
INVALID_ROWS = [
    {"number1": "12345", "first_name": "Short", "city": "Chicago",
     "guard_start": "2027-12-01T14:00:00Z", "guard_end": "2027-12-01T20:00:00Z"},
    {"number1": "3125550100", "first_name": "Backwards", "city": "Chicago",
     "guard_start": "2027-12-01T20:00:00Z", "guard_end": "2027-12-01T14:00:00Z"},
]  # fmt: skip
CHUNK = 10
REFUSED = "2000000013"  # a chunk holding it is refused whole: split down to the row


@dataclass(frozen=True)
class Point:
    """A boundary of the run, on one wire."""

    wire: str
    boundary: Boundary
    refuse_one: bool = False
    """Five9 refuses one row (so dead letters are written)."""


LEDGER = "sinks.ledger:RunLedger"
POINTS: dict[str, Point] = {
    # the sources, the transform, the files the run writes
    "csv-batch": Point("rest", Boundary("sources.csv_source:CsvSource.reads", 2)),
    "parquet-batch": Point("rest", Boundary("sources.parquet_source:ParquetSource.batches", 2)),
    "transform": Point("rest", Boundary("contacts_etl.pipeline:normalise_batch", 2)),
    "rejects-write": Point("rest", Boundary("contacts_etl.outputs:TableWriter.write", 1)),
    "report-write": Point("rest", Boundary("contacts_etl.load:write_report", 1)),
    # each write (and the first reads) of the run ledger
    "ledger-begin": Point("rest", Boundary(f"{LEDGER}.begin")),
    "ledger-settled-codes": Point("rest", Boundary(f"{LEDGER}.settled_codes")),
    "ledger-reserve-slot": Point("rest", Boundary(f"{LEDGER}.reserve_slot", 3)),
    "ledger-record-send": Point("rest", Boundary(f"{LEDGER}.record_send", 3)),
    "ledger-record-chunk": Point("rest", Boundary(f"{LEDGER}.record_chunk", 3)),
    "ledger-remove-letters": Point("rest", Boundary(f"{LEDGER}.remove_dead_letters", 3)),
    "ledger-drop-superseded": Point("rest", Boundary(f"{LEDGER}.drop_superseded", 3)),
    "ledger-add-letters": Point("rest", Boundary(f"{LEDGER}.add_dead_letters"), True),
    "ledger-open-import": Point("soap", Boundary(f"{LEDGER}.open_import", 2)),
    "ledger-close-import": Point("soap", Boundary(f"{LEDGER}.close_import", 2)),
    # Five9 over REST: the token, the body, before and after the upload, its answer
    "rest-token": Point("rest", Boundary("sinks.auth:TokenSource._fetch")),
    "rest-body": Point("rest", Boundary("sinks.rest_wire:chunk_body", 3)),
    "rest-before-upload": Point("rest", Boundary("sinks.rest_wire:RestWire._post", 3)),
    "rest-after-upload": Point("rest", Boundary("sinks.rest_wire:RestWire._post", 3, after=True)),
    "rest-parse-answer": Point("rest", Boundary("sinks.rest_wire:parse_upload_answer", 3)),
    # Five9 over SOAP: the list, the counters, before and after the import, polls, results
    "soap-list-check": Point("soap", Boundary("sinks.soap_wire:list_names")),
    "soap-counters": Point("soap", Boundary("sinks.soap_wire:read_call_counters")),
    "soap-before-import": Point("soap", Boundary("sinks.soap_wire:SoapWire.send", 2)),
    "soap-after-import": Point("soap", Boundary("sinks.soap_wire:_identifier", 2)),
    "soap-poll": Point("soap", Boundary("sinks.soap_wire:SoapWire._settle", 2)),
    "soap-parse-result": Point("soap", Boundary("sinks.soap_wire:read_import_result", 2)),
}


@pytest.fixture
def sources(tmp_path: Path) -> list[str]:
    """A CSV of 40 valid rows and 2 invalid ones, and a Parquet file of 40 more."""
    first = generate_contacts(tmp_path / "first.csv", ROWS_PER_FILE)
    rows = pd.read_csv(first, dtype="str", keep_default_na=False)
    pd.concat([rows, pd.DataFrame(INVALID_ROWS)]).to_csv(first, index=False)
    more = generate_contacts(tmp_path / "more.csv", ROWS_PER_FILE, first=2_000_001_000)
    parquet = tmp_path / "more.parquet"
    pd.read_csv(more, dtype="str", keep_default_na=False).to_parquet(parquet, index=False)
    more.unlink()
    return [str(first), str(parquet)]


def settings_for(point: Point, servers: dict[str, SandboxServer]) -> Five9Settings:
    tight = {"chunk_size": CHUNK, "max_attempts": 3, "rate_guard_seconds": 0.01}
    if point.wire == "soap":
        return soap_settings(servers["soap"], **tight)
    return client_settings(servers["rest"], max_in_flight=2, **tight)


def secrets_in(texts: list[str]) -> list[str]:
    return [secret for secret in (SECRET, PASSWORD) if any(secret in text for text in texts)]


def kept_report(tmp_path: Path, state: Path) -> dict[str, Any]:
    """The report where it was asked for, else the one kept in the state folder."""
    asked = tmp_path / "report.json"
    if asked.exists():
        return dict(json.loads(asked.read_text(encoding="utf-8")))
    kept = sorted((state / "failures").glob("*report*.json"))
    assert kept, "no report was written anywhere"
    return dict(json.loads(kept[-1].read_text(encoding="utf-8")))


@pytest.mark.parametrize("error", sorted(ERRORS))
@pytest.mark.parametrize("where", list(POINTS))
def test_a_fault_at_each_boundary_leaves_a_report_and_a_rerun_completes(
    where: str,
    error: str,
    sources: list[str],
    tmp_path: Path,
    rest_server: SandboxServer,
    soap_server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point = POINTS[where]
    server = rest_server if point.wire == "rest" else soap_server
    five9 = server.sandbox
    five9.reset()
    five9.set_faults(FaultPlan(refuse_chunk_containing=REFUSED if point.refuse_one else None))
    state = tmp_path / "state"
    request = LoadRequest(
        sources=sources,
        as_of=AS_OF_TS,
        list_name="demo",
        state_dir=state,
        rejects=tmp_path / "rejects.csv",
        report=tmp_path / "report.json",
    )
    settings = settings_for(point, {"rest": rest_server, "soap": soap_server})

    with monkeypatch.context() as patched:
        fault = Fault(point.boundary, ERRORS[error]).arm(patched)
        with pytest.raises(ContactsEtlError) as stopped:
            run_load(request, settings, LoadProgress())
    assert fault.fired == 1, f"{where}: the fault never struck ({fault.calls} calls)"

    first = kept_report(tmp_path, state)
    if where == "report-write":  # every row was settled: only its place failed
        assert first["stopped"] is None, first
        assert first["unsettled"] == 0, first
        assert "the report is in " + str(state / "failures") in str(stopped.value)
    else:
        assert first["stopped"], first
    buckets = sum(first[name] for name in REPORT_BUCKETS)
    assert buckets + first["unsettled"] == first["rows_read"], first
    seen = [json.dumps(first), str(stopped.value)]
    if isinstance(stopped.value, UnexpectedError):
        assert stopped.value.details is not None
        assert stopped.value.details.exists()
        trace = stopped.value.details.read_text(encoding="utf-8")
        assert "Traceback" in trace
        assert stopped.value.summary.split(":")[0] in trace
        seen.append(trace)
    if request.rejects and Path(request.rejects).exists():
        seen.append(Path(request.rejects).read_text(encoding="utf-8"))
    assert secrets_in(seen) == []
    assert "\n" not in str(stopped.value)

    five9.set_faults(FaultPlan())
    final = run_load(request, settings, LoadProgress())
    assert_complete(final, server, point)


def assert_complete(final: LoadReport, server: SandboxServer, point: Point) -> None:
    """Every valid row landed (the refused one rejected), none sent twice beyond the chunks
    that were in flight when the fault struck."""
    assert final.stopped is None, final.as_dict()
    assert final.balanced(), final.as_dict()
    assert final.failed == 0, final.as_dict()
    refused = 1 if point.refuse_one else 0
    assert final.delivered + final.already_delivered == VALID - refused, final.as_dict()
    assert final.rejected_by_five9 == refused
    assert final.invalid == len(INVALID_ROWS)
    records = server.sandbox.records("demo")
    assert len(records) == VALID - refused
    in_flight = CHUNK * (1 if point.wire == "soap" else 2)
    assert sum(record.writes > 1 for record in records.values()) <= in_flight

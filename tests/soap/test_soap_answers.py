"""Five9's import results as its published v13 WSDL declares them, read by the client with
zeep's default (strict) settings: `failureMessage` is a message, not a verdict; rows named in
`importTroubles` are refused and the rest taken; a call fails as a whole only when Five9 took
nothing and names no row; the Query class keeps to its own limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from zeep import Client
from zeep.wsdl.bindings.soap import SoapBinding

from five9_sandbox import FaultPlan, Sandbox, SandboxServer
from sinks.chunk import Chunk
from sinks.five9_sink import Five9Sink
from sinks.rest_format import UploadModes
from sinks.soap_format import BINDING, WSDL_PATH, read_import_result
from tests.conftest import SAMPLES
from tests.sinks.sink_helpers import (
    ExpectedRecord,
    generate_contacts,
    load_samples_with,
    read_table,
)

from .soap_helpers import load_file, soap_sandbox, soap_settings, stored_calls, wanted_calls

EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
VALID = int(EXPECTED["buckets"]["valid"])

# A getListImportResult answer in the shape of Five9's published examples: every element of
# listImportResult, two key fields, two troubles, three imported rows, a warning, a failure
# message, and one record updated.
PUBLISHED_SHAPE = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Header/><env:Body>
<ns2:getListImportResultResponse xmlns:ns2="http://service.admin.ws.five9.com/"><return>
<failureMessage>There were errors during the upload</failureMessage>
<importIdentifier>2f4c1a9e-0d5b-4f61-9a57-3c2e8b1d7e44</importIdentifier>
<importTroubles><key>123</key><key>A-2</key><kind>ParseError</kind><rowNumber>2</rowNumber>
<troubleMessage>Value of field number1 has incorrect format</troubleMessage></importTroubles>
<importTroubles><key>2125550104</key><key></key><kind>AllKeyFieldsAreEmpty</kind>
<rowNumber>4</rowNumber><troubleMessage>Key field account_id is empty</troubleMessage>
</importTroubles>
<importedRows><lineNumber>1</lineNumber><crmId>1001</crmId><key>2125550101</key><key>A-1</key>
<result>UpdatedCRM</result></importedRows>
<importedRows><lineNumber>3</lineNumber><crmId>1002</crmId><key>2125550103</key><key>A-3</key>
<result>AddedToCRM</result><result>AddedToList</result></importedRows>
<importedRows><lineNumber>5</lineNumber><crmId>1003</crmId><key>2125550105</key><key>A-5</key>
<result>AddedToCRM</result><result>AddedToList</result></importedRows>
<keyFields>number1</keyFields><keyFields>account_id</keyFields>
<success>false</success><uploadDuplicatesCount>0</uploadDuplicatesCount>
<uploadErrorsCount>2</uploadErrorsCount>
<warningsCount><entry><key>Field 'segment' does not exist</key><value>5</value></entry>
</warningsCount>
<callNowQueued>0</callNowQueued><crmRecordsInserted>0</crmRecordsInserted>
<crmRecordsUpdated>1</crmRecordsUpdated><listName>demo</listName>
<listRecordsDeleted>0</listRecordsDeleted><listRecordsInserted>0</listRecordsInserted>
<recordDispositionsReset>0</recordDispositionsReset>
</return></ns2:getListImportResultResponse></env:Body></env:Envelope>"""


class Reply:
    """An HTTP answer as zeep's binding reads one."""

    status_code = 200
    headers = {"Content-Type": "text/xml; charset=UTF-8"}  # noqa: RUF012
    encoding = "utf-8"

    def __init__(self, content: bytes) -> None:
        self.content = content


def test_a_result_in_five9s_published_shape_parses_with_zeeps_strict_defaults() -> None:
    client = Client(str(WSDL_PATH))  # strict, as the sink's client is
    binding = client.wsdl.bindings[BINDING]
    assert isinstance(binding, SoapBinding)
    result = binding.process_reply(
        client, binding.get("getListImportResult"), Reply(PUBLISHED_SHAPE)
    )
    answer = read_import_result(result, rows=5)

    assert [(t.position, t.kind) for t in answer.troubles] == [
        (1, "ParseError"),
        (3, "AllKeyFieldsAreEmpty"),
    ]
    assert answer.failure == "There were errors during the upload"
    assert answer.warnings == {"Field 'segment' does not exist": 5}
    assert answer.key_fields == ("number1", "account_id")
    assert answer.imported_rows == 3
    assert answer.counts["crmRecordsUpdated"] == 1
    assert not answer.took_nothing
    assert not answer.failed_whole  # a message, not a verdict


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    # the domain has account_id but no segment: Five9 ignores that column with a warning
    with SandboxServer(soap_sandbox(custom_fields=frozenset({"account_id"}))) as running:
        yield running


def chunk_of(rows: list[dict[str, Any]], number: int = 0) -> Chunk:
    labels = pd.RangeIndex(10, 10 + len(rows))
    contacts = pd.DataFrame(
        {
            "source_file": "direct.csv",
            "source_line": range(2, 2 + len(rows)),
            **{name: [row[name] for row in rows] for name in rows[0]},
            "guard_start": pd.to_datetime(["2027-12-01T14:00:00Z"] * len(rows), utc=True),
            "guard_end": pd.to_datetime(["2027-12-01T22:00:00Z"] * len(rows), utc=True),
        },
        index=labels,
    )
    text = [c for c in contacts.columns if c not in ("source_line", "guard_start", "guard_end")]
    contacts = contacts.astype(dict.fromkeys(text, "str"))
    originals = contacts.drop(columns=["guard_start", "guard_end"]).astype("str")
    return Chunk(number, contacts, originals, np.arange(len(rows)))


def contact(number1: str, account: str, name: str, number2: str | None = None) -> dict[str, Any]:
    return {
        "number1": number1,
        "number2": number2,
        "account_id": account,
        "first_name": name,
        "segment": "gold",
    }


def test_a_partly_refused_import_delivers_the_rest_and_keeps_the_message_as_a_warning(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    modes = UploadModes(keys=("number1", "account_id"))
    set_aside: list[tuple[list[int], str, Any]] = []

    def note(part: Chunk, rows: pd.Series, bucket: str, reason: Any) -> None:
        why = reason if isinstance(reason, str) else list(reason)
        set_aside.append((list(rows), bucket, why))

    first = chunk_of([contact("2125550101", "A-1", "Ann")])
    second = chunk_of(
        [
            contact("2125550101", "A-1", "Ann Lee"),  # updates the record the first made
            contact("123", "A-2", "Bo"),  # a number Five9 refuses
            contact("2125550103", "A-3", "Cy"),
            contact("2125550104", "A-4", "Di", number2="99"),  # a bad second number
            contact("2125550105", "A-5", "Ed"),
        ],
        number=1,
    )

    async def deliver() -> Five9Sink:
        sink = Five9Sink.for_settings(soap_settings(server), "demo", modes, note)
        async with sink:
            await sink.deliver([first, second])
        return sink

    sink = asyncio.run(deliver())
    totals = sink.totals

    assert (totals.delivered, totals.rejected_by_five9, totals.failed) == (4, 2, 0)
    assert totals.requests == 2  # nothing was sent twice
    assert set_aside == [
        (
            [11, 13],
            "rejected_by_five9",
            [
                "Five9: ParseError: Value of field number1 has incorrect format",
                "Five9: ParseError: Value of field number2 has incorrect format",
            ],
        )
    ]
    assert sink.wire.told.warnings == {
        "Field 'segment' does not exist; its column was ignored": 6,
        "There were errors during the upload": 1,
    }
    records = sandbox.records("demo")
    assert sorted(records) == [
        ("2125550101", "A-1"),
        ("2125550103", "A-3"),
        ("2125550105", "A-5"),
    ]
    assert records[("2125550101", "A-1")].fields["first_name"] == "Ann Lee"


def test_an_import_that_takes_nothing_is_sent_again(
    server: SandboxServer, sandbox: Sandbox, sample_rows: list[ExpectedRecord]
) -> None:
    sandbox.set_faults(FaultPlan(soap_import_failures=2))
    settings = soap_settings(server, chunk_size=20)
    report = load_samples_with(settings, None, SAMPLES / "contacts.csv")

    assert (report.delivered, report.failed) == (VALID, 0)
    assert report.balanced(), report.buckets()
    assert report.retries == 2
    assert report.requests == report.chunks + 2
    assert report.five9_warnings["Import failed: internal error (injected)"] == 2
    assert len(sandbox.events_of("soap_import_failed")) == 2
    assert stored_calls(sandbox) == {
        number: (
            {k: v for k, v in fields.items() if k != "segment"},  # not a field of this domain
            start,
        )
        for number, (fields, start) in wanted_calls(sample_rows).items()
    }
    assert {record.writes for record in sandbox.records("demo").values()} == {1}


def test_imports_that_keep_taking_nothing_fail_their_rows_as_dead_letters(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(FaultPlan(soap_import_failures=10_000))
    state = tmp_path / "state"
    source = generate_contacts(tmp_path / "contacts.csv", 150)
    report = load_file(server, source, state, max_attempts=2)

    assert (report.delivered, report.failed, report.requests) == (0, 150, 4)
    assert report.balanced(), report.buckets()
    reasons = read_table(source.with_suffix(".rejects.csv"))["reason"]
    assert reasons.str.contains("took none of the rows: Import failed: internal error").all()
    assert reasons.str.contains("gave up after 2 attempts").all()
    assert sandbox.records("demo") == {}


def test_query_calls_keep_to_their_own_limit(tmp_path: Path) -> None:
    # 6 Query calls a "minute" of 2 s: a lookup, the counters, then two polls per import
    sandbox = soap_sandbox(soap_queries_per_minute=6)
    with SandboxServer(sandbox) as server:
        report = load_file(
            server,
            generate_contacts(tmp_path / "contacts.csv", 500),
            tmp_path / "state",
            soap_queries_per_minute=6,
        )
    assert (report.delivered, report.failed, report.requests) == (500, 0, 5)
    assert sandbox.events_of("soap_operations_limit") == []
    assert sandbox.soap.max_queries_in_any() <= 6
    calls = sandbox.soap.calls()
    assert calls["isImportRunning"] + calls["getListImportResult"] >= 10

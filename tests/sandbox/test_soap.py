"""The sandbox's legacy SOAP AdminWebService over real HTTP: each operation, its limits and
faults, and asynchronous import results."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings

from .soap_helpers import (
    ENV,
    PATH,
    START_MS,
    SoapCaller,
    add_records,
    by_identifier,
    envelope,
    numbered_rows,
    sub,
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    settings = SandboxSettings(
        soap_calls_per_minute=3,
        soap_minute_seconds=1.0,
        soap_calls_per_hour=5,
        soap_hour_seconds=3.0,
        soap_import_seconds=0.3,
    )
    with SandboxServer(Sandbox(settings)) as running:
        yield running


@pytest.fixture
def soap(server: SandboxServer) -> Iterator[SoapCaller]:
    server.sandbox.reset()
    caller = SoapCaller(server)
    yield caller
    caller.close()


def started(soap: SoapCaller, rows: list[list[str]], list_name: str = "demo") -> str:
    answer = soap.call(add_records(list_name, rows))
    assert (answer.status, answer.fault) == (200, None)
    identifier = answer.returned().findtext("identifier")
    assert identifier
    return str(identifier)


def finished(soap: SoapCaller, identifier: str) -> etree._Element:
    running = soap.call(by_identifier("isImportRunning", identifier, wait="5"))
    assert running.returned().text == "false"
    answer = soap.call(by_identifier("getListImportResult", identifier))
    assert answer.fault is None
    return answer.returned()


def test_wsdl_is_served_with_the_sandbox_address(server: SandboxServer) -> None:
    answer = httpx.get(f"{server.base_url}{PATH}?wsdl")
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    addresses = [e.get("location") for e in root.iter("{*}address")]
    assert addresses == [f"{server.base_url}{PATH}"]


def test_wrong_password_is_401_and_counts_nothing(server: SandboxServer) -> None:
    server.sandbox.reset()
    caller = SoapCaller(server, password="not-the-password")
    answer = caller.call(add_records("demo", numbered_rows(1)))
    caller.close()
    assert (answer.status, answer.root) == (401, None)
    assert server.sandbox.soap.import_times() == []
    assert server.sandbox.events_of("soap_unauthorized")


def test_lists_info_finds_a_list_by_pattern(soap: SoapCaller) -> None:
    root, operation = envelope("getListsInfo")
    sub(operation, "listNamePattern", "dem.")
    answer = soap.call(root)
    names = (
        [e.findtext("name") for e in answer.root.iter("return")] if answer.root is not None else []
    )
    assert names == ["demo"]


def test_import_is_asynchronous_and_stores_the_call_time_without_an_end(
    soap: SoapCaller, server: SandboxServer
) -> None:
    identifier = started(soap, [["2125550101", "Ann", START_MS], ["555-0102", "Bo", START_MS]])
    too_early = soap.call(by_identifier("getListImportResult", identifier))
    assert (too_early.status, too_early.fault) == (500, "ResultIsNotReadyFault")
    still = soap.call(by_identifier("isImportRunning", identifier, wait="0"))
    assert still.returned().text == "true"
    assert server.sandbox.records("demo") == {}

    result = finished(soap, identifier)
    assert result.findtext("crmRecordsInserted") == "1"
    assert result.findtext("uploadErrorsCount") == "1"
    [trouble] = result.findall("importTroubles")
    assert trouble.findtext("rowNumber") == "2"
    assert trouble.findtext("kind") == "ParseError"
    record = server.sandbox.records("demo")[("2125550101",)]
    assert (record.guard_start, record.guard_end) == ("2026-12-01T14:00:00Z", "")
    assert record.fields == {"number1": "2125550101", "first_name": "Ann"}


def test_more_than_100_records_is_import_size_limit_exceeded(soap: SoapCaller) -> None:
    answer = soap.call(add_records("demo", numbered_rows(101)))
    assert (answer.status, answer.fault) == (500, "ImportSizeLimitExceededFault")
    assert soap.server.sandbox.soap.import_times() == []


def test_unknown_list_is_list_not_found(soap: SoapCaller) -> None:
    answer = soap.call(add_records("no-such-list", numbered_rows(1)))
    assert answer.fault == "ListNotFoundFault"


def test_calls_past_the_minute_and_the_hour_are_operations_limit_exceeded(
    soap: SoapCaller, server: SandboxServer
) -> None:
    faults = []
    for i in range(4):  # 3 a "minute" (1 s): the fourth is refused
        faults.append(soap.call(add_records(f"demo-{i}", [])).fault)  # ListNotFound: not counted
    assert set(faults) == {"ListNotFoundFault"}
    for i in range(4):
        server.sandbox.add_list(f"l{i}")
    answers = [
        soap.call(add_records(f"l{i}", numbered_rows(1, 2_100_000_000 + i))) for i in range(4)
    ]
    assert [a.fault for a in answers] == [None, None, None, "OperationsLimitExceededFault"]
    time.sleep(1.05)
    later = [soap.call(add_records(f"l{i}", numbered_rows(1, 2_200_000_000 + i))) for i in range(3)]
    # 5 an "hour" (3 s): two more fit, the third is refused by the hour window
    assert [a.fault for a in later] == [None, None, "OperationsLimitExceededFault"]
    assert server.sandbox.soap.max_in_any("minute") == 3
    assert server.sandbox.soap.max_in_any("hour") == 5


def test_a_second_call_while_one_is_in_progress_is_concurrent_modification(
    soap: SoapCaller, server: SandboxServer
) -> None:
    server.sandbox.set_faults(FaultPlan(slow_seconds=0.6, slow_count=1))
    first: list[str | None] = []
    thread = threading.Thread(
        target=lambda: first.append(soap.call(add_records("demo", numbered_rows(1))).fault)
    )
    thread.start()
    time.sleep(0.2)
    second = SoapCaller(server)
    answer = second.call(add_records("demo", numbered_rows(1, 2_000_000_100)))
    second.close()
    thread.join()
    assert first == [None]
    assert answer.fault == "ConcurrentModificationFault"
    assert server.sandbox.events_of("soap_concurrent_call")


def test_an_import_into_a_list_whose_import_runs_is_concurrent_modification(
    soap: SoapCaller,
) -> None:
    started(soap, numbered_rows(1))
    answer = soap.call(add_records("demo", numbered_rows(1, 2_000_000_100)))
    assert answer.fault == "ConcurrentModificationFault"


def test_injected_faults_on_import_calls(soap: SoapCaller, server: SandboxServer) -> None:
    server.sandbox.set_faults(FaultPlan(soap_operations_limit=1, errors_5xx=2, soap_not_ready=1))
    limited = soap.call(add_records("demo", numbered_rows(1)))
    assert limited.fault == "OperationsLimitExceededFault"
    server_fault = soap.call(add_records("demo", numbered_rows(1)))
    assert (server_fault.status, server_fault.fault) == (500, "ServerFault")
    gateway = soap.call(add_records("demo", numbered_rows(1)))
    assert (gateway.status, gateway.root) == (502, None)
    identifier = started(soap, numbered_rows(1))
    soap.call(by_identifier("isImportRunning", identifier, wait="5"))
    not_ready = soap.call(by_identifier("getListImportResult", identifier))
    assert not_ready.fault == "ResultIsNotReadyFault"
    assert finished(soap, identifier).findtext("crmRecordsInserted") == "1"
    # the injected limit was not counted; the two 5xx calls and the import were
    assert len(server.sandbox.soap.import_times()) == 3


def test_unknown_custom_field_is_ignored_and_counted_in_warnings() -> None:
    settings = SandboxSettings(custom_fields=frozenset(), soap_import_seconds=0.0)
    with SandboxServer(Sandbox(settings)) as server:
        caller = SoapCaller(server)
        rows = [["2125550101", "gold", START_MS], ["2125550102", "silver", START_MS]]
        answer = caller.call(add_records("demo", rows, fields=("number1", "loyalty")))
        identifier = answer.returned().findtext("identifier")
        result = finished(caller, identifier or "")
        caller.close()
        records = server.sandbox.records("demo")
    [entry] = result.findall("warningsCount/entry")
    assert entry.findtext("key") == "Field 'loyalty' does not exist; its column was ignored"
    assert entry.findtext("value") == "2"
    assert {key: r.fields for key, r in records.items()} == {
        ("2125550101",): {"number1": "2125550101"},
        ("2125550102",): {"number1": "2125550102"},
    }


def test_calls_of_one_user_that_overlap_on_the_wire_collide(server: SandboxServer) -> None:
    server.sandbox.reset()
    callers = [SoapCaller(server) for _ in range(6)]
    gate = threading.Barrier(len(callers))
    faults: list[str | None] = []

    def lists_info(caller: SoapCaller) -> None:
        root, operation = envelope("getListsInfo")
        sub(operation, "listNamePattern", "demo")
        gate.wait()
        faults.append(caller.call(root).fault)

    threads = [threading.Thread(target=lists_info, args=(c,)) for c in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for caller in callers:
        caller.close()
    assert faults.count(None) >= 1
    assert "ConcurrentModificationFault" in faults


def test_clean_list_before_update_empties_the_list_first(soap: SoapCaller) -> None:
    finished(soap, started(soap, numbered_rows(3)))
    assert len(soap.server.sandbox.records("demo")) == 3
    call = add_records("demo", numbered_rows(1, first=3_000_000_000))
    call.find(f".//{{{ENV}}}Body//cleanListBeforeUpdate").text = "true"
    answer = soap.call(call)
    result = finished(soap, str(answer.returned().findtext("identifier")))
    assert [key[0] for key in soap.server.sandbox.records("demo")] == ["3000000000"]
    assert soap.server.sandbox.events_of("soap_list_cleaned")
    assert (result.findtext("listRecordsDeleted"), result.findtext("listRecordsInserted")) == (
        "3",
        "1",
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("reorder", "skipHeaderLine"),
        ("unknown", "bogusSetting"),
        ("no-key", "key"),
        ("digit", "columnNumber"),
    ],
)
def test_a_request_the_wsdl_schema_refuses_is_a_client_fault(
    soap: SoapCaller, change: str, named: str
) -> None:
    call = add_records("demo", numbered_rows(1))
    settings = call.find(f".//{{{ENV}}}Body//listUpdateSettings")
    assert settings is not None
    entry = settings.find("fieldsMapping")
    assert entry is not None
    if change == "reorder":  # listUpdateSettings' own elements before basicImportSettings'
        skip = settings.find("skipHeaderLine")
        assert skip is not None
        settings.remove(skip)
        settings.append(skip)
    elif change == "unknown":
        sub(settings, "bogusSetting", "1")
    elif change == "no-key":
        key = entry.find("key")
        assert key is not None
        entry.remove(key)
    else:
        entry.find("columnNumber").text = "\u00b2"
    answer = soap.call(call)
    assert answer.status == 500
    assert answer.root is not None
    assert "does not match the WSDL's schema" in str(answer.root.findtext(".//faultstring"))
    assert named in str(answer.root.findtext(".//faultstring"))
    assert soap.server.sandbox.soap.import_times() == []


def test_a_call_not_sent_as_text_xml_is_415(soap: SoapCaller) -> None:
    body = etree.tostring(add_records("demo", numbered_rows(1)))
    answer = soap.client.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 415
    assert soap.server.sandbox.soap.import_times() == []


def test_call_time_columns_outside_the_row_are_refused(soap: SoapCaller) -> None:
    call = add_records("demo", numbered_rows(1))
    call.find(f".//{{{ENV}}}Body//callTimeColumnNumber").text = "0"
    assert soap.call(call).fault == "ServerFault"

    short = add_records("demo", [["2000000001", "Ann"], *numbered_rows(1)])
    result = finished(soap, str(soap.call(short).returned().findtext("identifier")))
    troubles = [
        (t.findtext("rowNumber"), t.findtext("kind")) for t in result.iter("importTroubles")
    ]
    assert troubles == [("1", "ParseError")]
    assert [key[0] for key in soap.server.sandbox.records("demo")] == ["2000000000"]


def test_a_result_carries_every_element_five9_declares_with_true_values(
    soap: SoapCaller,
) -> None:
    fields, keys = ("number1", "account_id", "first_name"), ("number1", "account_id")
    finished(soap, started_with(soap, [["2125550101", "A-1", "Ann", START_MS]], fields, keys))
    rows = [
        ["2125550101", "A-1", "Ann", START_MS],  # an update of the record above
        ["123", "A-2", "Bo", START_MS],  # a number Five9 refuses
        ["2125550103", "A-3", "Cy", START_MS],
        ["2125550104", "", "Di", "not-a-time"],  # a call time Five9 cannot read
        ["2125550105", "A-5", "Ed", START_MS],
    ]
    result = finished(soap, started_with(soap, rows, fields, keys))

    assert [child.tag for child in result] == [
        "failureMessage",
        "importIdentifier",
        "importTroubles",
        "importTroubles",
        "importedRows",
        "importedRows",
        "importedRows",
        "keyFields",
        "keyFields",
        "success",
        "uploadDuplicatesCount",
        "uploadErrorsCount",
        "warningsCount",
        "callNowQueued",
        "crmRecordsInserted",
        "crmRecordsUpdated",
        "listName",
        "listRecordsDeleted",
        "listRecordsInserted",
        "recordDispositionsReset",
    ]
    assert result.findtext("failureMessage") == "There were errors during the upload"
    assert result.findtext("success") == "false"
    assert [
        ([k.text or "" for k in t.findall("key")], t.findtext("rowNumber"))
        for t in result.findall("importTroubles")
    ] == [(["123", "A-2"], "2"), (["2125550104", ""], "4")]
    imported = [
        (
            row.findtext("lineNumber"),
            [k.text for k in row.findall("key")],
            [r.text for r in row.findall("result")],
        )
        for row in result.findall("importedRows")
    ]
    assert imported == [
        ("1", ["2125550101", "A-1"], ["UpdatedCRM"]),
        ("3", ["2125550103", "A-3"], ["AddedToCRM", "AddedToList"]),
        ("5", ["2125550105", "A-5"], ["AddedToCRM", "AddedToList"]),
    ]
    crm_ids = [int(str(row.findtext("crmId"))) for row in result.findall("importedRows")]
    assert crm_ids[0] == 1  # the update keeps the id its record was given
    assert len(set(crm_ids)) == 3
    assert [k.text for k in result.findall("keyFields")] == list(keys)
    assert (result.findtext("crmRecordsInserted"), result.findtext("crmRecordsUpdated")) == (
        "2",
        "1",
    )
    assert (result.findtext("uploadErrorsCount"), result.findtext("listName")) == ("2", "demo")


def started_with(
    soap: SoapCaller, rows: list[list[str]], fields: tuple[str, ...], keys: tuple[str, ...]
) -> str:
    answer = soap.call(add_records("demo", rows, fields=fields, keys=keys))
    assert (answer.status, answer.fault) == (200, None)
    return str(answer.returned().findtext("identifier"))


def test_a_clean_import_has_no_failure_message_and_succeeds(soap: SoapCaller) -> None:
    result = finished(soap, started(soap, numbered_rows(2)))
    assert result.find("failureMessage") is None
    assert result.findtext("success") == "true"
    assert result.findall("importTroubles") == []
    assert len(result.findall("importedRows")) == 2


def test_an_injected_import_failure_takes_nothing_and_names_no_row(
    soap: SoapCaller, server: SandboxServer
) -> None:
    server.sandbox.set_faults(FaultPlan(soap_import_failures=1))
    result = finished(soap, started(soap, numbered_rows(3)))
    assert result.findtext("failureMessage") == "Import failed: internal error (injected)"
    assert result.findall("importTroubles") == result.findall("importedRows") == []
    taken = ("crmRecordsInserted", "crmRecordsUpdated", "listRecordsInserted")
    assert [result.findtext(name) for name in taken] == ["0", "0", "0"]
    assert server.sandbox.records("demo") == {}
    assert server.sandbox.events_of("soap_import_failed")


def counters(soap: SoapCaller) -> dict[tuple[str, str], tuple[str, str]]:
    """(period seconds, operation) -> (limit, value) from getCallCountersState."""
    root, _ = envelope("getCallCountersState")
    answer = soap.call(root)
    assert answer.root is not None
    assert answer.fault is None
    found = {}
    for state in answer.root.iter("return"):
        for counter in state.findall("callCounterStates"):
            key = (str(state.findtext("timeout")), str(counter.findtext("operationType")))
            found[key] = (str(counter.findtext("limit")), str(counter.findtext("value")))
    return found


def test_call_counters_report_each_period_and_class_whoever_spent_them(
    soap: SoapCaller, server: SandboxServer
) -> None:
    finished(soap, started(soap, numbered_rows(1)))
    server.sandbox.spend_soap_calls(2, seconds_ago=2.0)  # outside the 1 s minute, inside the hour
    assert counters(soap) == {
        ("1", "AsynchronousUpload"): ("3", "1"),
        ("1", "Query"): ("450", "3"),  # isImportRunning, getListImportResult and this call
        ("3", "AsynchronousUpload"): ("5", "3"),
        ("86400", "AsynchronousUpload"): ("2000", "3"),
    }


def test_query_calls_past_their_minute_are_operations_limit_exceeded() -> None:
    settings = SandboxSettings(soap_queries_per_minute=2, soap_minute_seconds=1.0)
    with SandboxServer(Sandbox(settings)) as server:
        caller = SoapCaller(server)
        faults = [caller.call(envelope("getCallCountersState")[0]).fault for _ in range(3)]
        time.sleep(1.0)
        after = caller.call(envelope("getCallCountersState")[0]).fault
        caller.close()
        refused = server.sandbox.events_of("soap_operations_limit")
    assert faults == [None, None, "OperationsLimitExceededFault"]
    assert after is None
    assert [event["window"] for event in refused] == ["query"]


def test_calls_spent_elsewhere_can_be_set_over_http(server: SandboxServer) -> None:
    server.sandbox.reset()
    answer = httpx.post(
        f"{server.base_url}/_sandbox/soap/spent", json={"calls": 4, "seconds_ago": 2.0}
    )
    assert answer.status_code == 200
    assert answer.json()["max_in_any_day"] == 4
    bad = httpx.post(f"{server.base_url}/_sandbox/soap/spent", json={"calls": -1})
    assert bad.status_code == 400

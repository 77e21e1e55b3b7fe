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
    finished(soap, str(answer.returned().findtext("identifier")))
    assert [key[0] for key in soap.server.sandbox.records("demo")] == ["3000000000"]
    assert soap.server.sandbox.events_of("soap_list_cleaned")


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

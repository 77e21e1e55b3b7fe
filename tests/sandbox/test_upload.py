"""Uploading contacts (docs/five9-contract.md): what is stored, what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from five9_sandbox import SandboxRecord

from .conftest import MakeCaller
from .helpers import LATER_WINDOW, WINDOW, Five9Caller, contact, numbered_contacts


def test_happy_path_stores_each_record_with_its_guard_time(five9: Five9Caller) -> None:
    response = five9.upload(
        [contact("5551208111", first_name="Ann"), contact("01144207946095", last_name="Lee")]
    )
    assert response.status_code == 200
    assert response.json() == {
        "listName": "demo",
        "success": True,
        "crmRecordsInserted": 2,
        "crmRecordsUpdated": 0,
        "listRecordsInserted": 2,
        "uploadDuplicatesCount": 0,
        "uploadErrorsCount": 0,
        "importTroubles": [],
    }
    assert five9.server.sandbox.records("demo") == {
        ("5551208111",): SandboxRecord(
            {"number1": "5551208111", "first_name": "Ann"},
            "2026-12-01T14:05:00Z",
            "2026-12-01T21:00:00Z",
        ),
        ("01144207946095",): SandboxRecord(
            {"number1": "01144207946095", "last_name": "Lee"},
            "2026-12-01T14:05:00Z",
            "2026-12-01T21:00:00Z",
        ),
    }


def test_resend_updates_instead_of_adding(five9: Five9Caller) -> None:
    five9.upload([contact("5551208111", first_name="Ann")])
    response = five9.upload([contact("5551208111", window=LATER_WINDOW, first_name="Anne")])
    body = response.json()
    assert (body["crmRecordsInserted"], body["crmRecordsUpdated"]) == (0, 1)
    assert body["listRecordsInserted"] == 0
    records = five9.server.sandbox.records("demo")
    assert list(records) == [("5551208111",)]
    record = records[("5551208111",)]
    assert record.fields["first_name"] == "Anne"
    assert (record.guard_start, record.guard_end) == (LATER_WINDOW["start"], LATER_WINDOW["end"])
    assert record.writes == 2


def test_records_are_kept_per_composite_key(five9: Five9Caller) -> None:
    keys = ["number1", "first_name"]
    five9.post_contacts({"keys": keys, "contacts": [contact("5551208111", first_name="Ann")]})
    five9.post_contacts({"keys": keys, "contacts": [contact("5551208111", first_name="Bob")]})
    assert set(five9.server.sandbox.records("demo")) == {
        ("5551208111", "Ann"),
        ("5551208111", "Bob"),
    }


def test_dont_update_mode_keeps_the_old_record(five9: Five9Caller) -> None:
    five9.upload([contact("5551208111", first_name="Ann")])
    response = five9.upload([contact("5551208111", first_name="Zed")], crmUpdateMode="DONT_UPDATE")
    assert response.json()["crmRecordsUpdated"] == 0
    assert five9.server.sandbox.records("demo")[("5551208111",)].fields["first_name"] == "Ann"


def test_thousand_contacts_pass_and_one_more_is_refused(five9: Five9Caller) -> None:
    assert five9.upload(numbered_contacts(1000)).json()["crmRecordsInserted"] == 1000
    response = five9.upload(numbered_contacts(1001, first=3_000_000_000))
    assert response.status_code == 400
    assert response.json()["error"] == "too_many_contacts"
    assert len(five9.server.sandbox.records("demo")) == 1000


def test_max_contacts_is_a_setting(make_caller: MakeCaller) -> None:
    five9 = make_caller(max_contacts=3)
    assert five9.upload(numbered_contacts(3)).status_code == 200
    assert five9.upload(numbered_contacts(4)).status_code == 400


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-12-01T14:05:30Z", "2026-12-01T21:00:00Z"),  # seconds not 00
        ("2026-12-01T14:05:00Z", "2026-12-01T21:00:01Z"),
        ("2026-12-01T14:05:00", "2026-12-01T21:00:00Z"),  # no Z
        ("2026-12-01T14:05:00+00:00", "2026-12-01T21:00:00Z"),
        ("2026-12-01T14:05Z", "2026-12-01T21:00:00Z"),  # no seconds
        ("2026-12-01T14:05:00.000Z", "2026-12-01T21:00:00Z"),
        ("2026-02-30T14:05:00Z", "2026-12-01T21:00:00Z"),  # not a date
        ("2026-12-01 14:05:00Z", "2026-12-01T21:00:00Z"),
        ("1796133600000", "2026-12-01T21:00:00Z"),
        ("2026-12-01T21:00:00Z", "2026-12-01T21:00:00Z"),  # empty window
        ("2026-12-01T21:00:00Z", "2026-12-01T14:00:00Z"),  # end before start
        ("\uff12\uff10\uff12\uff16-12-01T14:05:00Z", "2026-12-01T21:00:00Z"),  # fullwidth
    ],
)
def test_guard_time_that_is_not_an_exact_utc_minute_is_refused(
    five9: Five9Caller, start: str, end: str
) -> None:
    good = contact("5551208111")
    bad = contact("5551208112", window={"start": start, "end": end})
    response = five9.upload([good, bad])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_guard_time"
    assert "contacts.1.guardTime" in response.json()["message"]
    assert five9.server.sandbox.records("demo") == {}


@pytest.mark.parametrize(
    "body",
    [
        {"contacts": []},
        {"keys": ["number1"]},
        {"contacts": [{"fields": {"number1": 5551208111}, "guardTime": WINDOW}]},
        {"contacts": [{"fields": {"number1": None}, "guardTime": WINDOW}]},
        {"contacts": [{"fields": {"number1": "5551208111"}}]},
        {"contacts": [contact()], "crmAddMode": "ADD_MAYBE"},
        {"contacts": [contact()], "crmUpdateMode": "update_first"},
        {"contacts": [contact()], "listAddMode": 1},
        {"contacts": [contact()], "keys": []},
        {"contacts": [contact()], "keys": ["number1", "number1"]},
        {"contacts": [contact()], "keys": "number1"},
        {"contacts": [contact()], "surprise": True},
        {"contacts": [{**contact(), "extra": 1}]},
        {"contacts": [{"fields": {"number1": "5551208111"}, "guardTime": {"start": "x"}}]},
        {"contacts": contact()},
        ["not", "an", "object"],
    ],
)
def test_malformed_bodies_are_400_with_error_and_message(five9: Five9Caller, body: Any) -> None:
    response = five9.post_contacts(body)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message"}


def test_body_that_is_not_json_is_400(five9: Five9Caller) -> None:
    path = f"{five9.lists_path()}/{five9.list_id()}/contacts"
    headers = {**five9.auth(), "Content-Type": "application/json"}
    assert five9.http.post(path, content=b"{not json", headers=headers).status_code == 400
    text = {**five9.auth(), "Content-Type": "text/plain"}
    assert five9.http.post(path, content=b'{"contacts": []}', headers=text).status_code == 400


def test_unknown_custom_field_is_refused_when_fields_are_declared(
    make_caller: MakeCaller,
) -> None:
    five9 = make_caller(custom_fields=frozenset({"account"}))
    assert five9.upload([contact(account="A1")]).status_code == 200
    assert five9.upload([contact(acount="A1")]).status_code == 400


def test_by_default_only_the_sample_custom_fields_exist(five9: Five9Caller) -> None:
    assert five9.upload([contact(account_id="A1", segment="gold")]).status_code == 200
    for leaked in ("firstName", "source_line", "Last_Name"):
        body = contact()
        body["fields"][leaked] = "x"
        assert five9.upload([body]).status_code == 400


def test_a_path_with_a_trailing_slash_is_not_a_route(five9: Five9Caller) -> None:
    path = f"{five9.lists_path()}/{five9.list_id()}/contacts/"
    answer = five9.http.post(path, json={"contacts": [contact()]}, headers=five9.auth())
    assert answer.status_code == 404


def test_unknown_list_and_domain_are_404(five9: Five9Caller) -> None:
    assert five9.post_contacts({"contacts": [contact()]}, list_id="no-such-list").status_code == 404
    path = "/lists/v1/domains/other/lists/x/contacts"
    response = five9.http.post(path, json={"contacts": [contact()]}, headers=five9.auth())
    assert response.status_code == 404


def test_phone_troubles_are_reported_per_row_and_the_rest_loads(five9: Five9Caller) -> None:
    response = five9.upload(
        [
            contact("5551208111"),
            contact("15551208111"),  # leading 1: 11 digits
            contact("(555) 120-8111"),  # not normalised
            contact("5551208112", number2="123"),
            contact(""),
            contact("0114420"),  # international, too short
            contact("1551208113"),  # NANP first digit 1
            contact("5551208114", number3="01144207946095"),
        ]
    )
    assert response.status_code == 200
    body = response.json()
    troubles = [(t["rowNumber"], t["kind"], t["troubleMessage"]) for t in body["importTroubles"]]
    bad1 = "Value of field number1 has incorrect format"
    assert troubles == [
        (2, "ParseError", bad1),
        (3, "ParseError", bad1),
        (4, "ParseError", "Value of field number2 has incorrect format"),
        (5, "AllKeyFieldsAreEmpty", "All key fields are empty (number1)"),
        (6, "ParseError", bad1),
        (7, "ParseError", bad1),
    ]
    assert body["importTroubles"][0]["key"] == ["15551208111"]
    assert body["uploadErrorsCount"] == 6
    assert body["crmRecordsInserted"] == 2
    assert set(five9.server.sandbox.records("demo")) == {("5551208111",), ("5551208114",)}


def test_duplicate_key_inside_one_request_keeps_the_first(five9: Five9Caller) -> None:
    response = five9.upload(
        [contact("5551208111", first_name="First"), contact("5551208111", first_name="Second")]
    )
    body = response.json()
    assert body["uploadDuplicatesCount"] == 1
    assert body["uploadErrorsCount"] == 0
    assert [(t["rowNumber"], t["kind"]) for t in body["importTroubles"]] == [(2, "DuplicateKey")]
    record = five9.server.sandbox.records("demo")[("5551208111",)]
    assert record.fields["first_name"] == "First"


def test_plus_number_is_dropped_silently_outside_e164_and_recorded(five9: Five9Caller) -> None:
    response = five9.upload(
        [contact("5551208111"), contact("+15551208112"), contact("5551208113", number2="+4420")]
    )
    body = response.json()
    assert body["importTroubles"] == []
    assert (body["uploadErrorsCount"], body["crmRecordsInserted"]) == (0, 1)
    sandbox = five9.server.sandbox
    assert set(sandbox.records("demo")) == {("5551208111",)}
    assert [(d.row_number, d.field, d.value) for d in sandbox.dropped_e164] == [
        (2, "number1", "+15551208112"),
        (3, "number2", "+4420"),
    ]
    assert len(sandbox.events_of("dropped_e164")) == 2


def test_plus_number_is_accepted_in_an_e164_domain(make_caller: MakeCaller) -> None:
    five9 = make_caller(e164=True)
    body = five9.upload([contact("+15551208111"), contact("+12")]).json()
    assert body["crmRecordsInserted"] == 1
    assert [t["rowNumber"] for t in body["importTroubles"]] == [2]
    assert five9.server.sandbox.dropped_e164 == []


def test_dont_add_mode_reports_no_match(five9: Five9Caller) -> None:
    body = five9.upload([contact()], crmAddMode="DONT_ADD").json()
    assert [t["kind"] for t in body["importTroubles"]] == ["NoMatchesInContacts"]
    assert five9.server.sandbox.records("demo") == {}

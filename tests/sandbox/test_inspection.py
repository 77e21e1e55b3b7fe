"""The /_sandbox routes another process uses to inspect and steer the sandbox."""

from __future__ import annotations

from .helpers import Five9Caller, contact


def test_records_uploads_events_and_dropped_over_http(five9: Five9Caller) -> None:
    five9.upload([contact("5551208111", first_name="Ann"), contact("+15551208112")])
    http = five9.http
    records = http.get("/_sandbox/lists/demo/records").json()
    assert records["list"] == "demo"
    assert records["listId"] == five9.list_id()
    assert records["records"] == [
        {
            "key": ["5551208111"],
            "fields": {"number1": "5551208111", "first_name": "Ann"},
            "guard_start": "2026-12-01T14:05:00Z",
            "guard_end": "2026-12-01T21:00:00Z",
            "writes": 1,
        }
    ]
    assert http.get("/_sandbox/lists/nope/records").status_code == 404
    uploads = http.get("/_sandbox/uploads").json()
    assert len(uploads["times"]) == 1
    assert 0 <= uploads["times"][0] < 30
    assert uploads["max_in_any_window"] == 1
    assert (uploads["max_requests"], uploads["window_seconds"]) == (40, 60.0)
    kinds = [e["kind"] for e in http.get("/_sandbox/events").json()["events"]]
    assert "dropped_e164" in kinds
    dropped = http.get("/_sandbox/dropped-e164").json()["dropped"]
    assert dropped == [
        {"list_name": "demo", "row_number": 2, "field": "number1", "value": "+15551208112"}
    ]


def test_faults_can_be_set_over_http(five9: Five9Caller) -> None:
    response = five9.http.put("/_sandbox/faults", json={"errors_5xx": 1, "retry_after": None})
    assert response.status_code == 200
    assert response.json()["errors_5xx"] == 1
    assert five9.upload([contact()]).status_code == 500
    assert five9.http.get("/_sandbox/faults").json()["errors_5xx"] == 0
    assert five9.http.put("/_sandbox/faults", json={"storm": 3}).status_code == 400
    assert five9.http.put("/_sandbox/faults", json={"storm_429": "3"}).status_code == 400


def test_reset_and_add_list_over_http(five9: Five9Caller) -> None:
    five9.upload([contact()])
    added = five9.http.post("/_sandbox/lists", json={"name": "Nightly"}).json()
    assert added["listId"] == five9.list_id("Nightly")
    assert five9.http.post("/_sandbox/reset").status_code == 200
    assert five9.http.get("/_sandbox/lists/demo/records").json()["records"] == []
    assert five9.http.get("/_sandbox/lists/Nightly/records").status_code == 404
    assert five9.http.get("/_sandbox/uploads").json()["times"] == []
    # tokens issued before the reset are gone too
    assert five9.http.get("/users/v1/users/whoami", headers=five9.auth()).status_code == 401

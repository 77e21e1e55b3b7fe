"""Each injected fault as an httpx client sees it."""

from __future__ import annotations

import time

import httpx
import pytest

from five9_sandbox import FaultPlan, Sandbox

from .helpers import Five9Caller, contact


def test_storm_429_with_retry_after_is_not_counted(five9: Five9Caller, sandbox: Sandbox) -> None:
    five9.list_id()
    sandbox.set_faults(FaultPlan(storm_429=2, retry_after="7"))
    for _ in range(2):
        response = five9.upload([contact()])
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
    assert five9.upload([contact()]).status_code == 200
    assert len(sandbox.upload_times()) == 1
    assert len(sandbox.events_of("storm_429")) == 2
    assert sandbox.faults.storm_429 == 0


@pytest.mark.parametrize("value", [None, "0", "soon"])
def test_storm_429_retry_after_can_be_missing_or_unreadable(
    five9: Five9Caller, sandbox: Sandbox, value: str | None
) -> None:
    sandbox.set_faults(FaultPlan(storm_429=1, retry_after=value))
    response = five9.upload([contact()])
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == value


def test_5xx_cycle_then_recovery(five9: Five9Caller, sandbox: Sandbox) -> None:
    sandbox.set_faults(FaultPlan(errors_5xx=5))
    statuses = [five9.upload([contact()]).status_code for _ in range(6)]
    assert statuses == [500, 502, 503, 504, 500, 200]
    assert [e["status"] for e in sandbox.events_of("error_5xx")] == [500, 502, 503, 504, 500]
    assert len(sandbox.upload_times()) == 6  # they reached the server: counted
    assert list(sandbox.records("demo")) == [("5551208111",)]


def test_dropped_connection_is_a_transport_error_not_a_500(
    five9: Five9Caller, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.set_faults(FaultPlan(drop_connections=2))
    for _ in range(2):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            five9.upload([contact()])
    assert sandbox.records("demo") == {}
    assert five9.upload([contact()]).status_code == 200
    assert len(sandbox.events_of("dropped_connection")) == 2
    assert [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []


def test_drop_after_load_stores_the_chunk_and_a_resend_updates(
    five9: Five9Caller, sandbox: Sandbox
) -> None:
    sandbox.set_faults(FaultPlan(drop_connections=1, drop_after_load=True))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        five9.upload([contact()])
    assert list(sandbox.records("demo")) == [("5551208111",)]
    body = five9.upload([contact()]).json()
    assert (body["crmRecordsInserted"], body["crmRecordsUpdated"]) == (0, 1)


def test_slow_answer_beats_a_short_client_timeout(five9: Five9Caller, sandbox: Sandbox) -> None:
    list_id = five9.list_id()
    sandbox.set_faults(FaultPlan(slow_seconds=0.6, slow_count=2))
    with pytest.raises(httpx.ReadTimeout):
        five9.post_contacts({"contacts": [contact()]}, list_id=list_id, timeout=0.2)
    started = time.monotonic()
    response = five9.post_contacts({"contacts": [contact()]}, list_id=list_id, timeout=5.0)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    five9.post_contacts({"contacts": [contact()]}, list_id=list_id, timeout=5.0)
    assert time.monotonic() - started < 0.5  # slow_count used up
    assert len(sandbox.events_of("slow_answer")) == 2


def test_tokens_expire_early_once(five9: Five9Caller, sandbox: Sandbox) -> None:
    sandbox.set_faults(FaultPlan(expire_tokens_after=2))
    old = five9.token()
    five9.list_id()
    assert five9.upload([contact("5551208111")]).status_code == 200
    assert five9.upload([contact("5551208112")]).status_code == 200
    response = five9.upload([contact("5551208113")])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    new = five9.token(fresh=True)
    assert new != old
    for number in ("5551208113", "5551208114", "5551208115"):
        assert five9.upload([contact(number)], token=new).status_code == 200
    assert len(sandbox.events_of("tokens_expired_early")) == 1


def test_refuse_chunk_containing_refuses_the_whole_request(
    five9: Five9Caller, sandbox: Sandbox
) -> None:
    sandbox.set_faults(FaultPlan(refuse_chunk_containing="5551208112"))
    response = five9.upload([contact("5551208111"), contact("5551208112")])
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message"}
    assert sandbox.records("demo") == {}
    assert five9.upload([contact("5551208111")]).status_code == 200
    assert len(sandbox.events_of("refused_chunk")) == 1

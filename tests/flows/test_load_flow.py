"""The load-contacts flow loads the sandbox and posts a run summary a person can read."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings
from tests.conftest import REPORT_BUCKETS, SAMPLES
from tests.flows.flow_helpers import artifact_of
from tests.prefect_server import PrefectServer

EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
AS_OF = datetime.fromisoformat(EXPECTED["as_of"])


def test_load_flow_delivers_and_posts_summary(
    prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.load_contacts import load_contacts

    sandbox = Sandbox(SandboxSettings(lists=("nightly",)))
    with SandboxServer(sandbox) as server:
        monkeypatch.setenv("FIVE9_BASE_URL", server.base_url)
        monkeypatch.setenv("FIVE9_CONSUMER_KEY", "sandbox-key")
        monkeypatch.setenv("FIVE9_SECRET_KEY", "sandbox-secret")
        state = load_contacts(
            [str(SAMPLES / "contacts.csv")], "nightly", order="deadline", return_state=True
        )
        stored = sandbox.records("nightly")
    report = state.result()
    assert isinstance(report, dict)

    assert report["order"] == "deadline"
    assert report["rows_read"] == sum(report[b] for b in REPORT_BUCKETS)
    assert report["delivered"] == len(stored) == EXPECTED["buckets"]["valid"]
    assert report["invalid"] == EXPECTED["buckets"]["invalid"]

    summary = str(artifact_of(state, "load-summary-nightly"))
    assert "# Load into 'nightly'" in summary
    assert f"| delivered | {len(stored)} |" in summary
    assert "sandbox-secret" not in summary


def test_load_flow_takes_its_secret_from_the_block_and_shows_parquet_rejects(
    prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.blocks.system import Secret

    from flows.load_contacts import load_contacts

    Secret(value=SecretStr("sandbox-secret")).save("five9-flow-secret", overwrite=True)
    sandbox = Sandbox(SandboxSettings(lists=("nightly",)))
    with SandboxServer(sandbox) as server:
        monkeypatch.setenv("FIVE9_BASE_URL", server.base_url)
        monkeypatch.setenv("FIVE9_CONSUMER_KEY", "sandbox-key")
        monkeypatch.delenv("FIVE9_SECRET_KEY", raising=False)
        monkeypatch.setenv("FIVE9_SECRET_BLOCK", "five9-flow-secret")
        rejects = tmp_path / "rejects.parquet"
        state = load_contacts(
            [str(SAMPLES / "contacts.csv")], "nightly", rejects=str(rejects), return_state=True
        )
    report = state.result()
    assert isinstance(report, dict), report
    assert report["delivered"] == EXPECTED["buckets"]["valid"]
    data: Any = artifact_of(state, "load-rejects-nightly")
    table: list[dict[str, str]] = json.loads(data) if isinstance(data, str) else data
    set_aside = EXPECTED["rows"] - EXPECTED["buckets"]["valid"]
    assert len(table) == set_aside
    assert {row["bucket"] for row in table} == {"invalid", "expired", "duplicate"}


@pytest.mark.parametrize(
    ("environment", "field"),
    [
        ({"FIVE9_CONSUMER_KEY": "key-only"}, "secret_key"),
        ({"FIVE9_REST_ENABLED": "false", "FIVE9_USERNAME": "admin-only"}, "password"),
    ],
)
def test_secret_block_completes_credentials_given_without_their_secret(
    prefect_api: PrefectServer,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    field: str,
) -> None:
    from prefect.blocks.system import Secret

    from flows.secrets import five9_settings

    Secret(value=SecretStr("from-the-block")).save("five9-test-secret", overwrite=True)
    monkeypatch.setenv("FIVE9_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FIVE9_SECRET_BLOCK", "five9-test-secret")
    for name in ("FIVE9_SECRET_KEY", "FIVE9_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = five9_settings()
    secret = getattr(settings, field)
    assert secret is not None
    assert secret.get_secret_value() == "from-the-block"
    assert "from-the-block" not in repr(settings)


def test_missing_secret_block_is_one_clear_setting_error(
    prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.secrets import five9_settings
    from schemas.errors import SettingError

    monkeypatch.setenv("FIVE9_CONSUMER_KEY", "key-only")
    monkeypatch.setenv("FIVE9_SECRET_BLOCK", "no-such-block")
    with pytest.raises(SettingError, match="FIVE9_SECRET_BLOCK 'no-such-block'"):
        five9_settings()


def test_load_flow_over_soap_delivers_and_names_the_window_limit(
    prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.load_contacts import load_contacts
    from tests.soap.soap_helpers import soap_env, soap_sandbox

    sandbox = soap_sandbox(lists=("nightly",))
    with SandboxServer(sandbox) as server:
        for name in ("FIVE9_CONSUMER_KEY", "FIVE9_SECRET_KEY", "FIVE9_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in soap_env(server).items():
            monkeypatch.setenv(name, value)
        state = load_contacts([str(SAMPLES / "contacts.csv")], "nightly", return_state=True)
        stored = sandbox.records("nightly")
    report = state.result()
    assert isinstance(report, dict)
    assert report["delivered"] == len(stored) == EXPECTED["buckets"]["valid"]
    assert all(record.guard_end == "" for record in stored.values())

    summary = str(artifact_of(state, "load-summary-nightly"))
    assert "does not enforce the end" in summary
    assert sandbox.settings.password not in summary


def test_a_load_whose_rows_failed_ends_failed_saying_how_to_go_on(
    prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.load_contacts import load_contacts
    from tests.prefect_server import drain_prefect_workers

    sandbox = Sandbox(SandboxSettings(lists=("Nightly Renewals",)))
    sandbox.set_faults(FaultPlan(errors_5xx=10_000))
    with SandboxServer(sandbox) as server:
        monkeypatch.setenv("FIVE9_BASE_URL", server.base_url)
        monkeypatch.setenv("FIVE9_CONSUMER_KEY", "sandbox-key")
        monkeypatch.setenv("FIVE9_SECRET_KEY", "sandbox-secret")
        monkeypatch.setenv("FIVE9_MAX_ATTEMPTS", "2")
        state = load_contacts(
            [str(SAMPLES / "contacts.csv")], "Nightly Renewals", as_of=AS_OF, return_state=True
        )
        dry = load_contacts(
            [str(SAMPLES / "contacts.csv")], "Nightly Renewals", dry_run=True, return_state=True
        )
    valid = EXPECTED["buckets"]["valid"]
    assert state.is_failed()
    assert state.message is not None
    assert f"{valid} of {EXPECTED['rows']} rows failed" in state.message
    assert "contacts-etl retry --list 'Nightly Renewals'" in state.message
    summary = str(artifact_of(state, "load-summary-nightly-renewals"))
    assert f"| failed | {valid} |" in summary
    assert dry.is_completed()  # a dry run sends nothing, so no row of it fails

    drain_prefect_workers()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    assert run.name.startswith("load Nightly Renewals 20")
    assert run.name.endswith("Z")
    lines = [log.message for log in logs]
    assert any("trying again in" in line for line in lines), lines
    assert any("gave up after 2 attempts; its" in line for line in lines), lines
    assert any(line.startswith(f"{EXPECTED['rows']} rows read:") for line in lines), lines
    assert not any("sandbox-secret" in line or "2125550" in line for line in lines)


def test_an_unexpected_failure_ends_failed_with_its_traceback_in_the_run_log(
    prefect_api: PrefectServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug mid-load: the run ends Failed with the one line (no traceback in the message),
    the traceback is in the run's log, and the report is written with `stopped`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.load_contacts import load_contacts
    from tests.faults.injection import Boundary, Fault, InjectedFault
    from tests.prefect_server import drain_prefect_workers

    with SandboxServer(Sandbox(SandboxSettings(lists=("Nightly Renewals",)))) as server:
        monkeypatch.setenv("FIVE9_BASE_URL", server.base_url)
        monkeypatch.setenv("FIVE9_CONSUMER_KEY", "sandbox-key")
        monkeypatch.setenv("FIVE9_SECRET_KEY", "sandbox-secret")
        monkeypatch.setenv("FIVE9_CHUNK_SIZE", "50")
        Fault(Boundary("sinks.rest_wire:parse_upload_answer", 2), InjectedFault).arm(monkeypatch)
        report = tmp_path / "report.json"
        state = load_contacts(
            [str(SAMPLES / "contacts.csv")],
            "Nightly Renewals",
            as_of=AS_OF,
            report=str(report),
            state_dir=str(tmp_path / "state"),
            return_state=True,
        )
    assert state.is_failed()
    assert state.message is not None
    assert state.message.startswith("the load failed unexpectedly: InjectedFault")
    assert "Traceback" not in state.message
    stopped = json.loads(report.read_text(encoding="utf-8"))
    assert stopped["stopped"].startswith("InjectedFault")
    assert stopped["rows_read"] == sum(stopped[b] for b in REPORT_BUCKETS) + stopped["unsettled"]

    drain_prefect_workers()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    traces = [log.message for log in logs if log.message.startswith("Traceback")]
    assert traces, [log.message for log in logs]
    assert "InjectedFault" in traces[0]
    assert not any("sandbox-secret" in log.message for log in logs)

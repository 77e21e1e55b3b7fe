"""Deployments on a real `prefect server start`: nightly schedules register, served runs
triggered through the API load the sandbox, and two lists on one credential share one rate
limit while both finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from flows.deployments import read_deployments
from schemas.errors import SettingError
from tests.conftest import ROOT, SAMPLES
from tests.prefect_server import PrefectServer, without_prefect_settings
from tests.sinks.sink_helpers import generate_contacts, max_in_window


def write_config(path: Path, entries: list[dict[str, str]]) -> Path:
    """A prefect.yaml of nightly loads, one per entry (list, source, cron, timezone)."""
    deployments = [
        {
            "name": f"nightly-{entry['list'].lower().replace(' ', '-')}",
            "entrypoint": "flows/load_contacts.py:load_contacts",
            "concurrency_limit": 1,
            "schedules": [{"cron": entry["cron"], "timezone": entry["timezone"]}],
            "parameters": {"list_name": entry["list"], "sources": [entry["source"]]},
        }
        for entry in entries
    ]
    path.write_text(yaml.safe_dump({"name": "test", "deployments": deployments}), "utf-8")
    return path


def test_the_repositorys_deployments_are_well_formed() -> None:
    found = {d.full_name: d for d in read_deployments(ROOT / "prefect.yaml")}
    assert set(found) == {"load-contacts/nightly-demo", "preview-contacts/on-demand"}
    nightly = found["load-contacts/nightly-demo"]
    [schedule] = nightly.schedules
    assert (getattr(schedule, "cron", None), getattr(schedule, "timezone", None)) == (
        "0 2 * * *",
        "America/New_York",
    )
    assert nightly.concurrency_limit == 1
    assert nightly.parameters["list_name"] == "demo"
    assert nightly.parameters["sources"] == [str(SAMPLES / "contacts.csv")]
    assert found["preview-contacts/on-demand"].schedules == ()


def test_serve_check_lists_the_deployments_without_a_server() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "contacts_etl", "serve", "--check"], cwd=ROOT,
        env=without_prefect_settings(os.environ), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "load-contacts/nightly-demo: 0 2 * * * (America/New_York)" in done.stdout
    assert "preview-contacts/on-demand: on demand" in done.stdout


def test_nightly_deployments_register_with_their_schedules(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "prefect.yaml",
        [
            {"list": "Renewals East", "source": "/data/east/*.csv", "cron": "0 2 * * *",
             "timezone": "America/New_York"},
            {"list": "Renewals West", "source": "s3://exports/west.csv", "cron": "30 1 * * 1-5",
             "timezone": "America/Los_Angeles"},
        ],
    )  # fmt: skip
    for deployment in read_deployments(config):
        assert isinstance(deployment.runner().apply(), UUID)

    with get_client(sync_client=True) as client:
        east = client.read_deployment_by_name("load-contacts/nightly-renewals-east")
        west = client.read_deployment_by_name("load-contacts/nightly-renewals-west")
    schedule = east.schedules[0].schedule
    assert (getattr(schedule, "cron", None), getattr(schedule, "timezone", None)) == (
        "0 2 * * *",
        "America/New_York",
    )
    assert getattr(west.schedules[0].schedule, "timezone", None) == "America/Los_Angeles"
    assert east.parameters["list_name"] == "Renewals East"
    assert east.parameters["sources"] == ["/data/east/*.csv"]
    assert west.parameters["sources"] == ["s3://exports/west.csv"]  # a URL stays as it is
    assert east.global_concurrency_limit is not None
    assert east.global_concurrency_limit.limit == 1  # two loads of one list never overlap


def test_relative_sources_and_mappings_are_read_beside_the_deployments_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    config = folder / "prefect.yaml"
    config.write_text(
        "deployments:\n"
        "  - name: nightly-demo\n"
        "    entrypoint: flows/load_contacts.py:load_contacts\n"
        "    parameters:\n"
        "      list_name: demo\n"
        "      sources: [exports/*.csv, /srv/fixed.csv]\n"
        "      mapping: crm.toml\n",
        encoding="utf-8",
    )
    (folder / "crm.toml").write_text('[columns]\n"Phone" = "number1"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # `serve` started from another folder
    (load,) = read_deployments(Path("etc/prefect.yaml"))
    assert load.parameters["sources"] == [
        str(folder.resolve() / "exports" / "*.csv"),
        "/srv/fixed.csv",
    ]
    assert load.parameters["mapping"] == str(folder.resolve() / "crm.toml")


GOOD = """deployments:
  - name: nightly-demo
    entrypoint: flows/load_contacts.py:load_contacts
    schedules:
      - cron: "0 2 * * *"
        timezone: America/New_York
    parameters:
      list_name: demo
      sources: [a.csv]
"""


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("    parameters:", "    paramters: {}\n    parameters:"), "unknown key 'paramters'"),
        (("      sources:", "      calling_hour: 08:00-21:00\n      sources:"),
         "load-contacts has no parameter 'calling_hour'"),
        (("0 2 * * *", "61 2 * * *"), "is not a valid schedule"),
        (("timezone: America/New_York", "timezone: Mars/Base"), "schedule timezone 'Mars/Base'"),
        (("      sources:", "      calling_hours: 25:00-99:00\n      sources:"), "calling_hours"),
        (("      sources:", "      mapping: nope.toml\n      sources:"), "nope.toml does not"),
        (("sources: [a.csv]", "sources: a.csv"), "sources"),
        (("sources: [a.csv]", "sources: []"), "sources must name at least one"),
        (("load_contacts.py:load_contacts", "etl.py:load"), "entrypoint 'flows/etl.py:load'"),
        (("      sources:", "      keys: [guard_start]\n      sources:"), "keys 'guard_start'"),
        (("      sources:", "      encoding: utf-16\n      sources:"), "encoding"),
        (("      sources:", "      delimiter: ab\n      sources:"), "delimiter 'ab'"),
        (("      sources:", "      order: soonest\n      sources:"),
         "order: Input should be 'file' or 'deadline'"),
        (("      list_name: demo\n", ""), "parameters need list_name"),
        (("      sources:", "      state_url: postgresql://etl:s3cret@db/c\n      sources:"),
         "state_url must not carry a password"),
        (("deployments:", "deployments: ["), "is not valid YAML"),
        (("deployments:", "deploy:"), "no `deployments:` list"),
    ],
    ids=[
        *("typo-key", "typo-parameter", "cron", "schedule-zone", "hours", "mapping"),
        *("sources-text", "sources-empty", "entrypoint", "keys", "encoding", "delimiter", "order"),
        *("list-missing", "state-url-password", "yaml", "no-deployments"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_deployments_file_is_one_line_naming_the_deployment(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    config = tmp_path / "prefect.yaml"
    assert change[0] in GOOD
    config.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(SettingError) as raised:
        read_deployments(config)
    message = str(raised.value)
    assert named in message
    assert str(config) in message
    assert "\n" not in message
    assert "s3cret" not in message


def test_keys_delimiter_encoding_and_a_shared_store_reach_the_runs_parameters(
    tmp_path: Path,
) -> None:
    config = tmp_path / "prefect.yaml"
    extra = (
        '      keys: [first_name]\n      delimiter: "\\t"\n      encoding: latin-1\n'
        "      state_url: postgresql://etl@db.internal/contacts\n      order: deadline\n"
    )
    config.write_text(GOOD.replace("      sources:", extra + "      sources:"), encoding="utf-8")
    (load,) = read_deployments(config)
    parameters = load.parameters
    assert parameters["keys"] == ["first_name"]
    assert (parameters["delimiter"], parameters["encoding"]) == ("\t", "latin-1")
    assert parameters["state_url"] == "postgresql://etl@db.internal/contacts"
    assert parameters["order"] == "deadline"


def wait_for_deployments(client: SyncPrefectClient, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            try:
                client.read_deployment_by_name(name)
                break
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def wait_for_runs(client: SyncPrefectClient, ids: list[UUID], timeout: float) -> list[FlowRun]:
    deadline = time.monotonic() + timeout
    while True:
        runs = [client.read_flow_run(run_id) for run_id in ids]
        if all(run.state is not None and run.state.is_final() for run in runs):
            return runs
        assert time.monotonic() < deadline, [run.state for run in runs]
        time.sleep(1)


def test_served_runs_of_two_lists_share_the_credentials_rate_limit(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    limit, window, rows, chunk = 6, 3.0, 16, 2
    alpha = generate_contacts(tmp_path / "alpha.csv", rows)
    beta = generate_contacts(tmp_path / "beta.csv", rows, first=3_000_000_000)
    config = write_config(
        tmp_path / "prefect.yaml",
        [
            {"list": "alpha", "source": str(alpha), "cron": "0 2 * * *",
             "timezone": "America/New_York"},
            {"list": "beta", "source": str(beta), "cron": "0 3 * * *",
             "timezone": "America/Chicago"},
        ],
    )  # fmt: skip
    sandbox = Sandbox(
        SandboxSettings(lists=("alpha", "beta"), max_requests=limit, window_seconds=window)
    )
    with SandboxServer(sandbox) as five9:
        env = prefect_api.subprocess_env(
            FIVE9_BASE_URL=five9.base_url,
            FIVE9_CONSUMER_KEY="sandbox-key",
            FIVE9_SECRET_KEY="sandbox-secret",
            FIVE9_MAX_REQUESTS=str(limit),
            FIVE9_RATE_WINDOW_SECONDS=str(window),
            FIVE9_CHUNK_SIZE=str(chunk),
            PREFECT_RUNNER_POLL_FREQUENCY="1",
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "contacts_etl", "serve", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            with get_client(sync_client=True) as client:
                names = ["load-contacts/nightly-alpha", "load-contacts/nightly-beta"]
                wait_for_deployments(client, names, timeout=120)
                started = [run_deployment(name=name, timeout=0) for name in names]
                ids = [run.id for run in started if isinstance(run, FlowRun)]
                runs = wait_for_runs(client, ids, timeout=300)
                artifacts = client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
                )
                summaries = client.read_artifacts(
                    artifact_filter=ArtifactFilter(
                        flow_run_id=ArtifactFilterFlowRunId(any_=ids),
                        key=ArtifactFilterKey(any_=["load-summary-alpha", "load-summary-beta"]),
                    )
                )
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait(timeout=10)

    assert [run.state_type for run in runs] == [StateType.COMPLETED, StateType.COMPLETED], [
        run.state.message if run.state else None for run in runs
    ]
    assert len(sandbox.records("alpha")) == len(sandbox.records("beta")) == rows
    # Both ran at once, yet together they never needed a 429 and never went over the limit.
    first_ends = min(run.end_time for run in runs if run.end_time)
    last_starts = max(run.start_time for run in runs if run.start_time)
    assert last_starts < first_ends, "the two loads did not overlap"
    assert sandbox.events_of("rate_limited") == []
    uploads = sandbox.upload_times()
    assert len(uploads) == 2 * rows // chunk
    assert max_in_window(uploads, window) <= limit

    kinds = {(artifact.key, artifact.type) for artifact in artifacts}
    assert {("load-summary-alpha", "markdown"), ("load-summary-beta", "markdown")} <= kinds
    assert ("load-rejects-alpha", "table") in kinds
    assert any(artifact.type == "progress" for artifact in artifacts)
    progress = [a.data for a in artifacts if a.type == "progress"]
    assert all(float(str(value)) == 100.0 for value in progress)
    texts = [str(summary.data) for summary in summaries]
    assert any(
        "# Load into 'alpha'" in text and f"| delivered | {rows} |" in text for text in texts
    )
    assert all("Rate achieved" in text for text in texts)


def test_command_line_load_runs_as_the_flow_when_the_profile_names_a_server(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", 30)
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'active = "team"\n\n[profiles.team]\nPREFECT_API_URL = "{prefect_api.api_url}"\n',
        encoding="utf-8",
    )
    with SandboxServer(Sandbox(SandboxSettings(lists=("cli", "plain")))) as five9:
        env = prefect_api.subprocess_env(
            FIVE9_BASE_URL=five9.base_url,
            FIVE9_CONSUMER_KEY="sandbox-key",
            FIVE9_SECRET_KEY="sandbox-secret",
            PREFECT_PROFILES_PATH=str(profiles),
        )
        del env["PREFECT_API_URL"]  # only the active profile names the server

        def load(*arguments: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "contacts_etl", "load", str(source), *arguments],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip

        done = load("--list", "cli")
        unknown = load("--list", "nope")
        plain = load("--list", "plain", "--no-prefect")
        held = len(five9.sandbox.records("cli")), len(five9.sandbox.records("plain"))
    assert done.returncode == 0, done.stderr
    assert plain.returncode == 0, plain.stderr
    assert held == (30, 30)
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr + unknown.stdout
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()], unknown.stderr
    assert unknown.stderr.strip().startswith("contacts-etl: error:")
    assert "'nope'" in unknown.stderr
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    names = {run.name: run.state_type for run in runs}
    assert [state for name, state in names.items() if name.startswith("load cli ")] == [
        StateType.COMPLETED
    ]
    assert [state for name, state in names.items() if name.startswith("load nope ")] == [
        StateType.FAILED
    ]
    assert not [name for name in names if name.startswith("load plain ")]  # --no-prefect

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
from flows.deployments import build_deployments, read_nightly_loads
from schemas.errors import SettingError
from tests.conftest import ROOT
from tests.prefect_server import PrefectServer
from tests.sinks.sink_helpers import generate_contacts, max_in_window


def write_config(path: Path, entries: list[dict[str, str]]) -> Path:
    lines = []
    for entry in entries:
        lines += [
            "[[nightly]]",
            f'list = "{entry["list"]}"',
            f'sources = ["{entry["source"]}"]',
            f'cron = "{entry["cron"]}"',
            f'timezone = "{entry["timezone"]}"',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_nightly_deployments_register_with_their_schedules(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "deployments.toml",
        [
            {"list": "Renewals East", "source": "/data/east/*.csv", "cron": "0 2 * * *",
             "timezone": "America/New_York"},
            {"list": "Renewals West", "source": "/data/west.csv", "cron": "30 1 * * 1-5",
             "timezone": "America/Los_Angeles"},
        ],
    )  # fmt: skip
    for deployment in build_deployments(read_nightly_loads(config)):
        assert isinstance(deployment.apply(), UUID)

    with get_client(sync_client=True) as client:
        east = client.read_deployment_by_name("load-contacts/nightly-renewals-east")
        west = client.read_deployment_by_name("load-contacts/nightly-renewals-west")
        preview = client.read_deployment_by_name("preview-contacts/on-demand")
    schedule = east.schedules[0].schedule
    assert (getattr(schedule, "cron", None), getattr(schedule, "timezone", None)) == (
        "0 2 * * *",
        "America/New_York",
    )
    assert getattr(west.schedules[0].schedule, "timezone", None) == "America/Los_Angeles"
    assert east.parameters["list_name"] == "Renewals East"
    assert east.parameters["sources"] == ["/data/east/*.csv"]
    assert east.global_concurrency_limit is not None
    assert east.global_concurrency_limit.limit == 1  # two loads of one list never overlap
    assert preview.schedules == []


def test_relative_sources_and_mappings_are_read_beside_the_deployments_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    config = folder / "deployments.toml"
    config.write_text(
        "[[nightly]]\n"
        'list = "demo"\n'
        'sources = ["exports/*.csv", "/srv/fixed.csv"]\n'
        'mapping = "crm.toml"\n'
        'cron = "0 2 * * *"\n'
        'timezone = "America/New_York"\n',
        encoding="utf-8",
    )
    (folder / "crm.toml").write_text('[columns]\n"Phone" = "number1"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # `serve` started from another folder
    (load,) = read_nightly_loads(Path("etc/deployments.toml"))
    assert load.sources == [str(folder.resolve() / "exports" / "*.csv"), "/srv/fixed.csv"]
    assert load.mapping == str(folder.resolve() / "crm.toml")


GOOD_ENTRY = (
    'list = "demo"\nsources = ["a.csv"]\ncron = "0 2 * * *"\ntimezone = "America/New_York"\n'
)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            "[[nightly]]\n" + GOOD_ENTRY + 'calling_hour = "08:00-21:00"\n',
            "unknown key 'calling_hour'",
        ),
        ("[nightly]\n" + GOOD_ENTRY, "[[nightly]] (a list of tables), not [nightly]"),
        (
            "[[nightly]]\n" + GOOD_ENTRY.replace("0 2 * * *", "61 2 * * *"),
            "is not a valid schedule",
        ),
        ("[[nightly]]\n" + GOOD_ENTRY + 'calling_hours = "25:00-99:00"\n', "calling_hours"),
        ("[[nightly]]\n" + GOOD_ENTRY + 'mapping = "nope.toml"\n', "nope.toml does not exist"),
        ("[[nightly]]\n" + GOOD_ENTRY.replace('["a.csv"]', "5"), "sources must be a list"),
        ("[[nightlys]]\n" + GOOD_ENTRY, "unknown section 'nightlys'"),
        ("[[nightly]]\n" + GOOD_ENTRY + 'keys = ["guard_start"]\n', "keys 'guard_start'"),
        ("[[nightly]]\n" + GOOD_ENTRY + "keys = [5]\n", "keys must be a list"),
        ("[[nightly]]\n" + GOOD_ENTRY + 'delimiter = "ab"\n', "delimiter 'ab'"),
        ("[[nightly]]\n" + GOOD_ENTRY + 'encoding = "utf-16"\n', "encoding 'utf-16'"),
        (
            "[[nightly]]\n" + GOOD_ENTRY + 'state_url = "postgresql://etl:s3cret@db/contacts"\n',
            "state_url must not carry a password",
        ),
    ],
    ids=[
        *("typo-key", "table", "cron", "hours", "mapping", "sources", "typo-section"),
        *("keys", "keys-type", "delimiter", "encoding", "state-url-password"),
    ],
)
def test_a_mistake_in_the_deployments_file_is_one_line_naming_the_entry(
    tmp_path: Path, text: str, named: str
) -> None:
    config = tmp_path / "deployments.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(SettingError) as raised:
        read_nightly_loads(config)
    message = str(raised.value)
    assert named in message
    assert str(config) in message
    assert "\n" not in message
    assert "s3cret" not in message


def test_a_shared_store_reaches_the_nightly_runs_parameters(tmp_path: Path) -> None:
    config = tmp_path / "deployments.toml"
    store = "postgresql://etl@db.internal/contacts"
    config.write_text("[[nightly]]\n" + GOOD_ENTRY + f'state_url = "{store}"\n', encoding="utf-8")
    (load,) = read_nightly_loads(config)
    assert load.parameters()["state_url"] == store


def test_a_single_source_may_be_written_as_text(tmp_path: Path) -> None:
    config = tmp_path / "deployments.toml"
    config.write_text("[[nightly]]\n" + GOOD_ENTRY.replace('["a.csv"]', '"a.csv"'))
    (load,) = read_nightly_loads(config)
    assert load.sources == [str(tmp_path.resolve() / "a.csv")]


def test_keys_delimiter_and_encoding_reach_the_nightly_runs_parameters(tmp_path: Path) -> None:
    config = tmp_path / "deployments.toml"
    config.write_text(
        "[[nightly]]\n" + GOOD_ENTRY + 'keys = "first_name"\ndelimiter = "\\t"\n'
        'encoding = "ISO-8859-1"\n'
    )
    (load,) = read_nightly_loads(config)
    parameters = load.parameters()
    assert parameters["keys"] == ["first_name"]
    assert (parameters["delimiter"], parameters["encoding"]) == ("\t", "latin-1")
    (default,) = read_nightly_loads(write_config(tmp_path / "plain.toml", [
        {"list": "demo", "source": "a.csv", "cron": "0 2 * * *", "timezone": "UTC"}
    ]))  # fmt: skip
    assert (default.parameters()["keys"], default.parameters()["delimiter"]) == (["number1"], None)


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
        tmp_path / "deployments.toml",
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
                        key=ArtifactFilterKey(any_=["load-summary"]),
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
    assert ("load-summary", "markdown") in kinds
    assert ("load-rejects", "table") in kinds
    assert any(artifact.type == "progress" for artifact in artifacts)
    progress = [a.data for a in artifacts if a.type == "progress"]
    assert all(float(str(value)) == 100.0 for value in progress)
    texts = [str(summary.data) for summary in summaries]
    assert any(
        "# Load into 'alpha'" in text and f"| delivered | {rows} |" in text for text in texts
    )
    assert all("Rate achieved" in text for text in texts)


def test_command_line_load_runs_as_the_flow_when_a_server_is_set(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", 30)
    with SandboxServer(Sandbox(SandboxSettings(lists=("cli",)))) as five9:
        env = prefect_api.subprocess_env(
            FIVE9_BASE_URL=five9.base_url,
            FIVE9_CONSUMER_KEY="sandbox-key",
            FIVE9_SECRET_KEY="sandbox-secret",
        )
        command = [sys.executable, "-m", "contacts_etl", "load", str(source)]
        done = subprocess.run(
            [*command, "--list", "cli"], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        unknown = subprocess.run(
            [*command, "--list", "nope"], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        held = len(five9.sandbox.records("cli"))
    assert done.returncode == 0, done.stderr
    assert held == 30
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr + unknown.stdout
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()], unknown.stderr
    assert unknown.stderr.strip().startswith("contacts-etl: error:")
    assert "'nope'" in unknown.stderr
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    states = sorted(str(run.state_type) for run in runs if run.name and run.flow_id)
    assert "StateType.COMPLETED" in states
    assert "StateType.FAILED" in states

"""The repository's prefect.yaml as a team runs it: `prefect deploy --all` onto a process work
pool of a real `prefect server start`, a real `prefect worker start` that runs the nightly load
with its sources in an S3-compatible store, its log lines read back through the API, and a run
whose rows failed ending Failed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from uuid import UUID

import fsspec
import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from five9_sandbox import FaultPlan, Sandbox, SandboxServer, SandboxSettings
from tests.conftest import ROOT, SAMPLES
from tests.prefect_server import PrefectServer, terminate_process_group

EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
AS_OF = datetime.fromisoformat(EXPECTED["as_of"])
POOL = "contacts"  # as prefect.yaml names it


def prefect(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *arguments], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def five9() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(SandboxSettings(lists=("demo", "failing")))) as server:
        yield server


def wait_for(client: SyncPrefectClient, run_id: UUID, timeout: float = 240) -> FlowRun:
    deadline = time.monotonic() + timeout
    while True:
        run = client.read_flow_run(run_id)
        if run.state is not None and run.state.is_final():
            return run
        assert time.monotonic() < deadline, run.state
        time.sleep(0.5)


def test_a_deployed_nightly_load_runs_on_a_process_worker_from_object_storage(
    prefect_api: PrefectServer, five9: SandboxServer, s3_bucket: str, tmp_path: Path
) -> None:
    fs = fsspec.filesystem("s3")
    fs.put_file(str(SAMPLES / "contacts.csv"), f"{s3_bucket}/exports/contacts.csv")
    env = prefect_api.subprocess_env(
        FIVE9_BASE_URL=five9.base_url,
        FIVE9_CONSUMER_KEY="sandbox-key",
        FIVE9_SECRET_KEY="sandbox-secret",
        FIVE9_MAX_ATTEMPTS="2",
        PREFECT_LOGGING_LEVEL="INFO",  # as prefect.toml and Prefect's default have it
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    prefect(env, "work-pool", "create", POOL, "--type", "process", "--overwrite")
    deployed = prefect(env, "deploy", "--all")
    assert "nightly-demo" in deployed.stdout, deployed.stdout

    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process"],
        cwd=tmp_path, env=env, stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        with get_client(sync_client=True) as client:
            nightly = client.read_deployment_by_name("load-contacts/nightly-demo")
            assert nightly.work_pool_name == POOL
            assert nightly.global_concurrency_limit is not None
            assert nightly.global_concurrency_limit.limit == 1
            tonight = {
                "sources": [f"{s3_bucket}/exports/*.csv"],
                "rejects": f"{s3_bucket}/rejects/demo.csv",
                "as_of": AS_OF.isoformat(),
            }
            started = run_deployment("load-contacts/nightly-demo", parameters=tonight, timeout=0)
            assert isinstance(started, FlowRun)
            done = wait_for(client, started.id)
            five9.sandbox.set_faults(FaultPlan(errors_5xx=10_000))
            broken = run_deployment(
                "load-contacts/nightly-demo",
                parameters={**tonight, "list_name": "failing", "rejects": None},
                timeout=0,
            )
            assert isinstance(broken, FlowRun)
            failed = wait_for(client, broken.id)
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[done.id]))
            )
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[done.id]))
            )
    finally:
        terminate_process_group(worker)
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")

    assert done.state is not None
    assert done.state.is_completed(), (done.state.message, worker_log[-3000:])
    assert done.name.startswith("load demo ")
    valid = EXPECTED["buckets"]["valid"]
    assert len(five9.sandbox.records("demo")) == valid  # every valid row is in Five9

    lines = [log.message for log in logs]
    assert any("loading into list 'demo'" in line for line in lines), lines
    summary_line = f"{EXPECTED['rows']} rows read: {valid} delivered"
    assert any(line.startswith(summary_line) for line in lines), lines
    assert not any("sandbox-secret" in line for line in lines)

    with fs.open(f"{s3_bucket}/rejects/demo.csv", "rt") as rejects:
        rejected = rejects.read().splitlines()
    assert len(rejected) - 1 == EXPECTED["rows"] - valid  # a header, then each row set aside
    by_key = {artifact.key: str(artifact.data) for artifact in artifacts}
    assert f"| delivered | {valid} |" in by_key["load-summary-demo"]
    assert f"{s3_bucket}/rejects/demo.csv" in by_key["load-rejects-file-demo"]  # a link to all

    assert failed.state is not None
    assert failed.state.is_failed(), failed.state
    assert f"{valid} of {EXPECTED['rows']} rows failed" in str(failed.state.message)
    assert "contacts-etl retry --list 'failing'" in str(failed.state.message)

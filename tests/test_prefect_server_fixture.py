"""The real-Prefect-server fixture works: health, rate limits, flow runs, deployments, serve.

Each test talks to one ``prefect server start`` process shared by the session (see
``tests/prefect_server.py``); nothing touches the developer's Prefect profile or database.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import prefect
import pytest
from prefect import flow
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.schedules import CronSchedule
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import rate_limit
from prefect.deployments import run_deployment
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron

from tests.prefect_server import (
    HOST,
    PrefectServer,
    PrefectServerError,
    terminate_process_group,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def client(prefect_api: PrefectServer) -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as prefect_client:
        assert str(prefect_client.api_url).rstrip("/") == prefect_api.api_url
        yield prefect_client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@flow(name="fixture-greeting")
def greeting(name: str = "world") -> str:
    return f"hello {name}"


# -- a. health and version -----------------------------------------------------------------


def test_server_is_healthy_and_isolated(
    prefect_api: PrefectServer, client: SyncPrefectClient
) -> None:
    assert client.api_healthcheck() is None  # None: healthy (an exception otherwise)
    assert client.api_version() == prefect.__version__  # the server runs this Prefect
    assert httpx.get(f"{prefect_api.api_url}/version").json() == "0.8.4"  # the API version
    assert prefect_api.startup_seconds is not None
    assert prefect_api.startup_seconds < prefect_api.startup_timeout
    assert prefect_api.database_path.is_file()
    assert prefect_api.database_path.is_relative_to(prefect_api.root)
    env = prefect_api.env()
    assert env["PREFECT_API_URL"] == prefect_api.api_url
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


# -- b. a global concurrency limit as a rate limit -------------------------------------------


def ensure_rate_limit(client: SyncPrefectClient, name: str, per_second: float) -> None:
    try:
        client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=1, slot_decay_per_second=per_second)
        )


@pytest.mark.parametrize("per_second", [2.0, 4.0])
def test_rate_limit_spaces_acquisitions(client: SyncPrefectClient, per_second: float) -> None:
    """limit=1 with decay d: one slot per 1/d s, no burst; the wait is Retry-After with
    Poisson jitter, so the spacing lies between 1/d and about 2/d."""
    name = unique("five9-api")
    ensure_rate_limit(client, name, per_second)

    times: list[float] = []
    for _ in range(12):
        rate_limit(name, occupy=1, timeout_seconds=30, strict=True)
        times.append(time.monotonic())

    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    interval = 1.0 / per_second
    print(
        f"rate_limit decay={per_second}/s: gaps {min(gaps):.3f}..{max(gaps):.3f} s, "
        f"mean {sum(gaps) / len(gaps):.3f} s (1/d = {interval:.3f} s)"
    )
    assert min(gaps) >= interval - 0.05, gaps  # never a burst
    assert sum(gaps) / len(gaps) < 2.5 * interval, gaps  # and it does not stall
    limit = client.read_global_concurrency_limit_by_name(name)
    assert limit.limit == 1
    assert limit.slot_decay_per_second == per_second


def test_rate_limit_on_a_missing_limit(client: SyncPrefectClient) -> None:
    """Non-strict (the default): returns at once, acquires nothing, creates nothing (a
    warning goes to the run logger only inside a flow or task run). strict=True raises."""
    name = unique("no-such-limit")
    started = time.monotonic()
    for _ in range(5):
        rate_limit(name, occupy=1)
    assert time.monotonic() - started < 5.0
    with pytest.raises(ObjectNotFound):
        client.read_global_concurrency_limit_by_name(name)

    with pytest.raises(ConcurrencySlotAcquisitionError, match="must be created before"):
        rate_limit(name, occupy=1, strict=True)


def test_rate_limit_needs_a_decay(
    client: SyncPrefectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A limit without slot_decay_per_second is refused (422) for rate limiting."""
    name = unique("no-decay")
    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    # Prefect's acquisition service also logs the refusal at ERROR on stderr; keep it quiet.
    monkeypatch.setattr(logging.getLogger("prefect._internal.concurrency"), "disabled", True)
    with pytest.raises(ConcurrencySlotAcquisitionError, match="slot decay"):
        rate_limit(name, occupy=1)


# -- c. a flow run against the server --------------------------------------------------------


def test_flow_run_is_recorded(client: SyncPrefectClient) -> None:
    state = greeting("server", return_state=True)
    assert state.result() == "hello server"
    assert state.state_details.flow_run_id is not None

    run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.state is not None
    assert run.state.type == StateType.COMPLETED
    assert run.parameters == {"name": "server"}
    assert client.read_flow(run.flow_id).name == "fixture-greeting"


# -- d. a deployment with a schedule, parameters and a concurrency limit ---------------------


def test_deployment_registers_schedule_parameters_and_limit(client: SyncPrefectClient) -> None:
    name = unique("nightly")
    deployment = greeting.to_deployment(
        name=name,
        schedule=Cron("0 2 * * *", timezone="America/New_York"),
        parameters={"name": "nightly"},
        concurrency_limit=1,
        tags=["five9"],
    )
    # to_deployment/apply/run_deployment are "async dispatch": typed as X | Coroutine[X].
    assert isinstance(deployment, RunnerDeployment)
    deployment_id = deployment.apply()
    assert isinstance(deployment_id, UUID)

    found = client.read_deployment_by_name(f"fixture-greeting/{name}")
    assert found.id == deployment_id
    assert found.parameters == {"name": "nightly"}
    assert found.work_pool_name is None  # served deployments need no work pool
    assert found.global_concurrency_limit is not None
    assert found.global_concurrency_limit.limit == 1
    assert [s.schedule for s in found.schedules] == [
        CronSchedule(cron="0 2 * * *", timezone="America/New_York")
    ]
    assert found.schedules[0].active
    # --no-services: no scheduler, so no runs are created ahead of time.
    assert all(run.deployment_id != deployment_id for run in client.read_flow_runs())


# -- e. a served deployment, run through the API ---------------------------------------------

SERVED_FLOW = """
from prefect import flow


@flow(name="served-echo")
def echo(word: str = "nothing") -> str:
    print(f"echo {word}")
    return word


if __name__ == "__main__":
    echo.serve(name="{deployment}", pause_on_shutdown=False, print_starting_message=False)
"""


def wait_for_deployment(client: SyncPrefectClient, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        else:
            return


def test_served_deployment_runs_when_triggered(
    prefect_api: PrefectServer, client: SyncPrefectClient, tmp_path: Path
) -> None:
    deployment = unique("on-demand")
    (tmp_path / "served_echo.py").write_text(
        textwrap.dedent(SERVED_FLOW).replace("{deployment}", deployment)
    )
    log_path = tmp_path / "serve.log"
    timings: dict[str, float] = {}
    started = time.monotonic()
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "served_echo.py"],
            cwd=tmp_path,
            env=prefect_api.subprocess_env(PREFECT_RUNNER_POLL_FREQUENCY="1"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_deployment(client, f"served-echo/{deployment}", timeout=60)
        timings["serve_ready"] = time.monotonic() - started

        mark = time.monotonic()
        run = run_deployment(
            name=f"served-echo/{deployment}",
            parameters={"word": "contacts"},
            timeout=120,
            poll_interval=0.5,
        )
        timings["run_deployment"] = time.monotonic() - mark
        assert isinstance(run, FlowRun)
        assert run.state is not None, log_path.read_text()
        assert run.state.type == StateType.COMPLETED, log_path.read_text()
        assert run.parameters == {"word": "contacts"}
    finally:
        mark = time.monotonic()
        terminate_process_group(serve, grace_seconds=10)
        timings["serve_stop"] = time.monotonic() - mark
    assert serve.returncode is not None
    print(f"served deployment timings (s): {timings}")


# -- the helper's failure paths ---------------------------------------------------------------


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = PrefectServer(tmp_path, port=port, startup_timeout=60)
        with pytest.raises(PrefectServerError, match="already in use"):
            server.start()
    assert server.pid is None
    assert server.last_pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.last_pid, 0)


def test_a_server_that_is_too_slow_is_stopped(tmp_path: Path) -> None:
    server = PrefectServer(tmp_path, startup_timeout=0.5)
    with pytest.raises(PrefectServerError, match="did not answer"):
        server.start()
    assert server.pid is None
    command = (tmp_path / "server.log").read_text().splitlines()[0]
    assert "--no-services" in command
    # Its process group is gone: nothing was left running.
    assert server.last_pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.last_pid, 0)

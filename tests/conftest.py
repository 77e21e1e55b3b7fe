"""Shared test helpers: the repository's paths and a way to run the command as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from hypothesis import settings

from tests.postgres_cluster import PostgresCluster, free_port
from tests.prefect_server import PrefectServer, prefect_server_fixture

if TYPE_CHECKING:
    from five9_sandbox import Sandbox, SandboxServer
    from tests.sinks.sink_helpers import ExpectedRecord

# Property tests check behaviour, never speed (speed lives in benchmarks/): no per-example
# deadline, which a cold first call (pandera's imports) or a busy machine would break.
settings.register_profile("contacts", deadline=None)
settings.load_profile("contacts")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The samples' windows lie in 2027-2028 and their expected buckets are fixed at this moment.
AS_OF = "2026-11-27T00:00:00Z"
# Every bucket of a load's report, written out here (not taken from the code) so the tests'
# "the buckets add up to the rows read" is an independent check.
REPORT_BUCKETS = (
    "delivered",
    "rejected_by_five9",
    "invalid",
    "expired",
    "duplicate",
    "failed",
    "already_delivered",
    "would_deliver",
)


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `contacts-etl` in a fresh process, as a user would, and capture what it prints."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "contacts_etl", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(autouse=True)
def own_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test keeps its run ledger apart (and out of the user's data directory)."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CONTACTS_STATE_DIR", str(state))
    return state


@pytest.fixture
def sandbox(server: SandboxServer) -> Sandbox:
    """The module's sandbox (its own `server` fixture), reset before each test."""
    server.sandbox.reset()
    return server.sandbox


@pytest.fixture(scope="module")
def sample_rows(tmp_path_factory: pytest.TempPathFactory) -> list[ExpectedRecord]:
    """What preview says a load of the samples sends, in order."""
    from tests.sinks.sink_helpers import preview_rows

    rows = preview_rows([SAMPLES / "contacts.csv"], tmp_path_factory.mktemp("preview") / "sent.csv")
    expected = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
    assert len(rows) == expected["buckets"]["valid"]
    return rows


# One real `prefect server start` for the whole session (its own home and database); under
# pytest-xdist the tests that use it go to one worker (pytest_xdist_make_scheduler), so one
# server starts.
prefect_server = prefect_server_fixture()


@pytest.fixture
def prefect_api(
    prefect_server: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrefectServer]:
    """This process's Prefect client, and child processes, talk to the session's server.

    `monkeypatch.setenv` alone is not enough in-process: Prefect read the environment at
    import. `client_settings()` enters `temporary_settings(PREFECT_API_URL=...)`."""
    for name, value in prefect_server.env().items():
        monkeypatch.setenv(name, value)
    with prefect_server.client_settings():
        yield prefect_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A real PostgreSQL server for the session (each xdist worker that needs one starts its
    own, in about a second)."""
    with PostgresCluster(Path(tempfile.mkdtemp(prefix="contacts-pg-"))) as cluster:
        yield cluster


@pytest.fixture
def shared_store(postgres: PostgresCluster) -> str:
    """A new, empty PostgreSQL database: the URL every "machine" of a test shares."""
    return postgres.database()


# The tests that use the session's Prefect server (their files). pytest-xdist 3.8's own
# grouping (`--dist loadgroup`) does not take hold under pytest 9, so the scheduler groups
# these files itself.
PREFECT_TESTS = ("tests/flows/", "tests/test_prefect_server_fixture.py")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Load scheduling, with every test of the Prefect server in one unit of work."""
    from xdist.scheduler import LoadScopeScheduling

    class PrefectOnOneWorker(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return "prefect" if nodeid.startswith(PREFECT_TESTS) else nodeid

    return PrefectOnOneWorker(config, log)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server on loopback for the session (moto's server mode), with s3fs
    reading in 1 MiB blocks so streaming shows in a few MiB."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500:
                break
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        assert time.monotonic() < deadline, "the S3 server did not start within 60 s"
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "test-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket; this process and its children reach it through the environment,
    as s3fs reads it (`s3://<bucket>`)."""
    import fsspec

    for name, value in {**S3_ENV, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    bucket = f"contacts-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(bucket)
    return f"s3://{bucket}"

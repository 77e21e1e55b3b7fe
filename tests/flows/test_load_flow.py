"""The load-contacts flow loads the sandbox and posts a run summary a person can read."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.testing.utilities import prefect_test_harness

from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from tests.conftest import SAMPLES

EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_load_flow_delivers_and_posts_summary(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.load_contacts import load_contacts

    sandbox = Sandbox(SandboxSettings(lists=("nightly",)))
    with SandboxServer(sandbox) as server:
        monkeypatch.setenv("FIVE9_BASE_URL", server.base_url)
        monkeypatch.setenv("FIVE9_CONSUMER_KEY", "sandbox-key")
        monkeypatch.setenv("FIVE9_SECRET_KEY", "sandbox-secret")
        report = load_contacts([str(SAMPLES / "contacts.csv")], "nightly")
        stored = sandbox.records("nightly")
    assert isinstance(report, dict)

    buckets = [
        "delivered", "rejected_by_five9", "invalid", "expired", "duplicate", "failed",
        "already_delivered", "would_deliver",
    ]  # fmt: skip
    assert report["rows_read"] == sum(report[b] for b in buckets)
    assert report["delivered"] == len(stored) == EXPECTED["buckets"]["valid"]
    assert report["invalid"] == EXPECTED["buckets"]["invalid"]

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["load-summary"]))
        )
    summary = str(found[0].data)
    assert "# Load into 'nightly'" in summary
    assert f"| delivered | {len(stored)} |" in summary
    assert "sandbox-secret" not in summary

"""Reading what a flow run left on the session's Prefect server: its result and artifacts."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.objects import State


def artifact_of(state: State, key: str) -> Any:
    """The data of the run's artifact `key` (the server is shared: other runs have theirs)."""
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
                key=ArtifactFilterKey(any_=[key]),
            )
        )
    assert len(found) == 1, (key, found)
    return found[0].data

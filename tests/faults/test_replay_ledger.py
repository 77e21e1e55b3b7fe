"""The ledger's count of the attempts at each replayed step, on SQLite and on PostgreSQL: each
attempt counted before it runs, the last error kept, forgotten once the step ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sinks.ledger import RunLedger


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunLedger]:
    url = request.getfixturevalue("shared_store") if request.param == "postgresql" else None
    opened = RunLedger(tmp_path / "state", url)
    yield opened
    opened.close()


def test_attempts_are_counted_before_they_run_and_forgotten_once_a_step_ends(
    ledger: RunLedger,
) -> None:
    ledger.begin_replay("run-a", ["import 1", "import 2"])
    ledger.begin_replay("run-a", ["import 1"])
    ledger.begin_replay("run-b", ["import 1"])
    ledger.replays_failed("run-a", "InjectedFault: broken")
    assert ledger.replay_attempts("run-a") == {
        "import 1": (2, "InjectedFault: broken"),
        "import 2": (1, "InjectedFault: broken"),
    }
    ledger.replayed("run-a", ["import 1"])
    assert ledger.replay_attempts("run-a") == {"import 2": (1, "InjectedFault: broken")}
    assert ledger.replay_attempts("run-b") == {"import 1": (1, "")}  # another run's own
    ledger.begin_replay("run-b", ["import 1"], by=-1)  # an attempt that was not its fault
    assert ledger.replay_attempts("run-b") == {"import 1": (0, "")}

"""Fixtures for the sink tests: a clean environment, and a way to watch the run's sink."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import contacts_etl.load
from sinks.five9_sink import Five9Sink, SinkTotals


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FIVE9_* or CONTACTS_* variable and no `.env` from the host leaks into a run: the
    settings are built from what each test passes (pydantic-settings also reads env vars and
    a `.env` in the working directory). The run ledger stays in the test's own state folder."""
    for name in list(os.environ):
        if name.startswith(("FIVE9_", "CONTACTS_")) and name != "CONTACTS_STATE_DIR":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class SinkSpy:
    """The sinks `run_load` delivered through, so a test can read their totals."""

    def __init__(self) -> None:
        self.sinks: list[Five9Sink] = []

    @property
    def last(self) -> Five9Sink:
        assert self.sinks, "run_load delivered through no sink"
        return self.sinks[-1]


@pytest.fixture
def sink_spy(monkeypatch: pytest.MonkeyPatch) -> SinkSpy:
    """Record every sink `run_load` delivers through (the real class, unchanged behaviour)."""
    spy = SinkSpy()

    class RecordedSink(Five9Sink):
        async def deliver(self, *args: Any, **kwargs: Any) -> SinkTotals:
            spy.sinks.append(self)
            return await super().deliver(*args, **kwargs)

    monkeypatch.setattr(contacts_etl.load, "Five9Sink", RecordedSink)
    return spy

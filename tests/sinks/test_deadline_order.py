"""Deadline-first sending against the sandbox over loopback: a load whose windows close while it
runs loses fewer of them in deadline order than in file order, as its dry run predicts, and
never sends a window that has closed by the load's clock.

The loads run at a scaled-down pace (10 requests a second, 10 rows a request) from an `as_of`
minutes ahead of the real clock, so the load's clock is `as_of` plus the time since the load
began, and the windows that end at the minute T close mid-load, whatever the real time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import contacts_etl.load
from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.preview import PreviewRequest, run_preview
from contacts_etl.run_report import LoadReport
from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from sinks.chunk import Chunk
from sinks.rest_wire import RestWire
from sinks.settings import Five9Settings
from sinks.wire import Outcome
from transforms.expiry import load_clock
from transforms.send_order import LoadPace

from .sink_helpers import client_settings, write_contacts

REQUESTS, WINDOW, CHUNK = 10, 1.0, 10  # the sandbox's limit and the load's request size


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = Sandbox(SandboxSettings(max_requests=REQUESTS, window_seconds=WINDOW))
    with SandboxServer(sandbox) as running:
        yield running


def scaled(server: SandboxServer) -> Five9Settings:
    """The load's settings (FIVE9_CHUNK_SIZE, FIVE9_MAX_REQUESTS, FIVE9_RATE_WINDOW_SECONDS
    scaled down as the sandbox's are)."""
    return client_settings(
        server, chunk_size=CHUNK, max_requests=REQUESTS, rate_window_seconds=WINDOW
    )


def future_minute() -> pd.Timestamp:
    """A whole minute well ahead of the real clock (the loads judge windows from before it)."""
    return (pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=10)).ceil("min")


def corpus(path: Path, ends: list[pd.Timestamp]) -> Path:
    """One contact per window end, in this order, each window open for hours before it."""
    rows = [
        {
            "number1": str(5_551_200_000 + i),
            "first_name": f"Name{i}",
            "guard_start": (end - pd.Timedelta(hours=3)).strftime("%Y-%m-%dT%H:%MZ"),
            "guard_end": end.strftime("%Y-%m-%dT%H:%MZ"),
        }
        for i, end in enumerate(ends)
    ]
    return write_contacts(path, rows)


def load(
    source: Path, settings: Five9Settings, as_of: pd.Timestamp, order: str, state: Path, *,
    dry_run: bool = False,
) -> LoadReport:  # fmt: skip
    request = LoadRequest(
        sources=[str(source)], as_of=as_of, list_name="demo", order=order,  # type: ignore[arg-type]
        dry_run=dry_run, state_dir=state,
    )  # fmt: skip
    return run_load(request, settings, LoadProgress())


def test_deadline_order_loses_at_most_half_the_windows_file_order_loses_as_the_dry_run_says(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 450
    settings = scaled(server)
    duration = LoadPace(CHUNK, settings.request_interval()).seconds(rows)  # 44 requests: 5.5 s
    closing = future_minute()
    # T falls at half the load: in file order the last third (ending at T) leaves after two
    # thirds of it, too late; in deadline order they go first, within its first third.
    as_of = closing - pd.Timedelta(seconds=duration / 2)
    later = closing + pd.Timedelta(days=1)
    source = corpus(tmp_path / "contacts.csv", [later] * 300 + [closing] * 150)

    predicted = {}
    actual = {}
    for order in ("file", "deadline"):
        sandbox.reset()  # a fresh list each time
        state = tmp_path / f"state-{order}"
        plan = load(source, settings, as_of, order, state, dry_run=True)
        predicted[order] = plan.windows_closing[order]
        assert set(plan.windows_closing) == {"file", "deadline"}
        started = time.monotonic()
        report = load(source, settings, as_of, order, state)
        print(f"{order} order: {time.monotonic() - started:.1f} s, {report.expired} expired")
        assert report.balanced(), report.buckets()
        assert report.delivered == len(sandbox.records("demo")) == rows - report.expired
        actual[order] = report.expired

    assert predicted == {"file": 150, "deadline": 0}  # the corpus is built so
    # The analyst's HTML report of the same file, at the same pace and moment, says the same.
    for name, value in (("CHUNK_SIZE", CHUNK), ("MAX_REQUESTS", REQUESTS)):
        monkeypatch.setenv(f"FIVE9_{name}", str(value))
    monkeypatch.setenv("FIVE9_RATE_WINDOW_SECONDS", str(WINDOW))
    html = tmp_path / "report.html"
    clock = run_preview(PreviewRequest(sources=[str(source)], as_of=as_of, html=html)).clock
    assert clock is not None
    assert clock.pace == LoadPace(CHUNK, settings.request_interval())
    assert (clock.lost_in_file_order, clock.lost_in_deadline_order) == (150, 0)
    assert "data-lost='file'>150<" in html.read_text(encoding="utf-8")
    assert actual["file"] > 0
    assert actual["deadline"] <= actual["file"] / 2
    for order in ("file", "deadline"):
        if predicted[order] == 0:
            assert actual[order] == 0, order
        else:
            assert abs(actual[order] - predicted[order]) <= 0.05 * predicted[order], order


def test_a_deadline_order_load_never_sends_a_window_closed_by_its_clock(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clocks: list[Callable[[], pd.Timestamp]] = []

    def recorded_clock(moment: pd.Timestamp) -> Callable[[], pd.Timestamp]:
        clocks.append(load_clock(moment))
        return clocks[-1]

    sent: list[tuple[int, pd.Timestamp, pd.Series]] = []  # chunk, clock as it left, its rows
    send = RestWire.send

    async def watched(self: RestWire, chunk: Chunk, request: bytes) -> Outcome:
        sent.append((chunk.number, clocks[-1](), chunk.contacts.set_index("number1")["guard_end"]))
        return await send(self, chunk, request)

    monkeypatch.setattr(contacts_etl.load, "load_clock", recorded_clock)
    monkeypatch.setattr(RestWire, "send", watched)
    closing = future_minute()
    # Two thirds of the windows end at T, more than can leave before it; the rest a minute
    # later, after the load. File order mixes them; deadline order sends T's first.
    ends = [closing if i % 3 else closing + pd.Timedelta(minutes=1) for i in range(200)]
    source = corpus(tmp_path / "contacts.csv", ends)
    report = load(
        source, scaled(server), closing - pd.Timedelta(seconds=0.8), "deadline", tmp_path / "s"
    )

    assert sent, "nothing was sent"
    for _, now, guard_ends in sent:
        assert (guard_ends > now).all(), f"sent at {now}: {guard_ends[guard_ends <= now]}"
    received = sandbox.records("demo")
    numbers = [number for _, _, guard_ends in sent for number in guard_ends.index]
    assert sorted(key[0] for key in received) == sorted(numbers)  # what left, and only that
    assert report.expired > 0  # windows did close mid-load: held back, not sent
    assert report.delivered + report.expired == len(ends)
    later = {str(5_551_200_000 + i) for i in range(len(ends)) if i % 3 == 0}
    assert later <= set(numbers)  # every window still open after the load was delivered
    by_chunk = pd.concat([guard_ends for _, _, guard_ends in sorted(sent, key=lambda s: s[0])])
    assert by_chunk.is_monotonic_increasing  # soonest window end first, chunk by chunk

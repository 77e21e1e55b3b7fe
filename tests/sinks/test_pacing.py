"""Pacing: no sliding window ever holds more upload requests than Five9 allows, end to end
against the sandbox (scaled to 10 per 2 s) and on the `Pacer` itself with a fake clock (the
real 40 per 60 s); and a window that closes during the run is held back as its chunk leaves."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sinks.pacer
from contacts_etl.load import LoadRequest, run_load
from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from five9_sandbox.rate_window import SlidingWindowLog
from sinks.pacer import Pacer
from sinks.settings import Five9Settings

from .conftest import SinkSpy
from .sink_helpers import (
    AS_OF_TS,
    client_settings,
    generate_contacts,
    max_in_window,
    preview_rows,
    read_table,
    stored,
    wanted,
    wire,
    write_contacts,
)

LIMIT = 10
WINDOW = 2.0
ROWS = 600  # 60 requests: six windows' worth
CHUNK = 10


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """A sandbox that answers 429 past 10 uploads in any sliding 2 s."""
    settings = SandboxSettings(max_requests=LIMIT, window_seconds=WINDOW)
    with SandboxServer(Sandbox(settings)) as running:
        yield running


# -------------------------------------------------------------------------- end to end


def test_load_never_goes_over_the_sliding_window(
    server: SandboxServer, sandbox: Sandbox, sink_spy: SinkSpy, tmp_path: Path
) -> None:
    source = generate_contacts(tmp_path / "contacts.csv", ROWS)
    expected = preview_rows([source], tmp_path / "would_send.csv")
    assert len(expected) == ROWS
    settings = client_settings(
        server, max_requests=LIMIT, rate_window_seconds=WINDOW, chunk_size=CHUNK
    )

    report = run_load(
        LoadRequest(sources=[str(source)], as_of=AS_OF_TS, list_name="demo"), settings
    )

    assert report.chunks == ROWS // CHUNK >= 6 * LIMIT
    # one request per chunk, plus any re-send (a keep-alive connection reset now and then)
    assert report.requests == report.chunks + report.retries
    assert report.delivered == ROWS
    assert report.failed == 0
    assert report.balanced(), report.buckets()
    assert stored(sandbox) == wanted(expected)
    # the sandbox never had to say 429, and counted no more than 10 in any 2 s
    assert sandbox.events_of("rate_limited") == []
    assert report.throttled_429 == 0
    assert sandbox.max_in_any_window() <= LIMIT
    # the client's own send times: no 2 s window over 10 ...
    sent = sink_spy.last.totals.send_times
    assert len(sent) == report.requests
    assert max_in_window(sent, WINDOW) <= LIMIT
    # ... and not much slower than it need be: at least 85 % of the allowed rate
    rate = (len(sent) - 1) / (max(sent) - min(sent))
    assert rate >= 0.85 * LIMIT / WINDOW, rate


# ------------------------------------------------------------------- the pacer, fake time


class FakeTime:
    """A clock that moves only when the pacer sleeps on it."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._yield = asyncio.sleep

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await self._yield(0)


@contextmanager
def pacer_on(fake: FakeTime) -> Iterator[None]:
    """The pacer's sleeps advance the fake clock instead of waiting (only inside sinks.pacer;
    the sandbox's event loop in its own thread keeps the real asyncio)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sinks.pacer, "asyncio", SimpleNamespace(Lock=asyncio.Lock, sleep=fake.sleep))
        yield


@pytest.fixture
def fake_time() -> Iterator[FakeTime]:
    fake = FakeTime()
    with pacer_on(fake):
        yield fake


def five9_default_interval() -> float:
    settings = Five9Settings(base_url=None, region=None, consumer_key=None, secret_key=None)
    assert (settings.max_requests, settings.rate_window_seconds) == (40, 60.0)
    return settings.request_interval()


def admitted_by_sandbox_window(times: list[float], limit: int, window: float) -> bool:
    """Would the sandbox's own sliding-window log admit every one of these sends?"""
    log = SlidingWindowLog(limit, window)
    return all(log.try_admit("key", t) is None for t in times)


def test_pacer_keeps_200_requests_under_40_per_minute_without_a_burst(
    fake_time: FakeTime,
) -> None:
    interval = five9_default_interval()
    pacer = Pacer(interval, clock=fake_time.clock)

    async def ask_all_at_once() -> list[float]:
        return list(await asyncio.gather(*(pacer.slot() for _ in range(200))))

    start = fake_time.clock()
    slots = asyncio.run(ask_all_at_once())

    assert slots == pacer.sent
    assert slots[0] == start
    assert len(slots) == 200
    assert max_in_window(slots, 60.0) <= 40
    assert admitted_by_sandbox_window(slots, 40, 60.0)
    assert not all(t - start < 1.0 for t in slots[:40])  # burst-free: not 40 in the first second
    assert slots[39] - slots[0] >= 39 * 60.0 / 40
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= interval - 1e-9


def test_pacer_hold_pushes_the_next_slot_back(fake_time: FakeTime) -> None:
    pacer = Pacer(1.5, clock=fake_time.clock)

    async def run() -> tuple[float, float, float]:
        first = await pacer.slot()
        pacer.hold(7.0)  # Five9 said Retry-After: 7
        held = await pacer.slot()
        after = await pacer.slot()
        return first, held, after

    first, held, after = asyncio.run(run())
    assert held >= first + 7.0
    assert after >= held + 1.5


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=90.0), min_size=1, max_size=150),
    holds=st.lists(st.tuples(st.integers(0, 149), st.floats(0.0, 30.0)), max_size=5),
)
def test_pacer_never_exceeds_the_window_whatever_the_arrivals(
    gaps: list[float], holds: list[tuple[int, float]]
) -> None:
    """Requests asked for after idle spells (where a token bucket would have refilled) or in
    bursts, with Retry-After holds in between: no 60 s window ever holds more than 40."""
    fake = FakeTime()
    interval = five9_default_interval()
    held_at = dict(holds)

    async def run() -> list[float]:
        pacer = Pacer(interval, clock=fake.clock)
        for index, gap in enumerate(gaps):
            fake.now += gap
            if index in held_at:
                pacer.hold(held_at[index])
                earliest = fake.now + held_at[index]
                assert await pacer.slot() >= earliest
            else:
                await pacer.slot()
        return pacer.sent

    with pacer_on(fake):
        sent = asyncio.run(run())
    assert max_in_window(sent, 60.0) <= 40
    assert admitted_by_sandbox_window(sent, 40, 60.0)


# ------------------------------------------------------------------- expiry at send time


def test_window_that_closes_during_the_run_is_held_back_as_its_chunk_leaves(
    server: SandboxServer, sandbox: Sandbox, sink_spy: SinkSpy, tmp_path: Path
) -> None:
    """Three one-contact chunks, paced 1.25 s apart. The first and the last have a window that
    closes at `closes`, a whole minute tomorrow; the load's clock starts 1.2 s before it
    (`--as-of`, then running on in real time), so the first request leaves before that moment
    and is delivered, and the last leaves after it and must be held back as `expired`
    (docs/guard-times.md: "Expiry is checked again as each chunk leaves")."""
    closes = pd.Timestamp.now(tz="UTC").ceil("min") + pd.Timedelta(days=1)
    as_of = closes - pd.Timedelta(seconds=1.2)
    opens = closes - pd.Timedelta(hours=2)
    rows = [
        {"number1": "2125550101", "guard_start": wire(opens), "guard_end": wire(closes)},
        {
            "number1": "2125550102",
            "guard_start": wire(opens),
            "guard_end": wire(closes + pd.Timedelta(hours=4)),
        },
        {"number1": "2125550103", "guard_start": wire(opens), "guard_end": wire(closes)},
    ]
    source = write_contacts(tmp_path / "closing.csv", rows)
    # one request a second, and a guard of 0.25 s: the third leaves 2.5 s after the first
    settings = client_settings(server, max_requests=1, rate_window_seconds=1.0, chunk_size=1)
    rejects = tmp_path / "rejects.csv"

    report = run_load(
        LoadRequest(sources=[str(source)], as_of=as_of, list_name="demo", rejects=rejects),
        settings,
    )

    sent = sink_spy.last.totals.send_times
    assert sent[-1] - sent[0] >= 2.0  # the last request left well after the window closed
    assert report.balanced(), report.buckets()
    assert sorted(stored(sandbox)) == ["2125550101", "2125550102"]
    assert (report.delivered, report.expired, report.failed) == (2, 1, 0)
    assert sink_spy.last.totals.expired == 1  # judged by the sink, not at staging
    [expired] = read_table(rejects).query("bucket == 'expired'").to_dict("records")
    assert (expired["source_line"], expired["number1"]) == ("4", "2125550103")
    assert "had passed by" in expired["reason"]
    assert "before the row was sent" in expired["reason"]


def test_a_past_as_of_never_sends_a_closed_window_nor_lets_it_hide_an_open_one(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    """--as-of in the past: a window open then but closed in fact is not sent (the load's clock
    never runs behind the real one), and, as expired, it does not beat the earlier open row of
    its key (docs/guard-times.md: "an invalid or expired row never hides a good one")."""
    closed = AS_OF_TS + pd.Timedelta(minutes=30)  # open at AS_OF, long closed by now
    rows = [
        {"number1": "2125550101", "first_name": "Early", "guard_start": "2027-12-01T14:00:00Z",
         "guard_end": "2027-12-01T22:00:00Z"},
        {"number1": "(212) 555-0101", "first_name": "Late", "guard_start": wire(AS_OF_TS),
         "guard_end": wire(closed)},
        {"number1": "2125550102", "first_name": "Alone", "guard_start": wire(AS_OF_TS),
         "guard_end": wire(closed)},
    ]  # fmt: skip
    source = write_contacts(tmp_path / "past.csv", rows)
    rejects = tmp_path / "rejects.csv"
    request = LoadRequest(sources=[str(source)], as_of=AS_OF_TS, list_name="demo", rejects=rejects)
    report = run_load(request, client_settings(server))

    assert report.balanced(), report.buckets()
    assert (report.delivered, report.expired, report.duplicate) == (1, 2, 0)
    [record] = sandbox.records("demo").values()
    assert (record.fields["first_name"], record.guard_end) == ("Early", "2027-12-01T22:00:00Z")
    expired = read_table(rejects).query("bucket == 'expired'")
    assert sorted(expired["first_name"]) == ["Alone", "Late"]
    assert expired["reason"].str.contains("had passed by").all()

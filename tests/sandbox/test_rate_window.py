"""The sliding-window log itself, at explicit instants (docs/five9-contract.md, limits)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from five9_sandbox.rate_window import SlidingWindowLog


def test_admits_up_to_the_limit_then_names_the_wait() -> None:
    window = SlidingWindowLog(max_requests=3, window_seconds=60)
    assert [window.try_admit("k", t) for t in (0.0, 10.0, 20.0)] == [None, None, None]
    assert window.try_admit("k", 30.0) == 30  # the one at 0.0 leaves at 60.0
    assert window.try_admit("k", 59.5) == 1  # at least 1
    assert window.try_admit("k", 60.0) is None
    assert window.times("k") == [0.0, 10.0, 20.0, 60.0]


def test_is_sliding_not_fixed() -> None:
    window = SlidingWindowLog(max_requests=4, window_seconds=60)
    for t in (50.0, 55.0, 58.0, 59.0):
        assert window.try_admit("k", t) is None
    # a fixed minute would reset at 60.0 and let these in
    assert window.try_admit("k", 61.0) == 49
    assert window.try_admit("k", 109.0) == 1
    assert window.try_admit("k", 110.0) is None


def test_refusals_are_not_counted_and_credentials_are_separate() -> None:
    window = SlidingWindowLog(max_requests=1, window_seconds=10)
    assert window.try_admit("a", 0.0) is None
    for t in (1.0, 2.0, 3.0):
        assert window.try_admit("a", t) is not None
    assert window.try_admit("b", 3.0) is None
    assert window.times("a") == [0.0]
    assert window.try_admit("a", 10.0) is None
    assert window.max_in_any_window("a") == 1
    assert window.times() == [0.0, 3.0, 10.0]


def test_max_in_any_window_counts_half_open_windows() -> None:
    window = SlidingWindowLog(max_requests=100, window_seconds=2)
    for t in (0.0, 0.5, 1.9, 2.0, 2.1, 5.0):
        window.try_admit("k", t)
    assert window.max_in_any_window("k") == 4  # 0.5, 1.9, 2.0, 2.1
    assert SlidingWindowLog(1, 1).max_in_any_window() == 0


@given(
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), max_size=80),
    limit=st.integers(min_value=1, max_value=6),
)
def test_never_more_than_the_limit_in_any_window(gaps: list[float], limit: int) -> None:
    window = SlidingWindowLog(max_requests=limit, window_seconds=5)
    now = 0.0
    for gap in gaps:
        now += gap
        in_window = sum(1 for t in window.times("k") if now - 5 < t)
        admitted = window.try_admit("k", now) is None
        assert admitted == (in_window < limit)
    assert window.max_in_any_window("k") <= limit

"""Batches prepared in worker threads come back in file order, a bounded number ahead, and an
unreadable file fails after the rows read before it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from contacts_etl.pipeline import in_order_ahead


def test_results_keep_the_items_order_whatever_each_takes() -> None:
    def slow_first(item: int) -> int:
        time.sleep(0.02 if item % 3 == 0 else 0.0)
        return item * 10

    assert list(in_order_ahead(iter(range(12)), slow_first, 2, 2)) == [i * 10 for i in range(12)]


def test_items_are_taken_at_most_ahead_of_the_one_handed_out() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for item in range(100):
            taken.append(item)
            yield item

    results = in_order_ahead(items(), lambda item: item, 2, 2)
    assert next(results) == 0
    assert len(taken) == 3  # the one handed out and two ahead
    assert next(results) == 1
    assert len(taken) == 4
    results.close()


def test_an_error_reading_comes_after_the_results_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("the file went away")

    results = in_order_ahead(items(), lambda item: item, 2, 2)
    assert next(results) == 1
    assert next(results) == 2
    with pytest.raises(OSError, match="went away"):
        next(results)


def test_an_error_in_the_work_is_raised_in_its_place() -> None:
    def work(item: int) -> int:
        if item == 2:
            raise ValueError("source contract broken")
        return item

    results = in_order_ahead(iter(range(5)), work, 2, 2)
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(ValueError, match="contract"):
        next(results)

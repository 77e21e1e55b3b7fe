"""Counts over a string column's bytes agree with counting value by value."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from schemas.arrow_text import ascii_digits, counts_within, offsets_and_data

values = st.lists(st.one_of(st.none(), st.text(alphabet="12a -é", max_size=6)), max_size=30)


@given(values, st.integers(0, 5), st.integers(0, 5))
def test_digits_within_each_value(items: list[str | None], head: int, tail: int) -> None:
    """Empty values, nulls and a slice of an array (offsets not from zero) included."""
    text = pa.array(items, pa.large_string())
    text = text.slice(min(head, len(items)), max(len(items) - head - tail, 0))
    offsets, data = offsets_and_data(text)
    counts = counts_within(ascii_digits(data), offsets)
    expected = [sum(c.isdigit() for c in v or "") for v in text.to_pylist()]
    assert counts.tolist() == expected
    assert counts.dtype == np.int64

"""The key census: equal keys hash alike, contested keys are found, and the census's view of a
key is the one normalisation gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import SettingError
from transforms.duplicates import ContestedKeys, KeyCensus, key_hashes, key_values
from transforms.normalise import NormaliseOptions, census_keys, normalise_batch


def test_equal_keys_hash_alike_wherever_they_sit_in_the_buffer() -> None:
    keys = pa.array(["5551208111", "x", "5551208111", "", "5551208112", "é" * 1500])
    hashes = key_hashes(keys)
    assert hashes[0] == hashes[2]
    assert len(set(hashes.tolist())) == 5
    # A slice (non-zero offset) hashes its values exactly as the whole array does.
    assert key_hashes(keys.slice(2, 4)).tolist() == hashes[2:6].tolist()


@given(st.lists(st.text(max_size=30), min_size=1, max_size=60))
def test_hashes_agree_exactly_when_keys_do(values: list[str]) -> None:
    hashes = key_hashes(pa.array(values)).tolist()
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            assert (hashes[i] == hashes[j]) == (a == b)


def test_contested_keys_are_those_more_than_one_row_holds() -> None:
    census = KeyCensus()
    census.add(key_hashes(pa.array(["a", "b", "c"])))
    census.add(key_hashes(pa.array(["d", "b"])))
    contested = census.contested()
    assert contested.holds(key_hashes(pa.array(["a", "b", "c", "d", "zz"]))).tolist() == [
        False,
        True,
        False,
        False,
        False,
    ]


@given(
    contested=st.lists(st.integers(0, 2**64 - 1), max_size=40),
    others=st.lists(st.integers(0, 2**64 - 1), max_size=40),
    low_bits=st.integers(0, 2**16 - 1),
)
def test_holds_is_exact_membership_even_where_buckets_collide(
    contested: list[int], others: list[int], low_bits: int
) -> None:
    # Hashes sharing a contested hash's top bits but not the hash fall in a taken bucket and
    # must still be found not contested.
    taken = np.unique(np.array(contested, dtype=np.uint64))
    neighbours = (taken & np.uint64(~(2**16 - 1) & (2**64 - 1))) | np.uint64(low_bits)
    asked = np.concatenate([taken, neighbours, np.array(others, dtype=np.uint64)])
    found = ContestedKeys(taken).holds(asked)
    assert found.tolist() == np.isin(asked, taken).tolist()


PHONES = st.sampled_from(
    ["(555) 120-8111", "+1 555 120 8111", "1-555-120-8111", "555.120.8111", "+44 20 7946 0958",
     "011442079460958", "12", "", " 5551208111 ", "+1 44", "555-120-8112"]
)  # fmt: skip


@given(st.lists(PHONES, min_size=1, max_size=20), st.booleans())
def test_the_census_sees_each_valid_rows_key_as_normalisation_leaves_it(
    numbers: list[str], e164: bool
) -> None:
    frame = pd.DataFrame(
        {
            "number1": numbers,
            "guard_start": "2027-12-01 09:00",
            "guard_end": "2027-12-01 17:00",
            "source_file": "t.csv",
            "source_line": range(2, len(numbers) + 2),
        },
        dtype="str",
    ).astype({"source_line": "int64"})
    options = NormaliseOptions(e164=e164)
    normalised = normalise_batch(frame, {}, options)
    census = census_keys(frame, options)
    valid = normalised.contacts.index
    assert (
        key_values(census.loc[valid], options.keys).to_pylist()
        == key_values(normalised.contacts, options.keys).to_pylist()
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (("guard_start",), "not a contact field"),
        (("timezone",), "not a contact field"),
        (("source_line",), "not a contact field"),
        (("number1", "number1"), "more than once"),
        ((" ",), "not a blank one"),
        ((), "at least one"),
    ],
)
def test_options_refuse_keys_five9_cannot_match_on(keys: tuple[str, ...], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        NormaliseOptions(keys=keys)

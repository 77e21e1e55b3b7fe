"""The Five9 contract's number check reads bytes, not a regex per value: it must answer
exactly as the pattern does."""

from __future__ import annotations

import re

import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from schemas.five9_contacts import five9_schema
from schemas.phone_forms import number_forms, number_pattern

_NUMBERISH = st.one_of(
    st.text(alphabet="0123456789+", max_size=18),
    st.builds(lambda a, b: a + b, st.sampled_from(["", "+", "011", "1", "+1", "0"]), st.text()),
    st.text(alphabet="0123456789٣+ \n\x00é", max_size=18),
)


@given(values=st.lists(st.one_of(st.none(), _NUMBERISH), max_size=30), e164=st.booleans())
@example(values=["2125551234", "2125551234\n", "0112125551", "+1212555123", None, ""], e164=True)
def test_number_forms_answer_as_the_pattern_does(values: list[str | None], e164: bool) -> None:
    pattern = re.compile(number_pattern(e164=e164))
    expected = [v is not None and pattern.fullmatch(v) is not None for v in values]
    series = pd.Series(values, dtype="str").iloc[1:]  # a slice: an offset into the buffers
    assert number_forms(series, e164=e164).tolist() == expected[1:]


@pytest.mark.parametrize("e164", [False, True])
def test_failures_read_as_pandera_str_matches_would_name_them(e164: bool) -> None:
    numbers = ["2125551234", "12125551234", "+442079460958", "011442079460958", "555-1234"]
    frame = pd.DataFrame(
        {
            "source_file": "t.csv",
            "source_line": range(2, 7),
            "number1": numbers,
            "number2": [None, "x", "2125551234", "", "0112"],
            "guard_start": pd.Timestamp("2027-12-01T14:00Z"),
            "guard_end": pd.Timestamp("2027-12-01T22:00Z"),
        }
    ).astype({"source_file": "str", "number1": "str", "number2": "str"})
    frame[["guard_start", "guard_end"]] = frame[["guard_start", "guard_end"]].apply(
        lambda column: column.dt.as_unit("ns")
    )
    by_regex = five9_schema(e164=e164).update_columns(
        {
            n: {"checks": [pa.Check.str_matches(number_pattern(e164=e164))]}
            for n in ("number1", "number2")
        }
    )
    found = []
    for schema in (five9_schema(e164=e164), by_regex):
        with pytest.raises(pa.errors.SchemaErrors) as raised:
            schema.validate(frame, lazy=True)
        cases = raised.value.failure_cases
        found.append(cases[["column", "check", "failure_case", "index"]].to_dict("records"))
    assert found[0] == found[1]

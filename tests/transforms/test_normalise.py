"""A batch to Five9 contacts: each fault found in one pass, kept with the row's original values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.five9_contacts import five9_schema
from transforms.duplicates import DuplicateFinder, key_values
from transforms.normalise import NormaliseOptions, normalise_batch


def batch(rows: Sequence[Mapping[str, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype="str")
    frame["source_file"] = "t.csv"
    frame["source_line"] = range(2, len(rows) + 2)
    return frame


GOOD = {"Phone": "(555) 120-8111", "Start": "2027-12-01 09:00", "End": "2027-12-01 17:00"}
RENAMES = {"Phone": "number1", "Start": "guard_start", "End": "guard_end"}


def test_good_rows_pass_the_five9_contract_with_custom_fields() -> None:
    result = normalise_batch(batch([{**GOOD, "Plan": "gold"}]), RENAMES, NormaliseOptions())
    assert len(result.contacts) == 1
    assert result.invalid.empty
    five9_schema(e164=False).validate(result.contacts)
    assert result.contacts["Plan"].tolist() == ["gold"]
    assert result.contacts["number1"].tolist() == ["5551208111"]


def test_every_fault_of_a_row_is_named_with_its_column_and_value() -> None:
    rows = [{"Phone": "12", "Start": "soon", "End": "2027-12-01 17:00", "Note": "a\x00b"}]
    result = normalise_batch(batch(rows), RENAMES, NormaliseOptions())
    assert result.contacts.empty
    reason = result.invalid["reason"].iloc[0]
    assert "number1 '12'" in reason
    assert "guard_start 'soon'" in reason
    assert "Note contains a NUL character" in reason
    # The rejects keep the original column names and values.
    assert result.invalid[["Phone", "Start", "source_line"]].iloc[0].tolist() == ["12", "soon", 2]


@pytest.mark.parametrize(
    ("note", "named"),
    [
        ("a\x01b", "the control character U+0001"),
        ("tab\vvertical", "the control character U+000B"),
        ("unit\x1fseparator", "the control character U+001F"),
        ("not a character \ufffe", "the non-character U+FFFE"),
        ("nor \uffff", "the non-character U+FFFF"),
        ("\x00", "a NUL character"),
    ],
)
def test_a_control_character_no_xml_can_carry_makes_the_row_invalid(note: str, named: str) -> None:
    rows = [{**GOOD, "Note": note}, {**GOOD, "Phone": "5551208112", "Note": "fine"}]
    result = normalise_batch(batch(rows), RENAMES, NormaliseOptions())
    assert result.invalid["reason"].tolist() == [f"Note contains {named}"]
    assert result.contacts["Note"].tolist() == ["fine"]


@pytest.mark.parametrize(
    "note", ["tab\there", "line\nbreak\r\n", "\ufeffBOM", "\uffe0 fullwidth", "é😀€", ""]
)
def test_tabs_line_breaks_and_other_characters_are_kept(note: str) -> None:
    result = normalise_batch(batch([{**GOOD, "Note": note}]), RENAMES, NormaliseOptions())
    assert result.invalid.empty
    assert len(result.contacts) == 1


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8")), min_size=1, max_size=8))
def test_the_byte_scan_misses_no_control_character(notes: list[str]) -> None:
    rows = [{**GOOD, "Phone": f"55512{n:05d}", "Note": note} for n, note in enumerate(notes)]
    result = normalise_batch(batch(rows), RENAMES, NormaliseOptions())
    control = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
    flagged = [line - 2 for line in result.invalid["source_line"]]
    assert flagged == [n for n, note in enumerate(notes) if control.search(note)]


def test_blank_key_is_invalid_and_names_the_key() -> None:
    rows = [{**GOOD, "Phone": " "}]
    result = normalise_batch(batch(rows), RENAMES, NormaliseOptions())
    assert "number1 is blank, and it is the key" in result.invalid["reason"].iloc[0]


def test_a_row_invalid_for_several_reasons_names_each() -> None:
    """A blank key is named even when another phone column of the row is bad, and so is a
    bad window: one reason per fault, in one line."""
    renames = {**RENAMES, "Mobile": "number2"}
    rows = [
        {**GOOD, "Phone": "", "Mobile": "12"},
        {**GOOD, "Phone": "", "Mobile": "12", "End": "2027-12-01 08:00"},
        {**GOOD, "Phone": "12", "Mobile": ""},
    ]
    result = normalise_batch(batch(rows), renames, NormaliseOptions())
    reasons = list(result.invalid["reason"])
    assert len(reasons) == 3
    assert "number2 '12'" in reasons[0]
    assert "number1 is blank, and it is the key" in reasons[0]
    assert "number2 '12'" in reasons[1]
    assert "number1 is blank" in reasons[1]
    assert "guard_end" in reasons[1]
    assert "number1 '12'" in reasons[2]
    assert "number1 is blank" not in reasons[2]  # bad, not blank: said once


def test_the_five9_contract_refuses_what_five9_refuses() -> None:
    contacts = pd.DataFrame(
        {
            "source_file": ["t.csv"] * 3,
            "source_line": [2, 3, 4],
            "number1": ["5551208111", "+15551208111", "5551208112"],
            "guard_start": pd.to_datetime(
                ["2027-12-01T14:00:00Z", "2027-12-01T14:00:00Z", "2027-12-01T14:00:30Z"]
            ).as_unit("ns"),
            "guard_end": pd.to_datetime(
                ["2027-12-01T14:00:00Z", "2027-12-01T22:00:00Z", "2027-12-01T22:00:00Z"]
            ).as_unit("ns"),
        }
    ).astype({"number1": "str", "source_file": "str"})
    with pytest.raises(pa.errors.SchemaErrors) as raised:
        five9_schema(e164=False).validate(contacts, lazy=True)
    checks = set(raised.value.failure_cases["check"].astype(str))
    assert "window_at_least_one_minute" in checks
    assert "whole_utc_minute" in checks
    assert any("str_matches" in check for check in checks)
    five9_schema(e164=True).validate(contacts.iloc[[1]])


def test_one_phone_in_both_forms_an_e164_domain_takes_is_one_key() -> None:
    numbers = ["2125551234", "+12125551234", "+442079460958", "011442079460958", "+1212555123"]
    frame = pd.DataFrame({"number1": numbers, "city": ["+1"] * 5}, dtype="str")
    keys = key_values(frame, ("number1",)).to_pylist()
    assert keys[0] == keys[1]
    assert keys[2] == keys[3]
    assert len(set(keys)) == 3  # "+1" and nine digits is not a North American number
    # Only phone fields are read so: a custom key keeps its "+".
    assert key_values(frame, ("city",)).to_pylist() == ["+1"] * 5


def test_later_row_wins_among_keys_across_batches() -> None:
    finder = DuplicateFinder()
    first = pd.DataFrame({"number1": ["5551208111", "5551208112"]}, dtype="str")
    second = pd.DataFrame({"number1": ["5551208113", "5551208111"]}, dtype="str")
    finder.add(key_values(first, ("number1",)))
    finder.add(key_values(second, ("number1",)))
    verdict = finder.verdict()
    assert verdict.duplicate.tolist() == [True, False, False, False]
    assert verdict.winner.tolist() == [3, 1, 2, 3]


@given(
    keys=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=60),
    cut=st.integers(0, 60),
    out=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_duplicate_verdict_matches_a_plain_python_oracle(
    keys: list[str], cut: int, out: list[bool]
) -> None:
    finder = DuplicateFinder()
    for part in (keys[:cut], keys[cut:]):
        if part:
            finder.add(key_values(pd.DataFrame({"number1": part}, dtype="str"), ("number1",)))
    verdict = finder.verdict()
    last = {key: position for position, key in enumerate(keys)}
    assert verdict.winner.tolist() == [last[key] for key in keys]
    assert verdict.duplicate.tolist() == [last[key] != i for i, key in enumerate(keys)]
    # Rows left out of the judgement neither win nor lose.
    taking = np.array([not gone for gone in out[: len(keys)]], dtype=bool)
    partial = finder.verdict(taking=taking)
    last_taking = {key: i for i, key in enumerate(keys) if taking[i]}
    winners = [last_taking[key] if taking[i] else i for i, key in enumerate(keys)]
    assert partial.winner.tolist() == winners
    assert partial.duplicate.tolist() == [w != i for i, w in enumerate(winners)]

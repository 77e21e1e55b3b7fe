"""What reaches a flow run's log: never a phone number, whoever wrote it into a line."""

from __future__ import annotations

import pytest

from flows.logs import scrubbed


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Five9 warned (1): number 2125550101 is on a DNC list",
         "Five9 warned (1): number <number> is on a DNC list"),
        ("chunk 3: +442071838750 refused", "chunk 3: <number> refused"),
        ("329 rows read: 302 delivered, 2,000 import calls a day", None),
        ("stopped at 2026-11-27T00:00:00Z; run 4f2a9b0c1d2e3f40", None),
    ],
)  # fmt: skip
def test_phone_numbers_are_masked_and_counts_and_times_are_not(
    line: str, expected: str | None
) -> None:
    assert scrubbed(line) == (line if expected is None else expected)

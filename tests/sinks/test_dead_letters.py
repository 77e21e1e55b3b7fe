"""The dead-letter store: a later delivery of a record retires other runs' letters for it, by
the delivering run's key fields, however many chunks the delivery takes."""

from __future__ import annotations

from pathlib import Path

from sinks.ledger import RunLedger
from sinks.letters import DeadLetter


def _letter(run_id: str, code: int, number: str, name: str = "Ann") -> DeadLetter:
    return DeadLetter(
        list_name="demo",
        run_id=run_id,
        row_code=code,
        source_file="a.csv",
        source_line=code,
        payload={"fields": {"number1": number, "first_name": name}},
        bucket="failed",
        error="HTTP 503",
        http_status=503,
        attempts=8,
    )


def test_each_chunk_retires_the_other_runs_letters_for_the_records_it_delivered(
    tmp_path: Path,
) -> None:
    ledger = RunLedger(tmp_path)
    ledger.add_dead_letters(
        [
            _letter("old", 2, "2125550001"),
            _letter("old", 3, "2125550002"),
            _letter("older", 9, "2125550001"),
            _letter("new", 4, "2125550003"),  # the delivering run's own letter stays
            DeadLetter(**{**_letter("old", 5, "2125550004").__dict__, "list_name": "other"}),
        ]
    )
    ledger.drop_superseded("demo", "new", ("number1",), [("2125550001",)])
    left = {(d.run_id, d.row_code) for d in ledger.dead_letters("demo")}
    assert left == {("old", 3), ("new", 4)}
    ledger.drop_superseded("demo", "new", ("number1",), [("2125550002",), ("2125550003",)])
    assert {(d.run_id, d.row_code) for d in ledger.dead_letters("demo")} == {("new", 4)}
    assert [d.row_code for d in ledger.dead_letters("other")] == [5]


def test_a_record_is_matched_on_every_key_field(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path)
    ledger.add_dead_letters([_letter("old", 2, "2125550001", "Ann")])
    keys = ("number1", "first_name")
    ledger.drop_superseded("demo", "new", keys, [("2125550001", "Bo")])
    assert len(ledger.dead_letters("demo")) == 1
    ledger.drop_superseded("demo", "new", keys, [("2125550001", "Ann")])
    assert ledger.dead_letters("demo") == []

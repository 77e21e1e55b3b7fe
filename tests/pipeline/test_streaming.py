"""The pipeline streams: contacts leave batch by batch as they are read, while the later row of
a contested key still wins over the whole run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.outputs import TableWriter, rejects_columns
from contacts_etl.pipeline import ContactPipeline
from sources import ReadOptions, open_sources
from transforms.normalise import NormaliseOptions

NOW = pd.Timestamp("2026-11-27T00:00Z")
Clock = Callable[[], pd.Timestamp]
HEADER = "number1,guard_start,guard_end,first_name\n"


def row(number: int, name: str = "Ann") -> str:
    return f"{number},2027-12-01 09:00,2027-12-01 17:00,{name}\n"


def pipeline(
    tmp_path: Path, *texts: str, batch_rows: int = 10, clock: Clock | None = None
) -> ContactPipeline:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"part{index}.csv"
        path.write_text(HEADER + text, encoding="utf-8")
        paths.append(str(path))
    sources = open_sources(paths, ReadOptions(batch_rows=batch_rows))
    work = tmp_path / "work"
    work.mkdir()
    return ContactPipeline(
        sources, ColumnMapping.load(None), NormaliseOptions(), NOW, work, clock=clock
    )


def test_the_first_contacts_leave_before_the_rest_of_the_file_is_read(tmp_path: Path) -> None:
    text = "".join(row(5551200000 + i) for i in range(50))
    run = pipeline(tmp_path, text)
    batches = run.contacts()
    first = next(batches)
    assert len(first.contacts) == 10
    assert run.counts.rows_read == 10  # the main pass has read only the first of five batches
    rest = list(batches)
    assert sum(len(b.contacts) for b in rest) == 40
    assert run.counts.valid == 50
    assert run.counts.balanced()


def test_the_later_valid_row_of_a_key_wins_across_files_and_is_sent_last(tmp_path: Path) -> None:
    first = row(5551200001, "Early") + row(5551200002) + "5551200003,soon,later,Bad\n"
    second = row(5551200004) + row(5551200001, "Late") + "(555) 120-0003,x,y,AlsoBad\n"
    run = pipeline(tmp_path, first, second)
    sent = pd.concat([b.contacts for b in run.contacts()], ignore_index=True)
    assert sent["number1"].tolist() == ["5551200002", "5551200004", "5551200001"]
    assert sent["first_name"].tolist() == ["Ann", "Ann", "Late"]
    counts = run.counts
    assert (counts.valid, counts.duplicate, counts.invalid) == (3, 1, 2)
    assert counts.balanced()
    assert run.set_aside == 3


def test_an_invalid_later_row_never_hides_a_valid_earlier_one(tmp_path: Path) -> None:
    text = row(5551200001, "Good") + "555-120-0001,never,ever,Bad\n"
    run = pipeline(tmp_path, text)
    sent = pd.concat([b.contacts for b in run.contacts()], ignore_index=True)
    assert sent["first_name"].tolist() == ["Good"]
    assert (run.counts.valid, run.counts.invalid, run.counts.duplicate) == (1, 1, 0)


def test_a_later_row_whose_window_closes_while_the_run_is_read_hides_no_open_row(
    tmp_path: Path,
) -> None:
    # Both rows are open at NOW; by the time the whole run is read (the clock) the later
    # row's window has closed: it is expired, and the earlier row of its key is sent.
    early = "5551200001,2027-12-01 09:00,2027-12-01 17:00,Early\n"
    late = "555-120-0001,2026-11-26 19:00,2026-11-26 19:30,Late\n"  # 00:30Z on the 27th
    rows = [early, row(5551200002), late]
    run = pipeline(tmp_path, "".join(rows), clock=lambda: NOW + pd.Timedelta(hours=1))
    sent = pd.concat([b.contacts for b in run.contacts()], ignore_index=True)
    assert sent["first_name"].tolist() == ["Ann", "Early"]
    counts = run.counts
    assert (counts.valid, counts.expired, counts.duplicate) == (2, 1, 0)
    assert counts.balanced()
    # The same run judged at NOW: the later row wins, the earlier is its duplicate.
    (tmp_path / "again").mkdir()
    again = pipeline(tmp_path / "again", "".join(rows))
    names = pd.concat([b.contacts for b in again.contacts()])["first_name"].tolist()
    assert names == ["Ann", "Late"]
    assert (again.counts.expired, again.counts.duplicate) == (0, 1)


def test_the_census_counts_every_row_of_the_run(tmp_path: Path) -> None:
    run = pipeline(tmp_path, row(5551200001) * 3, row(5551200002) + "x,y,z,w\n")
    assert run.census() == 5
    list(run.contacts())
    assert run.counts.rows_read == 5
    assert (run.counts.valid, run.counts.duplicate, run.counts.invalid) == (2, 2, 1)


def test_a_float32_phone_column_is_set_aside_not_sent_with_wrong_digits(tmp_path: Path) -> None:
    path = tmp_path / "phones.parquet"
    pq.write_table(
        pa.table(
            {
                "number1": pa.array([5551208111.0, 5551208112.0], pa.float32()),
                "guard_start": ["2027-12-01 09:00"] * 2,
                "guard_end": ["2027-12-01 17:00"] * 2,
            }
        ),
        path,
    )
    rejects = tmp_path / "rejects.csv"
    work = tmp_path / "work"
    work.mkdir()
    columns = rejects_columns(["number1", "guard_start", "guard_end"])
    with TableWriter(rejects, columns, "rejects", safe=False) as writer:
        run = ContactPipeline(
            open_sources([str(path)], ReadOptions()),
            ColumnMapping.load(None),
            NormaliseOptions(),
            NOW,
            work,
            rejects=writer,
        )
        sent = list(run.contacts())
    assert sent == []
    assert run.counts.invalid == 2
    assert run.counts.balanced()
    reasons = pd.read_csv(rejects)["reason"].tolist()
    assert all("stored as float32" in reason for reason in reasons)

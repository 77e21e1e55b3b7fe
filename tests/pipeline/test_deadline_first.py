"""Deadline order sends what file order sends, row for row, only soonest window end first (file
order among equals), through files of other columns, contested keys and a resumed run."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.deadline_first import deadline_first, window_ends_ns
from contacts_etl.pipeline import ContactPipeline, EarlierOutcomes, ReadyBatch
from sources import ReadOptions, open_sources
from sources.row_identity import row_codes
from transforms.normalise import NormaliseOptions

NOW = pd.Timestamp("2026-11-27T00:00Z")
END = pd.Timestamp("2027-01-12T18:00Z")


@dataclass(frozen=True)
class Row:
    number: int  # from a small pool: keys repeat, so some are contested
    end_minutes: int  # few values: many windows end together
    kind: str  # valid, invalid or expired
    name: str
    earlier: int  # 0: still to send; 1: delivered before; 2: rejected before


rows = st.builds(
    Row,
    number=st.integers(0, 11),
    end_minutes=st.integers(0, 4),
    kind=st.sampled_from(["valid"] * 6 + ["invalid", "expired"]),
    name=st.sampled_from(["Ann", "Bo", "", "Zoë"]),
    earlier=st.sampled_from([0] * 6 + [1, 2]),
)
files = st.lists(
    st.tuples(st.booleans(), st.booleans(), st.lists(rows, max_size=15)), min_size=1, max_size=3
)


def write_csv(path: Path, named: bool, zoned: bool, content: list[Row]) -> None:
    """One source: its own columns (with or without first_name and timezone) and rows."""
    header = ["number1", "guard_start", "guard_end"] + ["first_name"] * named + ["timezone"] * zoned
    lines = [",".join(header)]
    for row in content:
        end = END + pd.Timedelta(minutes=row.end_minutes)
        if row.kind == "expired":
            end = NOW - pd.Timedelta(days=1)
        start = "soon" if row.kind == "invalid" else (end - pd.Timedelta(hours=3)).isoformat()
        fields = [f"55512{row.number:05d}", start, end.isoformat()]
        lines.append(",".join(fields + [row.name] * named + ["America/Chicago"] * zoned))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(
    folder: Path, sources: list[str], earlier: EarlierOutcomes, batch_rows: int, order: str
) -> tuple[list[ReadyBatch], ContactPipeline]:
    """The batches a pipeline of `sources` hands out in `order` (read `batch_rows` rows at a
    time; deadline order hands out as many), and the pipeline."""
    work = folder / f"work-{order}"
    work.mkdir()
    pipeline = ContactPipeline(
        open_sources(sources, ReadOptions(batch_rows=batch_rows)),
        ColumnMapping.load(None),
        NormaliseOptions(),
        NOW,
        work,
        earlier=earlier,
    )
    batches = pipeline.contacts()
    if order == "deadline":
        batches = deadline_first(batches, work, batch_rows=batch_rows)
    sent = list(batches)
    assert not list(work.glob("deadline-*")), "the spilled files are left behind"
    return sent, pipeline


def joined(batches: list[ReadyBatch], part: str) -> pd.DataFrame:
    """One part of every batch, end to end (zones as a column named zone)."""
    frames = [
        batch.zones.rename("zone").to_frame() if part == "zones" else getattr(batch, part)
        for batch in batches
    ]
    whole: pd.DataFrame = pd.concat(
        [frame.reset_index(drop=True) for frame in frames], ignore_index=True
    )
    return whole


@settings(max_examples=30)
@given(files=files, batch_rows=st.integers(3, 12))
def test_deadline_order_sends_the_same_rows_soonest_window_end_first(
    files: list[tuple[bool, bool, list[Row]]], batch_rows: int
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sources, delivered, rejected = [], [], []
        for index, (named, zoned, content) in enumerate(files):
            path = folder / f"part{index}.csv"
            write_csv(path, named, zoned, content)
            sources.append(str(path))
            lines = np.arange(2, len(content) + 2, dtype=np.int64)  # the header is line 1
            status = np.array([row.earlier for row in content], dtype=np.int8)
            delivered.append(row_codes(index, lines[status == 1]))
            rejected.append(row_codes(index, lines[status == 2]))
        earlier = EarlierOutcomes(np.concatenate(delivered), np.concatenate(rejected))
        in_file, file_run = run(folder, sources, earlier, batch_rows, "file")
        in_deadline, deadline_run = run(folder, sources, earlier, batch_rows, "deadline")

    assert deadline_run.counts == file_run.counts
    assert deadline_run.counts.balanced()
    for batch in in_deadline:
        assert 0 < len(batch.codes) <= batch_rows
        assert len(batch.contacts) == len(batch.zones) == len(batch.originals) == len(batch.codes)
        assert batch.contacts.index.equals(batch.originals.index)
    if not in_file:
        assert in_deadline == []
        return
    file_codes = np.concatenate([b.codes for b in in_file])
    deadline_codes = np.concatenate([b.codes for b in in_deadline])
    contacts = joined(in_file, "contacts")
    ends = window_ends_ns(contacts)
    soonest_first = np.argsort(ends, kind="stable")
    # The same rows, each once, in deadline order: file order among equal window ends.
    assert deadline_codes.tolist() == file_codes[soonest_first].tolist()
    assert (np.diff(window_ends_ns(joined(in_deadline, "contacts"))) >= 0).all()
    # Row for row the same contact, zone and original values.
    for part in ("contacts", "zones", "originals"):
        expected = joined(in_file, part).iloc[soonest_first].reset_index(drop=True)
        got = joined(in_deadline, part)
        assert sorted(got.columns) == sorted(expected.columns), part
        pd.testing.assert_frame_equal(got[expected.columns], expected, check_names=False)

"""Nothing lost: on every fixture and sample, each row read ends in exactly one bucket, and the
rows written to --output and --rejects are exactly the rows read, each once."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from contacts_etl.preview import PreviewRequest, run_preview
from tests.conftest import AS_OF, FIXTURES, SAMPLES

SOURCES = sorted(
    [p for p in FIXTURES.iterdir() if p.suffix in {".csv", ".tsv", ".parquet"}]
    + [SAMPLES / "contacts.csv", SAMPLES / "contacts.parquet"]
)


def records_in(path: Path, encoding: str) -> list[int]:
    """The first line of each record, counted independently with Python's csv module."""
    if path.suffix == ".parquet":
        return list(range(1, pq.ParquetFile(path).metadata.num_rows + 1))
    text = path.read_bytes().decode(encoding, errors="replace").lstrip("\ufeff")
    delimiter = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t|").delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    starts, line = [], 1
    next(reader)
    line = reader.line_num + 1
    for row in reader:
        if row:
            starts.append(line)
        line = reader.line_num + 1
    return starts


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_row_read_is_in_exactly_one_bucket(source: Path, tmp_path: Path) -> None:
    encoding = "latin-1" if "latin1" in source.name else "utf-8"
    request = PreviewRequest(
        sources=[str(source)],
        output=tmp_path / "out.parquet",
        rejects=tmp_path / "rejects.parquet",
        as_of=pd.Timestamp(AS_OF),
        encoding=encoding,
        aggregates=True,
    )
    result = run_preview(request)
    counts = result.counts
    assert counts.balanced()
    assert counts.rows_read == counts.valid + counts.invalid + counts.expired + counts.duplicate

    expected_lines = records_in(source, encoding)
    assert counts.rows_read == len(expected_lines)
    sent = pd.read_parquet(tmp_path / "out.parquet")
    set_aside = pd.read_parquet(tmp_path / "rejects.parquet")
    assert len(sent) == counts.valid
    assert len(set_aside) == counts.rows_read - counts.valid
    for bucket in ("invalid", "expired", "duplicate"):
        assert (set_aside["bucket"] == bucket).sum() == getattr(counts, bucket)
    lines = sorted([*map(int, sent["source_line"]), *map(int, set_aside["source_line"])])
    assert lines == expected_lines
    assert set_aside["reason"].notna().all()
    # The report's figures account for the same rows: per file, per bucket, per reason.
    profile = result.profile
    assert profile is not None
    names = ["valid", *counts.buckets()]
    by_file = profile.file_buckets(names)
    assert by_file.sum().to_dict() == {"valid": counts.valid, **counts.buckets()}
    assert int(by_file.to_numpy().sum()) == counts.rows_read
    assert int(profile.heatmap().to_numpy().sum()) == counts.valid
    assert int(profile.lengths_after.sum()) == counts.valid == len(profile.ends_ns)
    faulted = {r.example_line for r in profile.reasons.values()}
    assert faulted <= set(map(int, set_aside.loc[set_aside["bucket"] == "invalid", "source_line"]))
    if counts.invalid:
        assert sum(r.rows for r in profile.reasons.values()) >= counts.invalid

"""Bounded reading: tiny blocks and batches give the same rows and lines as one big block."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schemas.errors import SourceError
from sources import BatchRead
from tests.sources.sources_helpers import cells, open_one, read_frame, write


def test_tiny_blocks_yield_several_batches_and_the_same_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "id,note\n" + "".join(f'{i},"n{i}\nz"\n' for i in range(500)))
    assert path.stat().st_size > 4 * 1024
    batches = list(open_one(path, block_bytes=1024).batches())
    assert len(batches) > 4
    small = pd.concat([batch.frame for batch in batches], ignore_index=True)
    pd.testing.assert_frame_equal(small, read_frame(path))
    assert small["source_line"].tolist() == list(range(2, 1002, 2))


def test_tiny_blocks_with_faults_blank_lines_and_stray_quotes(tmp_path: Path) -> None:
    text = "a,b\n" + "".join(
        f"{i},v{i}\n" if i % 7 else f'{i},"q\n{i}"\n\n{i},5\'1"\n{i},x,extra\n' for i in range(300)
    )
    path = write(tmp_path / "c.csv", text)
    expected = read_frame(path)
    for block_bytes in (1, 7, 64, 1024):
        pd.testing.assert_frame_equal(read_frame(path, block_bytes=block_bytes), expected)
    assert expected["_read_fault"].notna().sum() == len(range(0, 300, 7))


def test_batches_hold_at_most_batch_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "a\n" + "".join(f"{i}\n" for i in range(1000)))
    sizes = [len(batch.frame) for batch in open_one(path, batch_rows=128).batches()]
    assert max(sizes) <= 128
    assert sum(sizes) == 1000


def test_blocks_parsed_out_of_order_in_threads_give_the_same_rows(tmp_path: Path) -> None:
    # The pipeline parses blocks in worker threads: the rows and lines must not depend on it.
    path = write(tmp_path / "c.csv", "id,note\n" + "".join(f'{i},"n{i}\nz"\n' for i in range(500)))
    reads = list(open_one(path, block_bytes=1024).reads())
    assert len(reads) > 4
    with ThreadPoolExecutor(max_workers=3) as pool:
        parsed = list(pool.map(lambda read: read(), reversed(reads)))[::-1]
    frame = pd.concat([b.frame for batches in parsed for b in batches], ignore_index=True)
    pd.testing.assert_frame_equal(frame, read_frame(path))
    with pytest.raises(RuntimeError, match="parsed once"):
        reads[0]()


def test_broken_quoting_is_raised_after_the_blocks_before_it(tmp_path: Path) -> None:
    good = "".join(f"{i},v{i}\n" for i in range(400))
    path = write(tmp_path / "c.csv", "a,b\n" + good + '1,"never closed\n' + good)
    reads = open_one(path, block_bytes=1024).reads()
    handed: list[BatchRead] = []
    with pytest.raises(SourceError, match="never closes"):
        handed.extend(reads)
    rows = sum(len(b.frame) for read in handed for b in read())
    assert 0 < rows <= 400


def test_batches_can_be_read_twice(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "a,b\n1,2\n3,4\n")
    source = open_one(path)
    first = pd.concat([b.frame for b in source.batches()], ignore_index=True)
    second = pd.concat([b.frame for b in source.batches()], ignore_index=True)
    pd.testing.assert_frame_equal(first, second)


field_text = st.text(alphabet=st.sampled_from(list('ab ,;"\n\r\t|é')), max_size=6)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(field_text, min_size=3, max_size=3), max_size=12),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    block_bytes=st.integers(min_value=1, max_value=64),
)
def test_written_tables_read_back_with_their_start_lines(
    tmp_path: Path,
    rows: list[list[str]],
    quoting: Literal[0, 1, 2, 3],
    line_end: str,
    delimiter: str,
    block_bytes: int,
) -> None:
    # With "\n" line ends, QUOTE_MINIMAL leaves a "\r" unquoted: not CSV any reader reads back.
    bare_cr = any("\r" in value for row in rows for value in row)
    assume(not (bare_cr and line_end == "\n" and quoting == csv.QUOTE_MINIMAL))
    header = ["first", "second", "third"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=line_end)
    writer.writerow(header)
    starts = []
    for row in rows:
        starts.append(buffer.getvalue().count("\n") + 1)
        writer.writerow(row)
    path = write(tmp_path / "h.csv", buffer.getvalue())
    frame = read_frame(path, delimiter=delimiter, block_bytes=block_bytes)
    expected = [[value or None for value in row] for row in rows]
    # A row of three empty cells is written as a line holding only the delimiters: not blank.
    assert (cells(frame, header) if rows else []) == expected
    assert (frame["source_line"].tolist() if rows else []) == starts
    if rows:
        assert frame["_read_fault"].isna().all()


def _ends_inside_quotes(text: str) -> bool:
    """Whether Python's csv grammar is inside a quoted field at the end of `text`."""
    state = "field start"
    for char in text:
        if state == "quoted":
            state = "quote in quoted" if char == '"' else "quoted"
        elif (state == "field start" and char == '"') or (
            state == "quote in quoted" and char == '"'
        ):
            state = "quoted"
        else:
            state = "field start" if char in ",\r\n" else "plain"
    return state == "quoted"


def _swallows_lines(text: str) -> bool:
    """Whether, in Python's csv grammar, a quoted field holding a line feed closes with text
    right after its closing quote (the reader refuses such a file)."""
    state, spans_lines = "field start", False
    for char in text:
        if state == "quoted":
            spans_lines |= char == "\n"
            state = "quote in quoted" if char == '"' else "quoted"
        elif (state == "field start" and char == '"') or (
            state == "quote in quoted" and char == '"'
        ):
            spans_lines &= state == "quote in quoted"  # a new field starts afresh
            state = "quoted"
        else:
            if state == "quote in quoted" and char not in ",\r\n" and spans_lines:
                return True
            state = "field start" if char in ",\r\n" else "plain"
    return False


token = st.sampled_from(["a", "b", ",", '"', "\n", "\r\n", " ", "é"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.lists(token, max_size=40).map("".join), block_bytes=st.integers(1, 32))
def test_any_text_reads_as_pythons_csv_module_reads_it(
    tmp_path: Path, body: str, block_bytes: int
) -> None:
    """Malformed input too: stray quotes, ragged rows; an unclosed quote, or a quoted field
    that spans lines and has text after its closing quote, is a SourceError."""
    text = "x,y\n" + body
    path = write(tmp_path / "any.csv", text)
    if _swallows_lines(text):
        # (When a quote also never closes, the reader may meet either first.)
        also = "|never closes" if _ends_inside_quotes(text) else ""
        with pytest.raises(SourceError, match="text follows its closing quote" + also):
            read_frame(path, delimiter=",", block_bytes=block_bytes)
        return
    if _ends_inside_quotes(text):  # the csv module takes the rest of the file as the field
        with pytest.raises(SourceError, match="never closes"):
            read_frame(path, delimiter=",", block_bytes=block_bytes)
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    expected: list[tuple[int, list[str | None], bool]] = []
    line = reader.line_num + 1
    for row in reader:
        if row:
            values: list[str | None] = [value or None for value in row[:2]]
            expected.append((line, values + [None] * (2 - len(values)), len(row) != 2))
        line = reader.line_num + 1
    frame = read_frame(path, delimiter=",", block_bytes=block_bytes)
    if not expected:
        assert frame.empty
        return
    actual = list(
        zip(
            frame["source_line"].tolist(),
            cells(frame, ["x", "y"]),
            frame["_read_fault"].notna().tolist(),
            strict=True,
        )
    )
    assert actual == expected


plain_token = st.sampled_from(["a", "b", ",", "\n", "\r\n", "\r", " ", "é"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.lists(plain_token, max_size=40).map("".join), block_bytes=st.integers(1, 32))
def test_plain_blocks_read_as_split_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, block_bytes: int
) -> None:
    """A block with no quote and no blank line skips finding its records' bounds; a bare CR,
    a ragged row or a short file must read exactly as when the bounds are found."""
    path = write(tmp_path / "plain.csv", "x,y\n" + body)
    fast = read_frame(path, delimiter=",", block_bytes=block_bytes)
    with monkeypatch.context() as patched:
        patched.setattr("sources.csv_source.plain_cut", lambda block, at_eof: None)
        split = read_frame(path, delimiter=",", block_bytes=block_bytes)
    pd.testing.assert_frame_equal(fast, split)

"""A corpus of bad inputs, each run through `preview` and `load` as a user runs them.

For every input the run either stops (exit 2, exactly one line on stderr naming the file or
setting, no traceback) or goes through (exit 0, every row read in exactly one bucket, every
row set aside with a reason). Never exit 1, never a traceback, never a hang. CORPUS records
which of the two each input is expected to do, so a change of behaviour is noticed.

`load` always runs in a subprocess (against the embedded sandbox: no FIVE9_* variables).
`preview` runs in a subprocess where its exit code is what is tested (inputs that stop, and
the two big generated inputs, where a hang must hit the timeout), else in-process through
`run_preview`, alongside the load subprocess, to keep the suite fast.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from contacts_etl.load import LoadRequest, run_load
from contacts_etl.preview import PreviewRequest, run_preview
from schemas.errors import ContactsEtlError
from sinks.settings import load_settings
from tests.conftest import AS_OF, REPORT_BUCKETS, ROOT
from tests.corpus.make_corpus import BIG, FILES, corpus, write_corpus

TIMEOUT = 120  # seconds per command: a hang fails the test
FORMULA_START = ("=", "+", "-", "@")
ROWS_READ = re.compile(r"rows read\s*│\s*([\d,]+)")
NO_MATCH = "no_such_export_*.csv"


@dataclass(frozen=True)
class Stops:
    """Exit 2; the one stderr line contains `named` (the file, pattern or setting)."""

    named: str


@dataclass(frozen=True)
class Loads:
    """Exit 0; `rows` records were written and `sent` of them are valid (would be sent)."""

    rows: int
    sent: int


Expect = Stops | Loads

CORPUS: dict[str, Expect] = {
    # encodings
    "latin1_without_setting.csv": Loads(rows=3, sent=2),  # the Latin-1 row is invalid
    "utf16_with_bom.csv": Stops("utf16_with_bom.csv"),
    "invalid_utf8_mid_file.csv": Loads(rows=6, sent=5),
    "mixed_encodings.csv": Loads(rows=6, sent=2),  # utf-8 ok; latin-1, cp1252, utf-16, BOM not
    "cp1252_smart_quotes.csv": Loads(rows=3, sent=1),
    "bom_then_nothing.csv": Stops("bom_then_nothing.csv"),
    # shape
    "too_few_fields.csv": Loads(rows=4, sent=2),
    "too_many_fields.csv": Loads(rows=4, sent=2),
    "unclosed_quote_mid_file.csv": Stops("unclosed_quote_mid_file.csv"),
    "stray_quote_in_unquoted_field.csv": Loads(rows=4, sent=4),
    "quote_swallows_lines.csv": Stops("quote_swallows_lines.csv"),
    "header_only.csv": Loads(rows=0, sent=0),
    "empty.csv": Stops("empty.csv"),
    "only_blank_lines.csv": Stops("only_blank_lines.csv"),
    "duplicate_header_names.csv": Stops("duplicate_header_names.csv"),
    "blank_header_name.csv": Stops("blank_header_name.csv"),
    "cr_only_line_ends.csv": Stops("cr_only_line_ends.csv"),
    "missing_required_columns.csv": Stops("missing_required_columns.csv"),
    "mixed_delimiters.csv": Loads(rows=5, sent=2),
    "json_in_csv.csv": Stops("json_in_csv.csv"),
    "folder_good_and_bad": Stops("b_bad.csv"),
    "glob_matching_nothing": Stops(NO_MATCH),
    # values
    "nul_bytes_in_fields.csv": Loads(rows=6, sent=2),
    "spreadsheet_formulas.csv": Loads(rows=8, sent=0),
    "very_long_field_values.csv": Loads(rows=4, sent=3),
    "every_row_invalid.csv": Loads(rows=8, sent=0),
    # 6,000 rows over 1,000 keys (three spellings of each number): 5,000 duplicates
    "duplicate_keys_5000.csv": Loads(rows=6_000, sent=1_000),
    # Parquet
    "parquet_int_phone_numbers.parquet": Loads(rows=4, sent=3),
    # number2 is float32, which cannot hold a phone number's digits: no row is sent
    "parquet_float_phones_with_nan.parquet": Loads(rows=5, sent=0),
    "parquet_bool_columns.parquet": Loads(rows=3, sent=1),
    "parquet_list_and_struct.parquet": Loads(rows=3, sent=3),
    "parquet_list_as_guard_time.parquet": Loads(rows=3, sent=0),
    "parquet_timestamps_with_tz.parquet": Loads(rows=3, sent=2),
    "parquet_timestamps_naive.parquet": Loads(rows=3, sent=2),
    "parquet_timestamps_past_nanoseconds.parquet": Loads(rows=3, sent=1),
    "parquet_guard_epoch_ms_integers.parquet": Loads(rows=4, sent=3),
    "not_parquet.parquet": Stops("not_parquet.parquet"),
    "parquet_corrupt_page.parquet": Stops("parquet_corrupt_page.parquet"),
    # generated at test time (too big to commit)
    "single_line_10mb.csv": Loads(rows=1, sent=1),
    "header_50000_columns.csv": Stops("50,000 columns"),
}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`contacts-etl ARGS` in a fresh process (as conftest.run_cli), failing after TIMEOUT s."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "contacts_etl", *map(str, args)]
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{args[0]} did not finish within {TIMEOUT} s (a hang)") from None


@pytest.fixture(scope="session")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus files too big to commit, written once per session."""
    folder = tmp_path_factory.mktemp("big_corpus")
    for name, write in BIG.items():
        write(folder / name)
    return folder


@pytest.fixture
def no_five9_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FIVE9_* settings (nor a default zone or calling hours, nor a `.env` of the working
    folder) reach a load: it runs against its embedded sandbox, and every run reads the rows
    the same way."""
    for name in list(os.environ):
        if name.startswith("FIVE9_") or name in {"CONTACTS_TIMEZONE", "CONTACTS_CALLING_HOURS"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def source_for(name: str, big: Path) -> str:
    if name in BIG:
        return str(big / name)
    if name == "glob_matching_nothing":
        return str(FILES / NO_MATCH)
    return str(FILES / name)


def csv_rows(path: Path) -> list[list[str]]:
    """A CSV file's records (header first), read independently with Python's csv module."""
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- the checks ---


def check_stopped(done: subprocess.CompletedProcess[str], named: str) -> None:
    """Exit 2, one line on stderr that names the file or setting, no traceback."""
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    assert done.returncode == 2, (
        f"expected exit 2, got {done.returncode}; stderr: {done.stderr[-1500:]!r}"
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("contacts-etl:")]
    assert len(errors) == 1, done.stderr
    assert named in errors[0], errors[0]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"stderr holds {len(lines)} lines, not one: {done.stderr!r}"


def check_ran(done: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 and no traceback."""
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, (
        f"expected exit 0, got {done.returncode}; stderr: {done.stderr[-1500:]!r}"
    )


def check_set_aside(reasons: pd.Series | list[str], buckets: pd.Series | list[str]) -> None:
    assert all(isinstance(r, str) and r.strip() for r in reasons), "a reject has no reason"
    assert set(buckets) <= set(REPORT_BUCKETS), set(buckets)


def load_in_process(source: str, report: Path, rejects: Path) -> None:
    """A load into the embedded sandbox, as the command runs it, in this process."""
    request = LoadRequest(
        sources=[source],
        list_name="demo",
        as_of=pd.Timestamp(AS_OF),
        report=report,
        rejects=rejects,
    )
    run_load(request, load_settings())


def check_load(report: Path, rejects: Path, expect: Loads) -> None:
    """The report's buckets add up, and the rejects file holds every row not delivered."""
    data = json.loads(report.read_text(encoding="utf-8"))
    read = data["rows_read"]
    assert read == sum(data[bucket] for bucket in REPORT_BUCKETS), data
    assert read == expect.rows, data
    assert data["failed"] == 0, data
    assert data["delivered"] + data["rejected_by_five9"] == expect.sent, data
    header, *records = csv_rows(rejects)
    assert len(records) == read - data["delivered"], (len(records), data)
    table = [dict(zip(header, record, strict=True)) for record in records]
    check_set_aside([r["reason"] for r in table], [r["bucket"] for r in table])
    # A rejects CSV is safe to open in a spreadsheet: no cell starts a formula.
    risky = [cell for record in records for cell in record if cell.startswith(FORMULA_START)]
    assert not risky, risky[:5]


def check_preview_in_process(source: str, tmp_path: Path, expect: Expect) -> None:
    """run_preview's counts add up and match --output plus --rejects (or it stops cleanly)."""
    output, rejects = tmp_path / "preview_out.parquet", tmp_path / "preview_rejects.parquet"
    request = PreviewRequest(
        sources=[source], output=output, rejects=rejects, as_of=pd.Timestamp(AS_OF)
    )
    if isinstance(expect, Stops):
        with pytest.raises(ContactsEtlError, match=re.escape(expect.named)):
            run_preview(request)
        return
    counts = run_preview(request).counts
    assert counts.balanced(), counts
    assert counts.rows_read == expect.rows, counts
    assert counts.valid == expect.sent, counts
    sent = pd.read_parquet(output)
    set_aside = pd.read_parquet(rejects)
    assert len(sent) + len(set_aside) == counts.rows_read, (len(sent), len(set_aside), counts)
    assert len(sent) == counts.valid
    check_set_aside(set_aside["reason"].tolist(), set_aside["bucket"].tolist())


def check_preview_cli(
    done: subprocess.CompletedProcess[str], tmp_path: Path, expect: Expect
) -> None:
    """The preview command: exit code, and for a run, output + rejects == rows read."""
    if isinstance(expect, Stops):
        check_stopped(done, expect.named)
        return
    check_ran(done)
    found = ROWS_READ.search(done.stdout)
    assert found is not None, done.stdout[-2000:]
    read = int(found.group(1).replace(",", ""))
    assert read == expect.rows
    sent = pd.read_parquet(tmp_path / "preview_out.parquet")
    set_aside = pd.read_parquet(tmp_path / "preview_rejects.parquet")
    assert len(sent) == expect.sent
    assert len(sent) + len(set_aside) == read, (len(sent), len(set_aside), read)
    check_set_aside(set_aside["reason"].tolist(), set_aside["bucket"].tolist())


def collect(checks: dict[str, Callable[[], None]]) -> None:
    """Run every check; fail once, listing each that failed (so both commands are reported)."""
    failures = []
    for label, check in checks.items():
        try:
            check()
        except AssertionError as error:
            failures.append(f"{label}: {error}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.usefixtures("no_five9_env")
def test_bad_input_through_preview_and_load(name: str, big_files: Path, tmp_path: Path) -> None:
    expect = CORPUS[name]
    source = source_for(name, big_files)
    report, rejects = tmp_path / "report.json", tmp_path / "rejects.csv"
    load_args = [
        *("load", source, "--list", "demo", "--as-of", AS_OF),
        *("--report", str(report), "--rejects", str(rejects)),
    ]
    preview_args = [
        *("preview", source, "--as-of", AS_OF),
        *("--output", str(tmp_path / "preview_out.parquet")),
        *("--rejects", str(tmp_path / "preview_rejects.parquet")),
    ]
    # The command runs where its one line is the point (a run that stops) and for the big
    # files; the rest run in this process (the command's own behaviour is tested elsewhere).
    big = name in BIG

    with ThreadPoolExecutor(max_workers=2) as pool:
        loading = pool.submit(run, *load_args) if isinstance(expect, Stops) else None
        previewing = pool.submit(run, *preview_args) if big else None

        def preview_check() -> None:
            if previewing is None:
                check_preview_in_process(source, tmp_path, expect)
            else:
                check_preview_cli(previewing.result(), tmp_path, expect)

        def load_check() -> None:
            if loading is not None:
                check_stopped(loading.result(), str(getattr(expect, "named", "")))
                return
            assert isinstance(expect, Loads)
            load_in_process(source, report, rejects)
            check_load(report, rejects, expect)

        collect({"preview": preview_check, "load": load_check})


def test_formula_cells_reach_the_rejects_file_escaped(tmp_path: Path) -> None:
    """The formula file's values are in the rejects CSV, each behind a leading apostrophe
    (so the check in check_load, no cell starts a formula, is not vacuous)."""
    rejects = tmp_path / "rejects.csv"
    request = PreviewRequest(
        sources=[str(FILES / "spreadsheet_formulas.csv")],
        rejects=rejects,
        as_of=pd.Timestamp(AS_OF),
    )
    run_preview(request)
    cells = {cell for record in csv_rows(rejects) for cell in record}
    for value in ("=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "=NOW()", "=1+1"):
        assert "'" + value in cells, value
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]


def test_corpus_on_disk_is_what_make_corpus_writes(tmp_path: Path) -> None:
    """The committed files are exactly the generator's output, and each is in CORPUS."""
    written = write_corpus(tmp_path)
    expected = {path.relative_to(tmp_path).as_posix() for path in written}
    on_disk = {p.relative_to(FILES).as_posix() for p in FILES.rglob("*") if p.is_file()}
    assert on_disk == expected, "run: python -m tests.corpus.make_corpus"
    for name, data in corpus().items():
        assert (FILES / name).read_bytes() == data, name
    top_level = {name.split("/")[0] for name in expected}
    assert top_level <= set(CORPUS), top_level - set(CORPUS)
    assert set(BIG) <= set(CORPUS)
    assert sum((FILES / name).stat().st_size for name in expected) < 15 << 20
    assert len(CORPUS) >= 25


def test_make_corpus_is_deterministic() -> None:
    assert corpus() == corpus()

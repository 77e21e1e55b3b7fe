"""The preview command as an analyst runs it: the summary, the files it writes, its exit codes."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import AS_OF, FIXTURES, SAMPLES, run_cli

EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
WIRE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00Z$")


@pytest.mark.parametrize("sample", ["contacts.csv", "contacts.parquet"])
def test_sample_lands_in_the_buckets_it_was_made_for(sample: str, tmp_path: Path) -> None:
    output, rejects = tmp_path / "out.csv", tmp_path / "rejects.csv"
    done = run_cli(
        "preview", SAMPLES / sample, "--as-of", AS_OF, "--output", output, "--rejects", rejects
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    sent = pd.read_csv(output, dtype=str, keep_default_na=False)
    set_aside = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    buckets = EXPECTED["buckets"]
    assert len(sent) == buckets["valid"]
    assert set_aside["bucket"].value_counts().to_dict() == {
        b: n for b, n in buckets.items() if b != "valid" and n
    }
    # The line (CSV) or row number (Parquet) of every row set aside is the one it was made at.
    offset = 0 if sample.endswith(".csv") else 1
    for bucket, lines in EXPECTED["lines"].items():
        got = sorted(int(n) for n in set_aside.loc[set_aside["bucket"] == bucket, "source_line"])
        assert got == [line - offset for line in lines], bucket
    assert sent["guard_start"].str.match(WIRE).all()
    assert sent["guard_end"].str.match(WIRE).all()
    assert (sent["guard_end"] > sent["guard_start"]).all()
    assert set_aside["reason"].str.len().min() > 10


def test_summary_shows_buckets_and_windows_in_utc_and_local_time() -> None:
    done = run_cli("preview", SAMPLES / "contacts.csv", "--as-of", AS_OF, "--limit", "3")
    assert done.returncode == 0, done.stderr
    buckets = EXPECTED["buckets"]
    for bucket in ("valid", "invalid", "expired", "duplicate"):
        assert re.search(rf"{bucket}\s*│\s*{buckets[bucket]}\b", done.stdout), bucket
    assert re.search(rf"rows read\s*│\s*{EXPECTED['rows']}\b", done.stdout)
    # First row of the sample: 2/14/2028 10:30 AM to 16:00 in the default zone (EST).
    assert "2028-02-14 15:30-21:00 UTC" in done.stdout
    assert "2028-02-14 10:30-16:00 EST" in done.stdout


def test_crm_export_with_mapping_file(tmp_path: Path) -> None:
    output, rejects = tmp_path / "out.parquet", tmp_path / "rejects.parquet"
    done = run_cli(
        "preview",
        SAMPLES / "crm_export.csv",
        "--mapping",
        SAMPLES / "mapping.example.toml",
        "--as-of",
        AS_OF,
        "--output",
        output,
        "--rejects",
        rejects,
    )
    assert done.returncode == 0, done.stderr
    sent = pd.read_parquet(output)
    set_aside = pd.read_parquet(rejects)
    expected = EXPECTED["crm_export_buckets"]
    assert len(sent) == expected["valid"]
    assert len(sent) + len(set_aside) == EXPECTED["crm_export_rows"]
    # Mapped columns arrive under Five9's names; an unmapped column passes as a custom field.
    assert {"number1", "first_name", "guard_start", "Account"} <= set(sent.columns)
    assert "Mobile Phone" in set_aside.columns  # rejects keep the original names and values


def test_rejects_csv_cannot_run_formulas_in_a_spreadsheet(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    done = run_cli("preview", FIXTURES / "formulas.csv", "--as-of", AS_OF, "--rejects", rejects)
    assert done.returncode == 0, done.stderr
    with rejects.open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert any("HYPERLINK" in cell for cell in cells)
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@"}]


def test_latin1_needs_the_setting() -> None:
    plain = run_cli("preview", FIXTURES / "latin1.csv", "--as-of", AS_OF)
    latin = run_cli("preview", FIXTURES / "latin1.csv", "--as-of", AS_OF, "--encoding", "latin-1")
    assert plain.returncode == latin.returncode == 0
    assert re.search(r"invalid\s*│\s*1\b", plain.stdout)
    assert re.search(r"valid\s*│\s*1\b", latin.stdout)
    assert "José" in latin.stdout


def test_calling_hours_narrow_the_windows_sent(tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    done = run_cli(
        "preview",
        FIXTURES / "crlf_bom.csv",
        "--as-of",
        AS_OF,
        "--calling-hours",
        "10:00-16:00",
        "--output",
        output,
    )
    assert done.returncode == 0, done.stderr
    sent = pd.read_csv(output, dtype=str)
    # 09:00-17:00 EST narrowed to 10:00-16:00 EST.
    assert sent["guard_start"].tolist() == ["2027-12-01T15:00:00Z"] * 2
    assert sent["guard_end"].tolist() == ["2027-12-01T21:00:00Z"] * 2


BAD_INPUT: list[tuple[list[str | Path], str]] = [
    (["preview", "no/such/file.csv"], "no/such/file.csv"),
    (["preview", "no/such/folder/*.csv"], "no/such/folder/*.csv"),
    (["preview", FIXTURES / "header_only.csv", "--timezone", "Mars/Base"], "--timezone"),
    (["preview", FIXTURES / "header_only.csv", "--calling-hours", "9-5"], "--calling-hours"),
    (["preview", FIXTURES / "header_only.csv", "--output", "out.xlsx"], "--output"),
    (["preview", FIXTURES / "header_only.csv", "--mapping", "nope.toml"], "nope.toml"),
    (["preview", SAMPLES / "crm_export.csv"], "crm_export.csv"),
    (["preview", FIXTURES / "header_only.csv", "--as-of", "2026-11-27T00:00"], "--as-of"),
    (["preview", FIXTURES / "header_only.csv", "--encoding", "klingon"], "klingon"),
]


@pytest.mark.parametrize(("args", "named"), BAD_INPUT)
def test_bad_input_is_one_clear_line_and_exit_code_2(args: list[str | Path], named: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # not even a blank line from a progress display
    assert lines[0].startswith("contacts-etl: error: ")
    assert named in lines[0]


def test_empty_file_and_bad_mapping_files_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[columns\n")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[columns]\n"Cell" = "number1"\n')
    cases: list[tuple[list[str | Path], str]] = [
        (["preview", empty], "empty.csv"),
        (["preview", FIXTURES / "crlf_bom.csv", "--mapping", bad_toml], "bad.toml"),
        (["preview", FIXTURES / "crlf_bom.csv", "--mapping", wrong], "'Cell'"),
    ]
    for args, named in cases:
        done = run_cli(*args)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert named in done.stderr

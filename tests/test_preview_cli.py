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
    # the command line's own checks, one line too
    (["preview", FIXTURES / "header_only.csv", "--limit", "abc"], "'--limit'"),
    (["preview", FIXTURES / "header_only.csv", "--bogus"], "--bogus"),
    (["load", FIXTURES / "header_only.csv"], "'--list'"),
    # --key: a column every file has, a contact field, named once
    (["preview", FIXTURES / "header_only.csv", "--key", "NUMBER1"], "--key 'NUMBER1'"),
    (["preview", FIXTURES / "header_only.csv", "--key", "guard_start"], "--key 'guard_start'"),
    (["preview", FIXTURES / "header_only.csv", "--key", " "], "--key"),
    (["load", FIXTURES / "header_only.csv", "--list", "x", "--key", "nope"], "--key 'nope'"),
    (
        [
            "load",
            FIXTURES / "header_only.csv",
            "--list",
            "x",
            "--key",
            "number1",
            "--key",
            "number1",
        ],
        "--key 'number1' is given more than once",
    ),
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


def test_a_huge_multiline_field_is_one_short_line_on_screen(tmp_path: Path) -> None:
    # 100,000 line breaks in one quoted field: the table shows it cut to one line (rendering
    # it whole took over a minute); the --output file keeps it whole.
    field = "Ann Lee\n" * 100_000
    source = tmp_path / "long.csv"
    source.write_text(
        "number1,first_name,guard_start,guard_end\n"
        f'2125551234,"{field}",2027-12-01 09:00,2027-12-01 17:00\n',
        encoding="utf-8",
    )
    output = tmp_path / "sent.csv"
    done = run_cli("preview", source, "--as-of", AS_OF, "--output", output, "--limit", "1")
    assert done.returncode == 0, done.stderr
    shown = [line for line in done.stdout.splitlines() if "2125551234" in line]
    assert len(shown) == 1, done.stdout
    assert "Ann Lee Ann Lee" in shown[0]
    assert "…" in shown[0]
    assert len(done.stdout.splitlines()) < 60
    assert pd.read_csv(output, dtype=str)["first_name"].iloc[0] == field.strip()  # trimmed


@pytest.mark.parametrize("command", ["preview", "load"])
def test_a_run_that_stops_leaves_no_empty_rejects_file(command: str, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    args = ["--list", "demo"] if command == "load" else []
    done = run_cli(command, SAMPLES / "contacts.csv", *args, "--key", "nope", "--rejects", rejects)
    assert done.returncode == 2, done.stderr
    assert "--key 'nope'" in done.stderr
    assert not rejects.exists()  # a header alone would read as "nothing set aside"
    assert "First" not in done.stdout  # no rows shown as valid for a run that cannot be


@pytest.mark.parametrize(
    ("dotenv", "option", "sent"),
    [
        ("", (), "011442079460958"),
        ("FIVE9_E164=true\n", (), "+442079460958"),  # as a load reads the same .env
        ("FIVE9_E164=true\n", ("--no-e164",), "011442079460958"),
        ("", ("--e164",), "+442079460958"),
    ],
)
def test_preview_reads_the_e164_setting_as_a_load_does(
    tmp_path: Path, dotenv: str, option: tuple[str, ...], sent: str
) -> None:
    source = tmp_path / "international.csv"
    source.write_text(
        "number1,guard_start,guard_end\n+44 20 7946 0958,2030-01-02 09:00,2030-01-02 17:00\n",
        encoding="utf-8",
    )
    (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    output = tmp_path / "out.csv"
    done = run_cli("preview", source, "--output", output, *option, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(output, dtype=str)["number1"].tolist() == [sent]

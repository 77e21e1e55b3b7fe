"""The analyst's HTML report: opened in a real headless Chromium it draws every chart, asks the
network for nothing and logs no error; its numbers are the preview's; its clock says which
windows a load would lose in file and in deadline order."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from contacts_etl.preview import PreviewRequest, run_preview
from tests.conftest import AS_OF, ROOT, SAMPLES, run_cli

EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
CHROMIUM = (
    os.environ.get("CONTACTS_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "out" / "test-artifacts"
CHARTS = 6  # files, reasons, columns, start hours, window lengths, the clock
MARKS = ".point path, path.point, image, path.js-line"  # bars, the heatmap, lines


def open_in_chromium(report: Path, screenshot: Path) -> dict[str, Any]:
    """Open the report as a person would (a file, no server), wait for the charts, and say
    what the page did: requests beyond the file, console errors, totals, charts drawn."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the report's browser test needs Chromium: `make test` installs it"
    seen: dict[str, Any] = {"requests": [], "errors": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})  # a laptop
            page.on("request", lambda request: seen["requests"].append(request.url))
            page.on(
                "console",
                lambda message: (
                    seen["errors"].append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: seen["errors"].append(str(error)))
            page.goto(report.as_uri())
            # Plotly draws after the page loads: wait until every chart holds its marks.
            page.wait_for_function(
                f"(() => {{ const plots = document.querySelectorAll('.js-plotly-plot');"
                f" return plots.length >= {CHARTS} && [...plots].every(p =>"
                f" p.querySelectorAll({MARKS!r}).length > 0); }})()",
                timeout=30_000,
            )
            seen["charts"] = page.eval_on_selector_all(
                ".js-plotly-plot", f"plots => plots.map(p => p.querySelectorAll({MARKS!r}).length)"
            )
            seen["totals"] = page.eval_on_selector_all(
                "[data-bucket]",
                "cells => Object.fromEntries(cells.map(c => [c.dataset.bucket, c.textContent]))",
            )
            seen["lost"] = page.eval_on_selector_all(
                "[data-lost]",
                "cells => Object.fromEntries(cells.map(c => [c.dataset.lost, c.textContent]))",
            )
            seen["overflow"] = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    seen["requests"] = [url for url in seen["requests"] if url != report.as_uri()]
    return seen


@pytest.mark.slow
def test_the_report_of_the_samples_renders_offline_with_the_previews_numbers(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.html"
    done = run_cli(
        "preview", SAMPLES / "contacts.csv", "--as-of", AS_OF, "--html", report, "--limit", "0"
    )
    assert done.returncode == 0, done.stderr
    assert f"Report: {report}" in done.stdout
    text = report.read_text(encoding="utf-8")
    assert "<script src=" not in text  # everything is in the file
    assert "<link" not in text

    seen = open_in_chromium(report, ARTIFACTS / "preview-report.png")
    assert seen["requests"] == []
    assert seen["errors"] == []
    assert len(seen["charts"]) == CHARTS
    assert all(marks > 0 for marks in seen["charts"]), seen["charts"]
    assert seen["overflow"] <= 0  # no sideways scrolling on a laptop screen
    totals = {name: int(value.replace(",", "")) for name, value in seen["totals"].items()}
    assert totals["rows_read"] == EXPECTED["rows"]
    for bucket, rows in EXPECTED["buckets"].items():
        assert totals[bucket] == rows, bucket
    assert sum(v for k, v in totals.items() if k != "rows_read") == totals["rows_read"]
    assert (ARTIFACTS / "preview-report.png").stat().st_size > 50_000


def test_reasons_name_their_column_count_rows_and_show_a_row_of_their_own() -> None:
    result = run_preview(
        PreviewRequest(
            sources=[str(SAMPLES / "contacts.csv")], as_of=pd.Timestamp(AS_OF), aggregates=True
        )
    )
    assert result.profile is not None
    top = result.profile.top_reasons()
    invalid_lines = set(EXPECTED["lines"]["invalid"])
    assert [r.rows for r in top] == sorted((r.rows for r in top), reverse=True)
    for reason in top:
        assert reason.example_line in invalid_lines
        assert "'…'" not in reason.example  # the example quotes the row's own value
        if reason.column not in {"guard window", "phone numbers", "row"}:
            assert reason.kind.startswith(reason.column) or reason.column in reason.kind
    tz = next(r for r in top if r.kind.startswith("timezone '…' is not an IANA region name"))
    assert (tz.column, tz.example_line) == ("timezone", 63)
    assert "'EST'" in tz.example
    by_column = result.profile.by_column()
    assert by_column.sum() == sum(r.rows for r in result.profile.reasons.values())


def test_the_calling_hours_cut_shortens_windows_and_the_report_shows_both_lengths(
    tmp_path: Path,
) -> None:
    source = tmp_path / "long.csv"
    source.write_text(
        "number1,guard_start,guard_end,timezone\n"
        "2125550101,2030-01-02 06:00,2030-01-02 23:00,America/New_York\n"  # 17 h -> 13 h
        "2125550102,2030-01-02 09:00,2030-01-02 10:00,America/Chicago\n"  # 1 h, inside
        "2125550103,2030-01-02 22:00,2030-01-02 23:30,America/Chicago\n",  # all outside
        encoding="utf-8",
    )
    result = run_preview(
        PreviewRequest(
            sources=[str(source)],
            as_of=pd.Timestamp(AS_OF),
            calling_hours="08:00-21:00",
            html=tmp_path / "report.html",
        )
    )
    profile = result.profile
    assert profile is not None
    labels = ["< 15 min", "15-30 min", "30-60 min", "1-2 h", "2-4 h", "4-8 h", "8-12 h", "12-24 h"]
    before = dict(zip(labels, profile.lengths_before.tolist(), strict=False))
    after = dict(zip(labels, profile.lengths_after.tolist(), strict=False))
    assert before["12-24 h"] == 1  # 17 h ...
    assert after["12-24 h"] == 1  # ... then 13 h
    assert before["1-2 h"] == after["1-2 h"] == 1
    assert result.counts.invalid == 1
    assert profile.heatmap().loc["America/New_York"].idxmax() == 8  # cut to open at 08:00
    assert profile.heatmap().loc["America/Chicago"].idxmax() == 9
    assert "window lies outside calling hours" in " ".join(r.kind for r in profile.top_reasons())


def test_the_clock_counts_the_windows_a_load_would_lose_in_each_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request a minute, ten rows each: three requests leave at 0, ~1 and ~2 minutes.
    monkeypatch.setenv("FIVE9_CHUNK_SIZE", "10")
    monkeypatch.setenv("FIVE9_MAX_REQUESTS", "1")
    monkeypatch.setenv("FIVE9_RATE_WINDOW_SECONDS", "60")
    as_of = pd.Timestamp("2030-01-02T13:58:30Z")  # ten windows close at 14:00, in 90 s
    rows = ["number1,guard_start,guard_end,timezone"]
    for n in range(30):
        end = "2030-01-02 14:00" if n >= 20 else "2030-01-02 20:00"
        rows.append(f"212555{n:04d},2030-01-02 13:00,{end},UTC")
    source = tmp_path / "closing.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = tmp_path / "clock.html"
    result = run_preview(PreviewRequest(sources=[str(source)], as_of=as_of, html=report))
    clock = result.clock
    assert clock is not None
    # File order: the ten closing windows go in the third request, after they close.
    assert (clock.lost_in_file_order, clock.lost_in_deadline_order) == (10, 0)
    assert clock.closing_during_load == 10
    assert clock.pace.chunk_size == 10
    assert 60 <= clock.pace.interval_seconds < 65
    text = report.read_text(encoding="utf-8")
    assert "data-lost='file'>10<" in text
    assert "data-lost='deadline'>0<" in text


def test_the_report_can_go_to_object_storage(s3_bucket: str) -> None:
    import fsspec

    where = f"s3://{s3_bucket}/reports/preview.html"
    request = PreviewRequest(
        sources=[str(SAMPLES / "contacts.csv")], as_of=pd.Timestamp(AS_OF), html=where, limit=0
    )
    run_preview(request)
    with fsspec.open(where, "r", encoding="utf-8") as handle:
        text = handle.read()
    assert f'data-bucket="valid">{EXPECTED["buckets"]["valid"]}<' in text


def test_without_plotly_the_report_is_one_line_and_exit_2_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow" / "plotly"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named plotly')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    done = run_cli("preview", "/no/such/file.csv", "--html", tmp_path / "r.html")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2
    assert len(lines) == 1, done.stderr
    assert "pip install 'contacts-etl[report]'" in lines[0]
    assert not (tmp_path / "r.html").exists()

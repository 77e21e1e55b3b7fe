"""`make bench`: every performance target of the pipeline, measured in one run on generated
data, as a table of figure, measured, baseline, ratio, target and met/UNMET. Exits 1 when a
target is unmet.

    python benchmarks/bench.py [--rows 1000000] [--load-rows 200000] [--small 500000]
                               [--large 5000000] [--window 15]

Baselines come from the same run: `pyarrow.csv.read_csv` on the same file, the configured
request limit, the peak memory of the smaller file. Slow parts run in their own processes
(probes.py) so one figure's memory or threads never colour another's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.csv as pa_csv
from ceiling import measure_ceiling
from contacts_data import generate
from pydantic import SecretStr
from store_overhead import seconds_per_chunk

from contacts_etl.chunking import chunks_of
from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.pipeline import ContactPipeline
from contacts_etl.preview import PreviewRequest, run_preview
from schemas.fields import DEFAULT_KEYS
from sinks.rest_format import UploadModes, chunk_body, contact_objects
from sinks.settings import Five9Settings
from sources import ReadOptions, open_sources
from transforms.normalise import NormaliseOptions

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent))  # the tests' throwaway PostgreSQL cluster
from tests.postgres_cluster import PostgresCluster  # noqa: E402

AS_OF = pd.Timestamp("2026-11-27T00:00Z")
# Targets against the pyarrow read of the same file (pandas and pandera cannot come near 8x).
TRANSFORM_TIMES = 12.0
SUMMARY_TIMES = 10.0


@dataclass(frozen=True)
class Figure:
    """One row of the table."""

    name: str
    measured: float
    unit: str
    baseline: float | None
    target: str
    met: bool

    def cells(self) -> list[str]:
        ratio = f"{self.measured / self.baseline:.2f}x" if self.baseline not in (None, 0.0) else "-"
        baseline = "-" if self.baseline is None else f"{self.baseline:,.2f} {self.unit}"
        return [
            self.name,
            f"{self.measured:,.2f} {self.unit}",
            baseline,
            ratio,
            self.target,
            "met" if self.met else "UNMET",
        ]


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


# Each figure against the pyarrow read (and the read itself) is the fastest of this many runs:
# the first run of a process also pays for its imports and caches, and on a shared 2-core
# machine one run can be 20% off another either way.
RUNS = 5


def against_read(action: Callable[[], float], path: Path) -> tuple[float, float]:
    """The fastest of RUNS runs of `action`, and of the baseline (pyarrow reading the whole
    file, as fast as it can: all cores), run in turn. This machine's speed drifts by 15% over
    a bench; a figure and the read beside it drift together, so their ratio holds."""
    measured, baseline = [], []
    for _ in range(RUNS):
        baseline.append(timed(lambda: pa_csv.read_csv(path)))
        measured.append(action())
    return min(measured), min(baseline)


def transform_seconds(path: Path) -> float:
    """Read, validate, normalise, dedupe and encode every contact as upload bodies."""
    modes = UploadModes(keys=DEFAULT_KEYS)

    def run() -> None:
        sources = open_sources([str(path)], ReadOptions())
        with tempfile.TemporaryDirectory() as work:
            pipeline = ContactPipeline(
                sources, ColumnMapping.load(None), NormaliseOptions(), AS_OF, Path(work)
            )
            for chunk in chunks_of(pipeline.contacts(), 1000, contact_objects):
                chunk_body(chunk, modes)
            assert pipeline.counts.balanced(), pipeline.counts

    return timed(run)


def preview_seconds(path: Path) -> float:
    """Seconds to a preview's whole summary (its first rows included)."""
    began = time.perf_counter()
    request = PreviewRequest(sources=[str(path)], as_of=AS_OF)
    result = run_preview(request, on_first_rows=lambda _: None)
    assert result.counts.balanced(), result.counts
    return time.perf_counter() - began


def report_seconds(path: Path, html: Path) -> float:
    """Seconds to a preview's summary and its HTML report (aggregates, charts, the file)."""
    began = time.perf_counter()
    request = PreviewRequest(sources=[str(path)], as_of=AS_OF, html=html)
    result = run_preview(request, on_first_rows=lambda _: None)
    assert result.counts.balanced(), result.counts
    return time.perf_counter() - began


def probe(kind: str, path: Path) -> dict[str, float]:
    """Run one probe in a fresh interpreter and read its JSON line."""
    done = subprocess.run(
        [sys.executable, str(HERE / "probes.py"), kind, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"probe {kind} failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def print_table(figures: list[Figure]) -> None:
    header = ["figure", "measured", "baseline", "ratio", "target", "result"]
    rows = [header, *[f.cells() for f in figures]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--load-rows", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=500_000)
    parser.add_argument("--large", type=int, default=5_000_000)
    parser.add_argument("--window", type=float, default=15.0, help="sandbox window, seconds")
    args = parser.parse_args()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="contacts-bench-") as scratch:
        folder = Path(scratch)
        main_file = folder / "contacts.csv"
        print(f"generating {args.rows:,} contacts (1% repeat an earlier number) ...", flush=True)
        generate(main_file, args.rows, repeats=0.01)
        rows = f"{args.rows / 1e6:g}M rows"

        transform, baseline = against_read(lambda: transform_seconds(main_file), main_file)
        figures.append(
            Figure(
                f"transform {rows} (read..encode)",
                transform,
                "s",
                baseline,
                f"<= {TRANSFORM_TIMES:g}x",
                transform <= TRANSFORM_TIMES * baseline,
            )
        )
        summary, baseline = against_read(lambda: preview_seconds(main_file), main_file)
        # What an analyst waits for: a fresh process, nothing warmed up by the runs above.
        first_rows = probe("first-rows", main_file)["first_rows_s"]
        figures.append(
            Figure(f"preview {rows}: first rows", first_rows, "s", None, "< 1 s", first_rows < 1)
        )
        figures.append(
            Figure(
                f"preview {rows}: summary",
                summary,
                "s",
                baseline,
                f"<= {SUMMARY_TIMES:g}x",
                summary <= SUMMARY_TIMES * baseline,
            )
        )
        report = min(report_seconds(main_file, folder / "report.html") for _ in range(RUNS))
        figures.append(
            Figure(
                f"preview {rows}: HTML report",
                report,
                "s",
                summary,
                "<= 1.5x summary",
                report <= 1.5 * summary,
            )
        )
        first_upload = probe("first-upload", main_file)["first_upload_s"]
        figures.append(
            Figure(f"first upload, {rows} file", first_upload, "s", None, "< 2 s", first_upload < 2)
        )
        print_table(figures)

        print(f"loading {args.load_rows:,} contacts at 40 per {args.window:g} s ...", flush=True)
        ceiling = measure_ceiling(folder / "load.csv", args.load_rows, args.window)
        share = ceiling.per_window / ceiling.limit
        figures.append(
            Figure(
                "ceiling: requests per window",
                ceiling.per_window,
                "req",
                ceiling.limit,
                ">= 0.97x",
                share >= 0.97,
            )
        )
        figures.append(
            Figure("ceiling: 429 answers", ceiling.throttled, "", None, "0", ceiling.throttled == 0)
        )
        figures.append(
            Figure(
                "ceiling: delivered",
                ceiling.delivered,
                "rows",
                args.load_rows,
                "= rows",
                ceiling.delivered == args.load_rows,
            )
        )

        print("measuring the state store's cost per chunk (SQLite, PostgreSQL) ...", flush=True)
        interval = Five9Settings(
            region="us", consumer_key="k", secret_key=SecretStr("s")
        ).request_interval()
        with PostgresCluster(Path(tempfile.mkdtemp(prefix="contacts-bench-pg-"))) as cluster:
            stores = {"SQLite": None, "PostgreSQL": cluster.database()}
            for name, url in stores.items():
                cost = seconds_per_chunk(url)
                figures.append(
                    Figure(
                        f"state store ({name}) per 1,000-row chunk",
                        cost,
                        "s",
                        interval,
                        "<= 0.05x",
                        cost <= 0.05 * interval,
                    )
                )

        print(f"generating {args.small:,} and {args.large:,} contacts for memory ...", flush=True)
        small, large = folder / "small.csv", folder / "large.csv"
        generate(small, args.small, repeats=0.01, seed=11)
        generate(large, args.large, repeats=0.01, seed=13)
        small_peak = probe("memory", small)["peak_mb"]
        large_peak = probe("memory", large)["peak_mb"]
        figures.append(
            Figure(
                f"peak RSS {args.large / 1e6:g}M vs {args.small / 1e6:g}M rows",
                large_peak,
                "MB",
                small_peak,
                "<= 1.3x",
                large_peak <= 1.3 * small_peak,
            )
        )
    print()
    print_table(figures)
    unmet = [f.name for f in figures if not f.met]
    if unmet:
        print(f"\nUNMET: {', '.join(unmet)}")
        raise SystemExit(1)
    print("\nevery target met")


if __name__ == "__main__":
    main()

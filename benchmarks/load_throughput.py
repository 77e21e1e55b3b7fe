"""How close a load comes to Five9's request ceiling without going over it: generated contacts
are loaded into a local sandbox whose sliding window is scaled down (40 uploads per 6 s
instead of per 60 s, so 200 requests take about 30 s), and the run is measured from both ends.

    python benchmarks/load_throughput.py [--rows 200000] [--window 6] [--limit 40] [--chunk 1000]

Not a timed test: it only reports.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from normalise_throughput import generate
from pydantic import SecretStr

from contacts_etl.load import LoadReport, LoadRequest, run_load
from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from sinks.settings import MAX_CHUNK, Five9Settings


def max_in_window(times: list[float], window: float) -> int:
    """The most of `times` inside any half-open `[t, t + window)`."""
    ordered = np.sort(np.asarray(times, dtype=float))
    if ordered.size == 0:
        return 0
    ends = np.searchsorted(ordered, ordered + window, side="left")
    return int((ends - np.arange(ordered.size)).max())


def achieved_per_window(times: list[float], window: float) -> float:
    """Requests per window at the steady rate of the run (first to last request)."""
    if len(times) < 2:
        return float("nan")
    return (len(times) - 1) / (max(times) - min(times)) * window


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--window", type=float, default=6.0, help="sliding window, seconds")
    parser.add_argument("--limit", type=int, default=40, help="upload requests per window")
    parser.add_argument("--chunk", type=int, default=MAX_CHUNK, help="contacts per request")
    args = parser.parse_args()
    rows: int = args.rows
    window: float = args.window
    limit: int = args.limit

    sandbox_settings = SandboxSettings(max_requests=limit, window_seconds=window)
    with (
        tempfile.TemporaryDirectory() as scratch,
        SandboxServer(Sandbox(sandbox_settings)) as server,
    ):
        source = Path(scratch) / "contacts.csv"
        generate(source, rows)
        settings = Five9Settings(
            base_url=server.base_url,
            consumer_key=sandbox_settings.consumer_key,
            secret_key=SecretStr(sandbox_settings.secret_key),
            domain_id=None,
            region=None,
            max_requests=limit,
            rate_window_seconds=window,
            chunk_size=args.chunk,
            _env_file=None,  # type: ignore[call-arg]
        )
        request = LoadRequest(
            sources=[str(source)], as_of=pd.Timestamp.now(tz="UTC"), list_name="demo"
        )
        began = time.perf_counter()
        report: LoadReport = run_load(request, settings)
        elapsed = time.perf_counter() - began
        sandbox = server.sandbox
        arrivals = sandbox.upload_times()
        stored = len(sandbox.records("demo"))
        rate_limited = len(sandbox.events_of("rate_limited"))
        max_seen = sandbox.max_in_any_window()

    per_window = achieved_per_window(arrivals, window)
    table = [
        ("rows generated", f"{rows:,}"),
        ("contacts per request", f"{args.chunk:,}"),
        ("requests (report)", f"{report.requests:,} (ideal {math.ceil(rows / args.chunk):,})"),
        ("uploads counted by the sandbox", f"{len(arrivals):,}"),
        ("elapsed, whole run", f"{elapsed:,.1f} s"),
        ("first to last upload", f"{max(arrivals) - min(arrivals):,.1f} s" if arrivals else "-"),
        ("limit", f"{limit} per {window:g} s sliding window"),
        ("achieved per window", f"{per_window:.2f} ({per_window / limit:.1%} of the limit)"),
        ("max in any sliding window (sandbox)", f"{max_seen} (limit {limit})"),
        ("  same, recomputed from arrivals", f"{max_in_window(arrivals, window)}"),
        ("429s: sandbox rate_limited events", f"{rate_limited}"),
        ("429s: report.throttled_429", f"{report.throttled_429}"),
        ("delivered", f"{report.delivered:,}"),
        ("records in the sandbox list", f"{stored:,}"),
        ("delivered == rows", f"{report.delivered == rows and stored == rows}"),
        ("buckets balanced", f"{report.balanced()} {report.buckets()}"),
    ]
    width = max(len(name) for name, _ in table)
    for name, value in table:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()

"""How close a load comes to Five9's request ceiling without going over it: generated contacts
are loaded into a local sandbox whose sliding window is scaled down (40 uploads per 15 s
instead of per 60 s), and the run is measured at the sandbox's end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from contacts_data import generate
from pydantic import SecretStr

from contacts_etl.load import LoadRequest, run_load
from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from sinks.settings import Five9Settings

LIMIT = 40


@dataclass(frozen=True)
class Ceiling:
    """The steady rate the sandbox saw, against the limit, and what the run delivered."""

    per_window: float
    limit: int
    max_in_any_window: int
    throttled: int
    delivered: int
    requests: int


def measure_ceiling(path: Path, rows: int, window: float) -> Ceiling:
    """Load `rows` distinct contacts at LIMIT per `window` seconds; measure at the sandbox."""
    generate(path, rows)
    sandbox_settings = SandboxSettings(max_requests=LIMIT, window_seconds=window)
    with SandboxServer(Sandbox(sandbox_settings)) as server:
        settings = Five9Settings(
            base_url=server.base_url,
            consumer_key=sandbox_settings.consumer_key,
            secret_key=SecretStr(sandbox_settings.secret_key),
            max_requests=LIMIT,
            rate_window_seconds=window,
            _env_file=None,  # type: ignore[call-arg]
        )
        request = LoadRequest(
            sources=[str(path)],
            as_of=pd.Timestamp.now(tz="UTC"),
            list_name="demo",
            state_dir=path.parent / "state",  # a fresh run ledger, beside the data
        )
        report = run_load(request, settings)
        sandbox = server.sandbox
        arrivals = sorted(sandbox.upload_times())
        throttled = len(sandbox.events_of("rate_limited")) + report.throttled_429
        stored = len(sandbox.records("demo"))
        per_window = (
            (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) * window
            if len(arrivals) >= 2
            else 0.0
        )
        return Ceiling(
            per_window=per_window,
            limit=LIMIT,
            max_in_any_window=sandbox.max_in_any_window(),
            throttled=throttled,
            delivered=min(report.delivered, stored),
            requests=len(arrivals),
        )

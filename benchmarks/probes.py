"""Measurements that need a process of their own, run by `bench.py` as a subprocess and
printing one JSON line: the peak memory of a preview, the moment a cold preview shows its
first rows, or the moment of a load's first upload.

    python benchmarks/probes.py memory FILE
    python benchmarks/probes.py first-rows FILE
    python benchmarks/probes.py first-upload FILE
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
from pydantic import SecretStr

from contacts_etl.load import LoadRequest, run_load
from contacts_etl.preview import PreviewRequest, run_preview
from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from sinks.settings import Five9Settings

AS_OF = pd.Timestamp("2026-11-27T00:00Z")


def memory(path: Path) -> dict[str, float]:
    """Peak RSS of a whole preview: read, validate, normalise and dedupe the file."""
    result = run_preview(PreviewRequest(sources=[str(path)], as_of=AS_OF))
    assert result.counts.balanced(), result.counts
    return {"rows": result.counts.rows_read, "peak_mb": peak_rss_kib() / 1024}


def peak_rss_kib() -> int:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    across execve, so a child would report its parent's peak when that was higher."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _ShownError(Exception):
    """Raised from the first-rows callback: the probe needs nothing after them."""


def first_rows(path: Path) -> dict[str, float]:
    """Seconds from the start of a preview in a fresh process (libraries imported, nothing yet
    called: pandera's first validation and every cache still cold) to its first rows."""
    shown: list[float] = []

    def show(_: pd.DataFrame) -> None:
        shown.append(time.perf_counter() - began)
        raise _ShownError

    began = time.perf_counter()
    with contextlib.suppress(_ShownError):
        run_preview(PreviewRequest(sources=[str(path)], as_of=AS_OF), on_first_rows=show)
    return {"first_rows_s": shown[0]}


PROBES = {"memory": memory, "first-rows": first_rows}


def first_upload(path: Path) -> dict[str, float]:
    """Seconds from the start of a load to its first upload reaching the sandbox."""
    sandbox_settings = SandboxSettings(max_requests=40, window_seconds=60.0)
    server = SandboxServer(Sandbox(sandbox_settings)).start()
    settings = Five9Settings(
        base_url=server.base_url,
        consumer_key=sandbox_settings.consumer_key,
        secret_key=SecretStr(sandbox_settings.secret_key),
        _env_file=None,  # type: ignore[call-arg]
    )
    # A fresh state folder, as on a new machine (and the user's own run ledger stays clean).
    state = Path(tempfile.mkdtemp(prefix="contacts-bench-state-"))
    request = LoadRequest(sources=[str(path)], as_of=AS_OF, list_name="demo", state_dir=state)
    began = time.monotonic()
    threading.Thread(target=run_load, args=(request, settings), daemon=True).start()
    while not server.sandbox.upload_times():
        if time.monotonic() - began > 120:
            raise SystemExit("no upload within 120 s")
        time.sleep(0.005)
    return {"first_upload_s": min(server.sandbox.upload_times()) - began}


def main() -> None:
    probe, path = sys.argv[1], Path(sys.argv[2])
    figures = PROBES.get(probe, first_upload)(path)
    print(json.dumps(figures), flush=True)
    os._exit(0)  # the load's thread is still sending: leave without waiting for it


if __name__ == "__main__":
    main()

"""Starting and stopping: quiet, quick, real sockets; serve_forever exits cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from five9_sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]


def test_start_and_stop_are_quiet_and_quick(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with SandboxServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.base_url}/_sandbox/health").json() == {"status": "ok"}
        port = server.port
    assert time.monotonic() - started < 3
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [r for r in caplog.records if r.name.startswith("uvicorn")] == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_two_servers_get_different_free_ports() -> None:
    with SandboxServer() as one, SandboxServer() as two:
        assert one.port != two.port
        assert one.sandbox is not two.sandbox


def test_serve_forever_exits_cleanly_on_ctrl_c() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "from five9_sandbox import SandboxSettings, serve_forever\n"
        f"serve_forever(SandboxSettings(), port={port})\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(3):  # requests leave no access-log lines
            httpx.get(f"http://127.0.0.1:{port}/_sandbox/health")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out == ""
    assert err.strip().splitlines() == [
        f"Five9 sandbox serving at http://127.0.0.1:{port} (Ctrl-C to stop)"
    ]

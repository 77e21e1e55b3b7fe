"""Serving a ``Sandbox`` over real HTTP on loopback with uvicorn.

``SandboxServer`` runs uvicorn in a background thread (for tests and the embedded default);
``serve_forever`` blocks in the main thread (for a ``contacts-etl sandbox --port N`` command).
Both are quiet: uvicorn logs warnings and errors only, never access lines.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

import httpx
import uvicorn

from five9_sandbox.app import create_app
from five9_sandbox.settings import SandboxSettings
from five9_sandbox.state import Sandbox

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


def _config(sandbox: Sandbox, *, quiet_logging_setup: bool) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(sandbox),
        log_level="warning",
        access_log=False,
        # in-process servers leave the host's logging configuration alone
        log_config=None if quiet_logging_setup else uvicorn.config.LOGGING_CONFIG,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=5,
        server_header=False,
    )


class SandboxServer:
    """Serve a Sandbox over real HTTP on loopback in a background thread (uvicorn)."""

    def __init__(
        self, sandbox: Sandbox | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        """Bind, serve in a thread, and return once the server answers HTTP."""
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        server = uvicorn.Server(_config(self.sandbox, quiet_logging_setup=True))
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="five9-sandbox", daemon=True
        )
        self._thread.start()
        self._wait_until_answering()
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        with httpx.Client(timeout=1.0) as client:
            while True:
                thread = self._thread
                if thread is None or not thread.is_alive():
                    self.stop()
                    raise RuntimeError("the sandbox server stopped while starting")
                try:
                    if client.get(f"{self.base_url}/_sandbox/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the sandbox server did not answer at {self.base_url}")
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and wait for the thread; quick even with idle keep-alive clients."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(_STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _announce(base_url: str) -> None:
    print(f"Five9 sandbox serving at {base_url} (Ctrl-C to stop)", file=sys.stderr, flush=True)


def serve_forever(
    settings: SandboxSettings,
    host: str = "127.0.0.1",
    port: int = 8599,
    *,
    on_ready: Callable[[str], None] | None = _announce,
) -> None:
    """Serve a fresh sandbox until Ctrl-C (or SIGTERM); returns cleanly, no traceback.

    ``on_ready`` is called once with the base URL before serving (default: one line on
    stderr; pass None for silence).
    """
    config = _config(Sandbox(settings), quiet_logging_setup=False)
    config.host, config.port = host, port
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    # uvicorn shuts down gracefully on SIGINT, then re-raises it: swallow that one
    with contextlib.suppress(KeyboardInterrupt):
        server.run()

"""Run a real, isolated Prefect server (``prefect server start``) for tests.

A test that needs the real API — deployments, served flows, global concurrency limits,
``run_deployment`` — gets a server of its own: a ``prefect server start`` process with its
own ``PREFECT_HOME`` and SQLite file in a temporary directory, on a free port of 127.0.0.1,
in its own process group so that stopping it leaves nothing behind.

Use it as a context manager::

    with PrefectServer() as server:
        with server.client_settings():      # in-process: get_client(), flows, rate_limit
            ...
        subprocess.run([...], env=server.subprocess_env())   # child processes

or as a session-scoped fixture, in a ``conftest.py`` (to share it between modules) or in a
test module::

    prefect_server = prefect_server_fixture()

Why ``client_settings()`` and not only ``monkeypatch.setenv("PREFECT_API_URL", ...)``:
Prefect reads the environment into a process-global settings context when ``prefect`` is
imported; changing ``os.environ`` afterwards does not change ``get_client()``'s URL (with
no URL it silently starts an *ephemeral* server instead). A new settings context built by
``prefect.settings.temporary_settings`` does re-read the environment, and that is what
``client_settings()`` enters (with ``PREFECT_API_URL`` set explicitly), as Prefect's own
``prefect_test_harness`` does. Set the variables with ``monkeypatch.setenv`` too when
child processes should inherit them, or pass ``subprocess_env()`` to them.

The server runs with ``--no-services``: only the API. Nothing the tests need runs in a
server service in Prefect 3.9:

* global concurrency limits decay lazily — the ``slot_decay_per_second`` decay is part of
  the SQL of every acquire/read (``models.concurrency_limits_v2.active_slots_after_decay``);
* a served deployment's runs are picked up by the ``flow.serve``/``prefect.serve`` process,
  a client that polls the API;
* registering a deployment with a schedule needs only the API (the scheduler service would
  create its future runs, which the tests do not want);
* ``run_deployment`` creates a run through the API and polls it.

Services can be switched on with ``PrefectServer(services=True)`` for tests that need
them (scheduler, late runs, event persister, triggers, ...); startup is then slower and
noisier.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import httpx
import pytest

HOST = "127.0.0.1"
FixtureScope = Literal["session", "package", "module", "class", "function"]
# Settings a client process gets in addition to the API URL: no telemetry (Prefect 3.9's
# prints "database is locked" tracebacks otherwise), quiet logs.
CLIENT_SETTINGS: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


class PrefectServerError(RuntimeError):
    """The server did not start (its log is part of the message)."""


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def without_prefect_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any ``PREFECT_*`` variable (a developer's API URL, key, profile)."""
    return {k: v for k, v in environ.items() if not k.upper().startswith("PREFECT_")}


def terminate_process_group(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """Stop ``process`` and everything in its process group: SIGTERM, then SIGKILL.

    ``process`` must have been started with ``start_new_session=True`` (it leads its group).
    Never waits longer than about ``grace_seconds`` + 5 s.
    """
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5.0)
    # Children that outlived the leader (e.g. a flow-run subprocess of a runner).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _prefect_executable() -> list[str]:
    """The ``prefect`` command of the running interpreter."""
    return [sys.executable, "-m", "prefect"]


def _template_key() -> str:
    import prefect

    version = getattr(prefect, "__version__", "unknown")
    return f"prefect-{version}-{sys.version_info.major}.{sys.version_info.minor}.db"


class PrefectServer:
    """A ``prefect server start`` process with its own home, database, port and log.

    Args:
        root: Directory for the server's files (created if missing). Default: a new
            temporary directory, removed on stop.
        port: Port on 127.0.0.1. Default: a free one (retried if taken at startup).
        services: Run the server's background services (scheduler, late runs, event
            persister, ...). Default: only the API (``--no-services``).
        startup_timeout: Seconds to wait for ``/api/health`` to answer 200.
        stop_timeout: Seconds between SIGTERM and SIGKILL on stop.
        db_template_dir: Where to keep a migrated, empty database to copy from (keyed by
            the Prefect and Python version). Creating the schema from scratch costs ~8 s of
            the ~15 s startup; a copy of the template brings it to ~7 s. ``None``: migrate.
        extra_env: More environment variables for the server process.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        port: int | None = None,
        services: bool = False,
        startup_timeout: float = 90.0,
        stop_timeout: float = 5.0,
        db_template_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="prefect-server-")) if root is None else root
        self._fixed_port = port
        self.port = port or 0
        self.services = services
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.db_template_dir = db_template_dir
        self.extra_env = dict(extra_env or {})
        self.server_home = self.root / "server-home"
        self.client_home = self.root / "client-home"
        self.database_path = self.root / "prefect.db"
        self.log_path = self.root / "server.log"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.last_pid: int | None = None  # of the latest server process, even once stopped

    # -- addresses and environments -------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """What ``PREFECT_API_URL`` must be, e.g. ``http://127.0.0.1:41234/api``."""
        return f"{self.url}/api"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def env(self) -> dict[str, str]:
        """The variables a client process needs to talk to this server, and only to it."""
        return {
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(self.client_home),
            "PREFECT_PROFILES_PATH": str(self.client_home / "profiles.toml"),
            **CLIENT_SETTINGS,
        }

    def subprocess_env(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """A whole environment for a child process: ``base`` (default ``os.environ``) without
        its ``PREFECT_*`` variables, plus :meth:`env`, plus ``extra``."""
        return {
            **without_prefect_settings(os.environ if base is None else base),
            **self.env(),
            **extra,
        }

    def server_env(self) -> dict[str, str]:
        return {
            **without_prefect_settings(os.environ),
            "PREFECT_HOME": str(self.server_home),
            "PREFECT_PROFILES_PATH": str(self.server_home / "profiles.toml"),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.database_path}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    @contextlib.contextmanager
    def client_settings(self) -> Iterator[None]:
        """Point this process's Prefect client at the server while inside the block.

        On exit, Prefect's background workers (logs, events, concurrency-slot acquirers)
        are drained, so that none of them keeps a client bound to this server.
        """
        from prefect.settings import (
            PREFECT_API_AUTH_STRING,
            PREFECT_API_KEY,
            PREFECT_API_URL,
            temporary_settings,
        )

        try:
            with temporary_settings(
                updates={PREFECT_API_URL: self.api_url},
                restore_defaults={PREFECT_API_KEY, PREFECT_API_AUTH_STRING},
            ):
                yield
        finally:
            drain_prefect_workers()

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("the server is already running")
        for folder in (self.root, self.server_home, self.client_home):
            folder.mkdir(parents=True, exist_ok=True)
        self._copy_db_template()
        started = time.monotonic()
        attempts = 1 if self._fixed_port else 3
        for attempt in range(1, attempts + 1):
            self.port = self._fixed_port or free_port()
            self._process = self._spawn()
            try:
                self._wait_until_healthy()
            except PrefectServerError:
                log = self.log_text()
                self._terminate()
                if attempt < attempts and "already in use" in log:
                    continue
                raise
            break
        self.startup_seconds = time.monotonic() - started
        self._save_db_template()
        return self

    def stop(self) -> None:
        """Stop the server and every process of its group; remove an own temporary root."""
        self._terminate()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            *_prefect_executable(),
            "server",
            "start",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--no-ui",
            "--analytics-off",
            "--log-level",
            "WARNING",
        ]
        if not self.services:
            command.append("--no-services")
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                cwd=self.root,  # no project prefect.toml / pyproject settings apply
                env=self.server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        self.last_pid = process.pid
        return process

    def _wait_until_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as http:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise PrefectServerError(
                        f"prefect server exited with code {code} before it was healthy; "
                        f"log {self.log_path}:\n{self.log_text()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.api_url}/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise PrefectServerError(
                        f"prefect server did not answer {self.api_url}/health within "
                        f"{self.startup_timeout:.0f} s; log {self.log_path}:\n{self.log_text()}"
                    )
                time.sleep(0.2)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate_process_group(process, self.stop_timeout)

    # -- database template ------------------------------------------------------------

    def _template_path(self) -> Path | None:
        if self.db_template_dir is None:
            return None
        return self.db_template_dir / _template_key()

    def _copy_db_template(self) -> None:
        template = self._template_path()
        if template is not None and template.exists() and not self.database_path.exists():
            shutil.copyfile(template, self.database_path)

    def _save_db_template(self) -> None:
        """Keep a consistent copy of the freshly migrated (still empty) database."""
        template = self._template_path()
        if template is None or template.exists():
            return
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
        source = sqlite3.connect(self.database_path)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        os.replace(partial, template)  # atomic: a concurrent session sees all or nothing


def drain_prefect_workers(timeout: float = 10.0) -> None:
    """Finish and stop Prefect's in-process background workers (API logs, events,
    concurrency-slot acquisition). They hold clients bound to the API URL of the moment
    they started; they start again on next use."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    # Both share one registry of instances: either drains all of them.
    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def prefect_server_fixture(
    *,
    scope: FixtureScope = "session",
    services: bool = False,
    startup_timeout: float = 90.0,
    use_db_template: bool = True,
    extra_env: Mapping[str, str] | None = None,
) -> Callable[..., Iterator[PrefectServer]]:
    """A pytest fixture (session-scoped by default) yielding a started :class:`PrefectServer`.

    Assign it to the name the tests ask for, in a ``conftest.py`` (shared by the tests
    below it) or in a test module::

        prefect_server = prefect_server_fixture()

    ``use_db_template`` keeps a migrated, empty database in pytest's cache directory
    (``.pytest_cache/d/prefect-server-db``) so that later sessions skip the migrations.
    """

    def fixture(
        tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
    ) -> Iterator[PrefectServer]:
        template_dir: Path | None = None
        cache: pytest.Cache | None = getattr(pytestconfig, "cache", None)  # -p no:cacheprovider
        if use_db_template and cache is not None:
            template_dir = cache.mkdir("prefect-server-db")
        with PrefectServer(
            tmp_path_factory.mktemp("prefect-server"),
            services=services,
            startup_timeout=startup_timeout,
            db_template_dir=template_dir,
            extra_env=extra_env,
        ) as server:
            yield server

    return pytest.fixture(scope=scope)(fixture)

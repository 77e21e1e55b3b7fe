"""A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary folder,
`pg_ctl start` on a free port of 127.0.0.1, password authentication for one user, and
`pg_ctl stop` at the end. PostgreSQL refuses to run as root, so under root the server runs as
the `postgres` system user (else `nobody`), owning only its own folder.

    with PostgresCluster(Path(tempfile.mkdtemp(prefix="pg-"))) as cluster:
        url = cluster.database()   # a new, empty database: postgresql://etl:...@127.0.0.1:port/db

The folder must be one the server's user can reach (not under a root-only 0700 folder such as
pytest's temporary root): a folder of its own under /tmp is.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

USER = "etl"


def server_binaries() -> Path:
    """Where initdb, pg_ctl and postgres are (Debian keeps them off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb): install Debian's postgresql package"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """A PostgreSQL server of its own, in `root`, until stopped."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self._bin = server_binaries()
        self._runas: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            account = "postgres" if _exists("postgres") else "nobody"
            self._runas = ["runuser", "-u", account, "--"]
            root.mkdir(parents=True, exist_ok=True)
            shutil.chown(root, user=account)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def start(self) -> Self:
        secret = self.root / "password"
        secret.write_text(self.password, encoding="utf-8")
        if self._runas:
            shutil.chown(secret, user=self._runas[2])
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(secret),
            "--auth=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip
        return self

    def database(self) -> str:
        """A new, empty database on the cluster: its URL (with the password)."""
        import psycopg

        name = f"db_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._runas, str(self._bin / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _exists(account: str) -> bool:
    try:
        pwd.getpwnam(account)
    except KeyError:
        return False
    return True

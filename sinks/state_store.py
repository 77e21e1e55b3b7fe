"""Where a load's state lives, chosen by URL: the run ledger, dead letters, open SOAP imports,
the log of upload requests, the shared pacer's next free slot, the attempts of the steps a
rerun replays, and the run locks.

- `sqlite:///path/ledger.sqlite3` (the default: `ledger.sqlite3` in the state folder) serves
  the processes of one machine; a run is locked with a file lock beside the database.
- `postgresql://user@host/db` (psycopg 3) serves every machine that points at it: a run is
  locked with a PostgreSQL advisory lock, held by a connection of its own and released when
  that connection ends (however the process ends).

One code path (SQLAlchemy Core) for both. The schema carries its version; migrations are
applied at start, one transaction each (on PostgreSQL under an advisory lock, so two machines
starting at once do not race). A store that cannot be reached or refuses the user is one line
naming the host, never the password.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from schemas.errors import SettingError

LEDGER_FILE = "ledger.sqlite3"
metadata = sa.MetaData()

# Version 1: the tables a ledger has always had (files written before versions keep them).
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("list_name", sa.Text, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("meta", sa.Text),
)
settled = sa.Table(
    "settled",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("row_code", sa.BigInteger, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("chunk", sa.Integer),
    sa.Column("at", sa.Double, nullable=False),
)
sends = sa.Table(
    "sends",
    metadata,
    sa.Column("credential", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("sends_by_credential", "credential", "at"),
)
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("list_name", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("row_code", sa.BigInteger, primary_key=True),
    sa.Column("source_file", sa.Text, nullable=False),
    sa.Column("source_line", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("bucket", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)
open_imports = sa.Table(
    "open_imports",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("identifier", sa.Text, primary_key=True),
    sa.Column("chunk", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("row_code", sa.BigInteger, nullable=False),
    sa.Column("source_file", sa.Text, nullable=False),
    sa.Column("source_line", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)
# Version 2: the shared pacer's next free send slot per credential (the store's clock).
pacer_slots = sa.Table(
    "pacer_slots",
    metadata,
    sa.Column("credential", sa.Text, primary_key=True),
    sa.Column("next_at", sa.Double, nullable=False),
)
# Version 3: the steps a rerun replays first (reading an open import's result), with the
# attempts each has begun and not ended, so a step that fails every time is set aside.
replays = sa.Table(
    "replays",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("step", sa.Text, primary_key=True),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)
schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)

MIGRATIONS: list[tuple[sa.Table, ...]] = [
    (runs, settled, sends, dead_letters, open_imports),
    (pacer_slots,),
    (replays,),
]
SCHEMA_VERSION = len(MIGRATIONS)
_MIGRATION_LOCK = 0x0C0E7A57  # the advisory lock held while a PostgreSQL store migrates


def state_url(url: str | None, state_dir: Path) -> str:
    """The store's URL: the one given, else the SQLite ledger in the state folder."""
    if url and url.strip():
        return url.strip()
    return f"sqlite:///{state_dir / LEDGER_FILE}"


def shown(url: str) -> str:
    """The URL as it may be shown: the password hidden, never printed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def without_password(url: str) -> str:
    """`url`, checked to carry no password: one given as a flow parameter or in a deployments
    file would show wherever they are shown (the Prefect UI among them)."""
    try:
        secret = make_url(url).password
    except ArgumentError:
        return url  # the store names what is wrong with it when it opens
    if secret:
        raise SettingError(
            "must not carry a password where it is shown (a flow's parameters, a deployments "
            "file): give it to the workers as PGPASSWORD, in ~/.pgpass, or as "
            "CONTACTS_STATE_URL",
            setting="state_url",
        )
    return url


class StateStore:
    """The store behind a URL: its engine, its dialect and the locks a run holds in it."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise SettingError(
                f"{shown(url)!r} is not a database URL (sqlite:///path or "
                "postgresql://user@host/db)",
                setting="state_url",
            ) from None
        self.dialect = parsed.get_backend_name()
        self._host = parsed.host or "localhost"
        self._locks: list[BinaryIO] = []
        self._lock_connections: list[Connection] = []
        if self.dialect == "sqlite":
            self.engine = self._sqlite(parsed)
        elif self.dialect == "postgresql":
            self.engine = sa.create_engine(
                parsed.set(drivername="postgresql+psycopg"),
                pool_pre_ping=True,
                connect_args={"connect_timeout": 10, "application_name": "contacts-etl"},
            )
        else:
            raise SettingError(
                f"{shown(url)!r}: only sqlite and postgresql stores are supported",
                setting="state_url",
            )
        self.shared = self.dialect == "postgresql"
        """Whether processes on other machines can share it."""
        self._migrate()

    def _sqlite(self, parsed: sa.URL) -> Engine:
        path = Path(parsed.database or "")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SettingError(
                f"{path.parent}: cannot keep the run ledger there ({error.strerror})",
                setting="state_dir",
            ) from None
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _connected(dbapi: Any, _: object) -> None:
            dbapi.isolation_level = None  # SQLAlchemy says when a transaction begins
            dbapi.execute("PRAGMA journal_mode=WAL")
            dbapi.execute("PRAGMA synchronous=FULL")

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # A writer takes the database at once: no upgrade from a read lock that deadlocks.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION (each step in its own transaction)."""
        with self.transaction() as connection:
            if self.dialect == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            names = set(sa.inspect(connection).get_table_names())
            if "schema_version" in names:
                found = connection.execute(sa.select(schema_version.c.version)).scalar()
                version = int(found or 0)
            else:
                schema_version.create(connection)
                # A ledger written before versions has the version-1 tables: keep them.
                version = 1 if "runs" in names else 0
                connection.execute(sa.insert(schema_version).values(version=version))
            if version > SCHEMA_VERSION:
                raise SettingError(
                    f"{shown(self.url)}: written by a newer contacts-etl (schema version "
                    f"{version}; this one knows {SCHEMA_VERSION}); upgrade it",
                    setting="state_url",
                )
            for step in range(version, SCHEMA_VERSION):
                for table in MIGRATIONS[step]:
                    table.create(connection, checkfirst=True)
                connection.execute(sa.update(schema_version).values(version=step + 1))

    def transaction(self) -> _Transaction:
        """A connection in one transaction, committed on success; a store that cannot be
        reached or refuses the user is one line naming the host."""
        return _Transaction(self)

    def refused(self, error: SQLAlchemyError) -> SettingError:
        """A store error as one line: which host, and the database's own reason, with any
        password in it hidden."""
        cause = getattr(error, "orig", None) or error
        reason = " ".join(str(cause).split()).split(" DETAIL:")[0]
        password = make_url(self.url).password
        if password:
            reason = reason.replace(str(password), "***")
        where = shown(self.url) if self.dialect == "sqlite" else f"host {self._host}"
        return SettingError(
            f"the state store at {where} cannot be used: {reason[:300]}", setting="state_url"
        )

    def lock(self, name: str, folder: Path | None) -> bool:
        """Hold `name` for this process until `close` (or until the process ends, however
        it ends); False when another process holds it."""
        if self.dialect == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            try:
                connection = self.engine.connect()
                held = connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar()
                connection.commit()
            except OperationalError as error:
                raise self.refused(error) from None
            if not held:
                connection.close()
                return False
            self._lock_connections.append(connection)
            return True
        assert folder is not None
        try:
            folder.mkdir(exist_ok=True)
            handle = (folder / f"{name}.lock").open("ab")
        except OSError as error:
            raise SettingError(
                f"{folder}: cannot lock the run ({error.strerror})", setting="state_dir"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._locks.append(handle)
        return True

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (it knows ON CONFLICT on either)."""
        dialect: Any = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    def upsert(self, table: sa.Table, keys: list[str]) -> Any:
        """An INSERT that replaces the row with the same `keys` (either dialect)."""
        statement = self.insert(table)
        changed = {c.name: statement.excluded[c.name] for c in table.c if c.name not in keys}
        return statement.on_conflict_do_update(index_elements=keys, set_=changed)

    def clock(self) -> sa.ColumnElement[float]:
        """The store's clock, in seconds since the epoch: one clock for every machine."""
        if self.dialect == "postgresql":
            return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Double)
        return (sa.func.julianday("now") - 2440587.5) * 86400.0

    def greatest(self, *values: Any) -> sa.ColumnElement[float]:
        """The larger of `values` (GREATEST on PostgreSQL, the scalar MAX on SQLite)."""
        if self.dialect == "postgresql":
            return sa.func.greatest(*values)
        return sa.func.max(*values)

    def close(self) -> None:
        for handle in self._locks:
            handle.close()  # releases its lock
        for connection in self._lock_connections:
            connection.close()  # ends the session: its advisory locks go with it
        self._locks, self._lock_connections = [], []
        self.engine.dispose()


class _Transaction:
    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._context: Any = None

    def __enter__(self) -> Connection:
        try:
            self._context = self._store.engine.begin()
            connection: Connection = self._context.__enter__()
        except OperationalError as error:
            raise self._store.refused(error) from None
        return connection

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            self._context.__exit__(kind, error, trace)
        except OperationalError as failed:
            raise self._store.refused(failed) from None
        if isinstance(error, OperationalError):  # the store went away, or refused the user
            raise self._store.refused(error) from None

"""The run ledger: what each run has settled with Five9, kept so a rerun never sends a row twice.

A run's identity is a hash of the sources' content, the list, the target and every setting that
changes the payload. Each chunk's outcome is written in one SQLite transaction right after
Five9's 2xx answer and before the next step, so a crash loses at most the chunks in flight
(which a rerun sends again: Five9 matches them on their keys). Rows are identified by their
source (its position in the run) and line, so chunk boundaries may differ between attempts.

The ledger also keeps when the last upload requests left, per credential, so a rerun right
after a crash starts its pacer where the crashed run stopped instead of from an empty window,
and a dead-letter store of rows Five9 rejected or the run gave up on, for `contacts-etl retry`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import platformdirs

from schemas.errors import SettingError
from sinks.letters import DeadLetter, field_path

# Request times are kept this long: Five9's longest limit (SOAP calls a day), with room.
SENDS_KEPT_SECONDS = 2 * 86400
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, list_name TEXT NOT NULL, started_at REAL NOT NULL, meta TEXT
);
CREATE TABLE IF NOT EXISTS settled (
    run_id TEXT NOT NULL, row_code INTEGER NOT NULL, status TEXT NOT NULL, chunk INTEGER,
    at REAL NOT NULL, PRIMARY KEY (run_id, row_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sends (credential TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sends_by_credential ON sends (credential, at);
CREATE TABLE IF NOT EXISTS dead_letters (
    list_name TEXT NOT NULL, run_id TEXT NOT NULL, row_code INTEGER NOT NULL,
    source_file TEXT NOT NULL, source_line INTEGER NOT NULL, payload TEXT NOT NULL,
    bucket TEXT NOT NULL, error TEXT NOT NULL, http_status INTEGER, attempts INTEGER NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (list_name, run_id, row_code)
);
CREATE TABLE IF NOT EXISTS open_imports (
    run_id TEXT NOT NULL, identifier TEXT NOT NULL, chunk INTEGER NOT NULL,
    position INTEGER NOT NULL, row_code INTEGER NOT NULL, source_file TEXT NOT NULL,
    source_line INTEGER NOT NULL, payload TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (run_id, identifier, position)
) WITHOUT ROWID;
"""


def default_state_dir() -> Path:
    """Where ledgers live unless a state folder is given: CONTACTS_STATE_DIR, else the
    user's data directory (never the current folder)."""
    configured = os.environ.get("CONTACTS_STATE_DIR")
    if configured:
        return Path(configured)
    return Path(platformdirs.user_data_dir("contacts-etl", appauthor=False)) / "state"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def run_identity(source_digests: Sequence[str], **settings: Any) -> str:
    """A run's identity: the sources' content and every setting that changes the payload."""
    material = json.dumps(
        {"sources": list(source_digests), **settings}, sort_keys=True, default=str
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class OpenImport:
    """A SOAP import Five9 took (it gave an identifier) whose result this run has not read:
    its rows, in the order sent (Five9's troubles name rows by that position)."""

    identifier: str
    chunk: int
    rows: list[DeadLetter]


class RunLedger:
    """SQLite in the state directory; every write is its own committed transaction."""

    def __init__(self, state_dir: Path | None = None) -> None:
        directory = state_dir or default_state_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                directory / "ledger.sqlite3", timeout=30, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise SettingError(
                f"{directory}: cannot keep the run ledger there ({error})", setting="state_dir"
            ) from None
        self.path = directory / "ledger.sqlite3"
        self._locks: list[BinaryIO] = []
        self._letters_index: dict[
            tuple[str, str, tuple[str, ...]], dict[tuple[str, ...], list[tuple[str, int]]]
        ] = {}

    def close(self) -> None:
        for handle in self._locks:
            handle.close()  # releases its lock
        self._locks = []
        self._db.close()

    def lock(self, run_id: str) -> None:
        """Hold the run for this process until `close` (or the process ends, however it ends):
        two attempts of one run at once would each send every row the other has not recorded
        yet. SettingError when another process holds it."""
        folder = self.path.parent / "locks"
        try:
            folder.mkdir(exist_ok=True)
            handle = (folder / f"{run_id}.lock").open("ab")
        except OSError as error:
            raise SettingError(
                f"{folder}: cannot lock the run ({error})", setting="state_dir"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SettingError(
                f"run {run_id} (the same sources, list and settings) is already under way in "
                "another process; let it finish, or stop it and run this again"
            ) from None
        self._locks.append(handle)

    def begin(self, run_id: str, list_name: str, meta: dict[str, Any]) -> bool:
        """Record the run; True when it is new, False when this is a rerun of it."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?)",
            (run_id, list_name, time.time(), json.dumps(meta, default=str)),
        )
        return cursor.rowcount == 1

    def forget(self, run_id: str) -> None:
        """A restart: drop what the ledger knows of this run (its dead letters stay)."""
        with self._transaction():
            self._db.execute("DELETE FROM settled WHERE run_id = ?", (run_id,))

    def has_settled(self, run_id: str) -> bool:
        """Whether an attempt of the run has settled any row."""
        found = self._db.execute(
            "SELECT 1 FROM settled WHERE run_id = ? LIMIT 1", (run_id,)
        ).fetchone()
        return found is not None

    def settled_codes(self, run_id: str, status: str) -> npt.NDArray[np.int64]:
        """The rows of the run already settled with `status` ('delivered' or 'rejected')."""
        rows = self._db.execute(
            "SELECT row_code FROM settled WHERE run_id = ? AND status = ?", (run_id, status)
        ).fetchall()
        return np.array([code for (code,) in rows], dtype=np.int64)

    def record_chunk(
        self,
        run_id: str,
        chunk: int,
        delivered: Iterable[int],
        rejected: Iterable[int] = (),
    ) -> None:
        """A chunk's outcome after Five9's 2xx, in one transaction."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO settled VALUES (?, ?, 'delivered', ?, ?)",
                ((run_id, int(code), chunk, now) for code in delivered),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO settled VALUES (?, ?, 'rejected', ?, ?)",
                ((run_id, int(code), chunk, now) for code in rejected),
            )

    def record_send(self, credential: str, at: float) -> None:
        """An upload request left at wall-clock time `at`."""
        self._db.execute("INSERT INTO sends VALUES (?, ?)", (credential, at))

    def recent_sends(self, credential: str, window: float) -> list[float]:
        """Wall-clock times of the credential's upload requests within the last `window` s."""
        since = time.time() - window
        self._db.execute("DELETE FROM sends WHERE at < ?", (time.time() - SENDS_KEPT_SECONDS,))
        rows = self._db.execute(
            "SELECT at FROM sends WHERE credential = ? AND at >= ? ORDER BY at",
            (credential, since),
        ).fetchall()
        return [at for (at,) in rows]

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        d.list_name, d.run_id, d.row_code, d.source_file, d.source_line,
                        json.dumps(d.payload), d.bucket, d.error, d.http_status, d.attempts,
                        time.time(),
                    )
                    for d in letters
                ),
            )  # fmt: skip

    def dead_letters(self, list_name: str) -> list[DeadLetter]:
        rows = self._db.execute(
            "SELECT list_name, run_id, row_code, source_file, source_line, payload, bucket, "
            "error, http_status, attempts FROM dead_letters WHERE list_name = ? "
            "ORDER BY run_id, row_code",
            (list_name,),
        ).fetchall()
        return [
            DeadLetter(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8], r[9])
            for r in rows
        ]

    def remove_dead_letters(self, list_name: str, keys: Iterable[tuple[str, int]]) -> None:
        """Rows that landed on a later attempt leave the dead-letter store."""
        with self._transaction():
            self._db.executemany(
                "DELETE FROM dead_letters WHERE list_name = ? AND run_id = ? AND row_code = ?",
                ((list_name, run_id, int(code)) for run_id, code in keys),
            )

    def drop_superseded(
        self, list_name: str, run_id: str, fields: Sequence[str], keys: Sequence[Sequence[str]]
    ) -> None:
        """Dead letters of other runs on the list for records a later run just delivered (by
        their key `fields`): replaying one would put an older payload, and window, back."""
        if not keys or not fields:
            return
        index = self._letters_by_key(list_name, run_id, tuple(fields))
        gone = [letter for key in keys for letter in index.pop(tuple(map(str, key)), ())]
        if gone:
            self.remove_dead_letters(list_name, gone)

    def _letters_by_key(
        self, list_name: str, run_id: str, fields: tuple[str, ...]
    ) -> dict[tuple[str, ...], list[tuple[str, int]]]:
        """Other runs' dead letters on the list by their values of `fields`, read once per run
        (so a chunk costs its own rows, not a scan of the store). Letters another run adds
        while this one is under way are not in it."""
        known = self._letters_index.get((list_name, run_id, fields))
        if known is not None:
            return known
        values = ", ".join("json_extract(payload, ?)" for _ in fields)  # letters' payloads
        older = self._db.execute(
            f"SELECT run_id, row_code, {values} FROM dead_letters "
            "WHERE list_name = ? AND run_id != ?",
            (*(field_path(name) for name in fields), list_name, run_id),
        )
        index: dict[tuple[str, ...], list[tuple[str, int]]] = {}
        for run, code, *key in older:
            index.setdefault(tuple(map(str, key)), []).append((run, code))
        self._letters_index[(list_name, run_id, fields)] = index
        return index

    def open_import(self, identifier: str, chunk: int, rows: Sequence[DeadLetter]) -> None:
        """An import Five9 took, before its result is read: a rerun reads that result rather
        than sending the rows again."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO open_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        row.run_id, identifier, chunk, position, row.row_code, row.source_file,
                        row.source_line, json.dumps(row.payload), now,
                    )
                    for position, row in enumerate(rows)
                ),
            )  # fmt: skip

    def close_import(self, run_id: str, identifier: str) -> None:
        """The import's result is read and its rows settled (or failed)."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM open_imports WHERE run_id = ? AND identifier = ?",
                (run_id, identifier),
            )

    def open_imports(self, run_id: str, list_name: str) -> list[OpenImport]:
        """The run's imports whose results an earlier attempt did not read."""
        rows = self._db.execute(
            "SELECT identifier, chunk, row_code, source_file, source_line, payload "
            "FROM open_imports WHERE run_id = ? ORDER BY identifier, position",
            (run_id,),
        ).fetchall()
        imports: dict[str, OpenImport] = {}
        for identifier, chunk, code, source_file, line, payload in rows:
            held = imports.setdefault(identifier, OpenImport(identifier, chunk, []))
            held.rows.append(
                DeadLetter(
                    list_name, run_id, code, source_file, line, json.loads(payload),
                    bucket="importing", error="", http_status=None, attempts=1,
                )
            )  # fmt: skip
        return list(imports.values())

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")

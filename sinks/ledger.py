"""The run ledger: what each run has settled with Five9, kept so a rerun never sends a row twice.

A run's identity is a hash of the sources' content, the list, the target and every setting that
changes the payload. Each chunk's outcome is written in one transaction right after Five9 took
it and before the next step, so a crash loses at most the chunks in flight (which a rerun sends
again: Five9 matches them on their keys). Rows are identified by their source (its position in
the run) and line, so chunk boundaries may differ between attempts.

The ledger also keeps when the upload requests left, per credential (the SOAP budgets count
them), the shared pacer's next free send slot per credential, the attempts of each step a rerun
replays first (so one that fails every time is set aside), a dead-letter store of rows Five9
rejected or the run gave up on (for `contacts-etl retry`), and the SOAP imports whose results
are not read yet. It lives in a state store (`sinks.state_store`): SQLite on one machine, or
PostgreSQL shared by every machine that loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import platformdirs
import sqlalchemy as sa

from schemas.errors import SettingError
from sinks.letters import DeadLetter, record_key
from sinks.state_store import (
    StateStore,
    dead_letters,
    open_imports,
    pacer_slots,
    replays,
    runs,
    sends,
    settled,
    state_url,
)

# Request times are kept this long: Five9's longest limit (SOAP calls a day), with room.
SENDS_KEPT_SECONDS = 2 * 86400


def default_state_dir() -> Path:
    """Where ledgers live unless a state folder is given: CONTACTS_STATE_DIR, else the
    user's data directory (never the current folder)."""
    configured = os.environ.get("CONTACTS_STATE_DIR")
    if configured:
        return Path(configured)
    return Path(platformdirs.user_data_dir("contacts-etl", appauthor=False)) / "state"


def default_state_url() -> str | None:
    """The store every load uses unless told otherwise: CONTACTS_STATE_URL, when set."""
    return os.environ.get("CONTACTS_STATE_URL") or None


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
    """A run ledger in a state store; every write is its own committed transaction."""

    def __init__(self, state_dir: Path | None = None, url: str | None = None) -> None:
        """The store at `url` (else CONTACTS_STATE_URL, else the SQLite ledger in `state_dir`
        or the default state folder)."""
        self.state_dir = state_dir or default_state_dir()
        self.store = StateStore(state_url(url or default_state_url(), self.state_dir))
        self._letters_index: dict[
            tuple[str, str, tuple[str, ...]], dict[tuple[str, ...], list[tuple[str, int]]]
        ] = {}

    @property
    def shared(self) -> bool:
        """Whether runs on other machines see this ledger (a PostgreSQL store)."""
        return self.store.shared

    def close(self) -> None:
        self.store.close()  # releases the run locks too

    def lock(self, run_id: str) -> None:
        """Hold the run for this process until `close` (or the process ends, however it ends):
        two attempts of one run at once would each send every row the other has not recorded
        yet. SettingError when another process holds it (on a shared store, on any machine)."""
        if not self.store.lock(f"run:{run_id}", self.state_dir / "locks"):
            where = "on a machine that shares this state store" if self.shared else "here"
            raise SettingError(
                f"run {run_id} (the same sources, list and settings) is already under way "
                f"{where}, in another process; let it finish, or stop it and run this again"
            )

    def begin(self, run_id: str, list_name: str, meta: dict[str, Any]) -> bool:
        """Record the run; True when it is new, False when this is a rerun of it."""
        with self.store.transaction() as db:
            known = db.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first()
            if known is not None:
                return False
            db.execute(
                sa.insert(runs).values(
                    run_id=run_id,
                    list_name=list_name,
                    started_at=time.time(),
                    meta=json.dumps(meta, default=str),
                )
            )
            return True

    def forget(self, run_id: str) -> None:
        """A restart: drop what the ledger knows of this run (its dead letters stay)."""
        with self.store.transaction() as db:
            db.execute(sa.delete(settled).where(settled.c.run_id == run_id))

    def has_settled(self, run_id: str) -> bool:
        """Whether an attempt of the run has settled any row."""
        with self.store.transaction() as db:
            found = db.execute(
                sa.select(settled.c.row_code).where(settled.c.run_id == run_id).limit(1)
            ).first()
        return found is not None

    def settled_codes(self, run_id: str, status: str) -> npt.NDArray[np.int64]:
        """The rows of the run already settled with `status` ('delivered' or 'rejected')."""
        with self.store.transaction() as db:
            rows = db.execute(
                sa.select(settled.c.row_code).where(
                    settled.c.run_id == run_id, settled.c.status == status
                )
            ).scalars()
            return np.fromiter(rows, dtype=np.int64)

    def record_chunk(
        self,
        run_id: str,
        chunk: int,
        delivered: Iterable[int],
        rejected: Iterable[int] = (),
        failed: Iterable[int] = (),
    ) -> None:
        """A chunk's outcome after Five9 took it, in one transaction (`failed`: rows set aside
        for good, which reruns count as failed instead of sending)."""
        now = time.time()
        outcomes = (("delivered", delivered), ("rejected", rejected), ("failed", failed))
        rows = [
            {"run_id": run_id, "row_code": int(code), "status": status, "chunk": chunk, "at": now}
            for status, codes in outcomes
            for code in codes
        ]
        if rows:
            with self.store.transaction() as db:
                db.execute(self.store.upsert(settled, ["run_id", "row_code"]), rows)

    def record_send(self, credential: str, at: float) -> None:
        """An upload request left at wall-clock time `at`."""
        with self.store.transaction() as db:
            db.execute(sa.insert(sends).values(credential=credential, at=at))

    def recent_sends(self, credential: str, window: float) -> list[float]:
        """Wall-clock times of the credential's upload requests within the last `window` s."""
        now = time.time()
        with self.store.transaction() as db:
            db.execute(sa.delete(sends).where(sends.c.at < now - SENDS_KEPT_SECONDS))
            found = db.execute(
                sa.select(sends.c.at)
                .where(sends.c.credential == credential, sends.c.at >= now - window)
                .order_by(sends.c.at)
            ).scalars()
            return [float(at) for at in found]

    def reserve_slot(self, credential: str, interval: float) -> float:
        """The shared pacer: reserve the credential's next free send slot (at least
        `interval` after the one before, on the store's clock, whoever took it) in one atomic
        statement; the seconds to wait for it."""
        now = self.store.clock()
        reserve = self.store.insert(pacer_slots).values(
            credential=credential, next_at=now + interval
        )
        reserve = reserve.on_conflict_do_update(
            index_elements=["credential"],
            set_={"next_at": self.store.greatest(now, pacer_slots.c.next_at) + interval},
        ).returning(pacer_slots.c.next_at - interval - now)
        with self.store.transaction() as db:
            wait = db.execute(reserve).scalar_one()
        return max(float(wait), 0.0)

    def hold_slot(self, credential: str, seconds: float) -> None:
        """No send slot of the credential before `seconds` from now (Five9 said Retry-After)."""
        now = self.store.clock()
        hold = self.store.insert(pacer_slots).values(credential=credential, next_at=now + seconds)
        hold = hold.on_conflict_do_update(
            index_elements=["credential"],
            set_={"next_at": self.store.greatest(now + seconds, pacer_slots.c.next_at)},
        )
        with self.store.transaction() as db:
            db.execute(hold)

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        now = time.time()
        rows = [
            {
                "list_name": d.list_name,
                "run_id": d.run_id,
                "row_code": d.row_code,
                "source_file": d.source_file,
                "source_line": d.source_line,
                "payload": json.dumps(d.payload),
                "bucket": d.bucket,
                "error": d.error,
                "http_status": d.http_status,
                "attempts": d.attempts,
                "at": now,
            }
            for d in letters
        ]
        if rows:
            with self.store.transaction() as db:
                db.execute(
                    self.store.upsert(dead_letters, ["list_name", "run_id", "row_code"]), rows
                )

    def dead_letters(self, list_name: str) -> list[DeadLetter]:
        c = dead_letters.c
        query = (
            sa.select(
                c.list_name, c.run_id, c.row_code, c.source_file, c.source_line, c.payload,
                c.bucket, c.error, c.http_status, c.attempts,
            )
            .where(c.list_name == list_name)
            .order_by(c.run_id, c.row_code)
        )  # fmt: skip
        with self.store.transaction() as db:
            found = db.execute(query).all()
        return [
            DeadLetter(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8], r[9])
            for r in found
        ]

    def remove_dead_letters(self, list_name: str, keys: Iterable[tuple[str, int]]) -> None:
        """Rows that landed on a later attempt leave the dead-letter store."""
        rows = [{"list": list_name, "run": run_id, "code": int(code)} for run_id, code in keys]
        if not rows:
            return
        c = dead_letters.c
        statement = sa.delete(dead_letters).where(
            c.list_name == sa.bindparam("list"),
            c.run_id == sa.bindparam("run"),
            c.row_code == sa.bindparam("code"),
        )
        with self.store.transaction() as db:
            db.execute(statement, rows)

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
        c = dead_letters.c
        with self.store.transaction() as db:
            older = db.execute(
                sa.select(c.run_id, c.row_code, c.payload).where(
                    c.list_name == list_name, c.run_id != run_id
                )
            ).all()
        index: dict[tuple[str, ...], list[tuple[str, int]]] = {}
        for run, code, payload in older:
            key = record_key(json.loads(payload), fields)
            index.setdefault(key, []).append((run, code))
        self._letters_index[(list_name, run_id, fields)] = index
        return index

    def open_import(self, identifier: str, chunk: int, rows: Sequence[DeadLetter]) -> None:
        """An import Five9 took, before its result is read: a rerun reads that result rather
        than sending the rows again."""
        now = time.time()
        values = [
            {
                "run_id": row.run_id,
                "identifier": identifier,
                "chunk": chunk,
                "position": position,
                "row_code": row.row_code,
                "source_file": row.source_file,
                "source_line": row.source_line,
                "payload": json.dumps(row.payload),
                "at": now,
            }
            for position, row in enumerate(rows)
        ]
        if values:
            with self.store.transaction() as db:
                statement = self.store.upsert(open_imports, ["run_id", "identifier", "position"])
                db.execute(statement, values)

    def close_import(self, run_id: str, identifier: str) -> None:
        """The import's result is read and its rows settled (or failed)."""
        with self.store.transaction() as db:
            db.execute(
                sa.delete(open_imports).where(
                    open_imports.c.run_id == run_id, open_imports.c.identifier == identifier
                )
            )

    def open_imports(self, run_id: str, list_name: str) -> list[OpenImport]:
        """The run's imports whose results an earlier attempt did not read."""
        c = open_imports.c
        query = (
            sa.select(c.identifier, c.chunk, c.row_code, c.source_file, c.source_line, c.payload)
            .where(c.run_id == run_id)
            .order_by(c.identifier, c.position)
        )
        with self.store.transaction() as db:
            found = db.execute(query).all()
        imports: dict[str, OpenImport] = {}
        for identifier, chunk, code, source_file, line, payload in found:
            held = imports.setdefault(identifier, OpenImport(identifier, chunk, []))
            held.rows.append(
                DeadLetter(
                    list_name, run_id, code, source_file, line, json.loads(payload),
                    bucket="importing", error="", http_status=None, attempts=1,
                )
            )  # fmt: skip
        return list(imports.values())

    def begin_replay(self, run_id: str, steps: Sequence[str], *, by: int = 1) -> None:
        """An attempt at each of `steps` begins: counted, and committed, before it runs (so
        an attempt that ends the process, however, is counted too). `by=-1` takes back an
        attempt that was not the step's fault."""
        if not steps:
            return
        now = time.time()
        begin = self.store.insert(replays)
        begin = begin.on_conflict_do_update(
            index_elements=["run_id", "step"], set_={"tries": replays.c.tries + by, "at": now}
        )
        first = max(by, 0)
        rows = [
            {"run_id": run_id, "step": s, "tries": first, "error": "", "at": now} for s in steps
        ]
        with self.store.transaction() as db:
            db.execute(begin, rows)

    def replayed(self, run_id: str, steps: Sequence[str]) -> None:
        """`steps` ended (well or not, but knowingly): their attempts are forgotten."""
        if not steps:
            return
        statement = sa.delete(replays).where(
            replays.c.run_id == run_id, replays.c.step == sa.bindparam("done")
        )
        with self.store.transaction() as db:
            db.execute(statement, [{"done": step} for step in steps])

    def replay_attempts(self, run_id: str) -> dict[str, tuple[int, str]]:
        """The run's steps begun and never ended: attempts so far and the last error."""
        c = replays.c
        with self.store.transaction() as db:
            found = db.execute(sa.select(c.step, c.tries, c.error).where(c.run_id == run_id))
            return {step: (int(tries), error) for step, tries, error in found}

    def replays_failed(self, run_id: str, error: str) -> None:
        """The run stopped on `error` while these steps were under way: it is their last."""
        with self.store.transaction() as db:
            db.execute(sa.update(replays).where(replays.c.run_id == run_id).values(error=error))

    def copy_into(self, target: RunLedger) -> dict[str, int]:
        """Every run, settled row, dead letter, open import and recent request time of this
        ledger into `target` (rows it already holds are kept); rows copied per table."""
        copied = {}
        for table in (runs, settled, dead_letters, open_imports, sends, replays):
            with self.store.transaction() as db:
                rows = [dict(row) for row in db.execute(sa.select(table)).mappings()]
            if rows:
                keys = [column.name for column in table.primary_key.columns]
                statement = target.store.insert(table)
                if keys:
                    statement = statement.on_conflict_do_nothing(index_elements=keys)
                with target.store.transaction() as db:
                    db.execute(statement, rows)
            copied[table.name] = len(rows)
        return copied

"""A run's way from source files to contacts ready for Five9: read, normalise, expire, dedupe.

"The later row wins" needs the whole run before a key's winner is known, yet a load should
send its first contacts within a second or two. So a run is read twice, with bounded memory:

1. a census reads only the key fields and keeps an 8-byte hash per row: the keys held by more
   than one row are "contested";
2. the main pass reads, validates and normalises batch by batch, sets aside invalid and
   expired rows, and hands out at once every row whose key is not contested. Rows of a
   contested key wait (Arrow tables in memory up to HELD_FILE_ROWS of them, then Arrow files
   in a work folder); at the end the later valid row of each key wins and the others are set
   aside as duplicates.

Every row read ends in exactly one bucket:
`rows_read == valid + invalid + expired + duplicate + already_delivered + rejected_by_five9`
(+ `failed`: rows an earlier attempt set aside for good).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from contacts_etl.column_mapping import ColumnMapping
from schemas.buckets import Bucket, Tallied, Tally
from schemas.errors import SettingError
from schemas.fields import (
    CANONICAL_FIELDS,
    INTERNAL_FIELDS,
    SOURCE_FILE,
    SOURCE_LINE,
    STANDARD_FIELDS,
)
from sources import BatchRead, ContactSource, SourceBatch
from sources.row_identity import row_codes
from transforms.duplicates import (
    ContestedKeys,
    DuplicateFinder,
    KeyCensus,
    key_hashes,
    key_values,
)
from transforms.expiry import expired_rows, expiry_reason, late_reason
from transforms.instants import utc_ns
from transforms.normalise import (
    NormaliseOptions,
    census_keys,
    normalise_batch,
    reject_rows,
    rows_where,
)

ZONE = "_zone"
ROW_CODE = "_row_code"
SETTLED = "_settled"
DELIVERED, REJECTED, SET_ASIDE = 1, 2, 3
_ORIGINAL = "_original::"
_PRIVATE = (_ORIGINAL, ZONE, ROW_CODE, SETTLED)
FIRST_BATCH_ROWS = 2_000
# Rows of contested keys wait in memory up to this many, then go to disk that many to a file.
HELD_FILE_ROWS = 65_536
CENSUS_THREADS = 2
CENSUS_AHEAD = CENSUS_THREADS  # blocks read and not yet hashed, at most
# Blocks are parsed, validated and normalised in worker threads, this many blocks ahead of the
# one handed out (each at most ReadOptions.block_bytes of CSV held in memory).
PREPARE_THREADS = 2
PREPARE_AHEAD = 1
_Item = TypeVar("_Item")
_Done = TypeVar("_Done")


# The buckets the pipeline fills (the sink fills the others), in the order a preview shows.
PIPELINE_BUCKETS = (
    Bucket.INVALID,
    Bucket.EXPIRED,
    Bucket.DUPLICATE,
    Bucket.ALREADY_DELIVERED,
    Bucket.REJECTED_BY_FIVE9,
)


@dataclass
class RunCounts(Tallied):
    """How many rows went where: `valid` rows to send, the rest in a bucket of `tally`; they
    add up to `rows_read`."""

    rows_read: int = 0
    valid: int = 0
    tally: Tally = field(default_factory=Tally)

    def buckets(self) -> dict[str, int]:
        """'valid' and each bucket the pipeline fills, by name, without the total."""
        return {"valid": self.valid, **{b.value: self.tally[b] for b in PIPELINE_BUCKETS}}

    def balanced(self) -> bool:
        """True when every row read is in exactly one bucket."""
        return self.rows_read == self.valid + self.tally.total()


@dataclass(frozen=True)
class EarlierOutcomes:
    """Rows an earlier attempt of the same run settled with Five9 (from the run ledger)."""

    delivered: npt.NDArray[np.int64]
    rejected: npt.NDArray[np.int64]
    set_aside: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    """Rows of a step that failed on every attempt: failed, waiting as dead letters."""

    def status(self, codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """0 for rows still to send, DELIVERED, REJECTED or SET_ASIDE for rows settled
        before."""
        out = np.zeros(len(codes), dtype=np.int8)
        out[np.isin(codes, self.delivered)] = DELIVERED
        out[np.isin(codes, self.rejected)] = REJECTED
        out[np.isin(codes, self.set_aside)] = SET_ASIDE
        return out


# Why rows an earlier attempt settled without delivering them are not sent again.
_EARLIER_REASONS = {
    Bucket.REJECTED_BY_FIVE9: "Five9 rejected this row in an earlier attempt of this run; see "
    "`contacts-etl retry` for its message",
    Bucket.FAILED: "set aside by an earlier attempt of this run (a step that failed on every "
    "attempt); it waits as a dead letter: `contacts-etl retry` sends it once the cause is fixed",
}
NOTHING_EARLIER = EarlierOutcomes(np.zeros(0, np.int64), np.zeros(0, np.int64))


class RowsWriter(Protocol):
    """Where rows set aside go (a rejects file, say)."""

    def write(self, rows: pd.DataFrame) -> None: ...


@dataclass(frozen=True)
class ReadyBatch:
    """Contacts that would be sent (Five9 contract) and each one's time zone."""

    contacts: pd.DataFrame
    zones: pd.Series
    originals: pd.DataFrame
    codes: npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Parts:
    """A batch's live rows split by whether their key is contested: the rows to send now
    (`ready`), the rows to hold (staged, None: none), and for a resumed run the staged rows
    still to judge against earlier outcomes (`resumed`, in place of `ready`)."""

    ready: ReadyBatch | None
    held: _Held | None
    resumed: pd.DataFrame | None = None


@dataclass(frozen=True)
class _Held:
    """Staged rows of contested keys, with their keys and as the Arrow table they wait as
    (made in the worker thread, so the run's bookkeeping only files them)."""

    rows: pd.DataFrame
    keys: pa.Array
    table: pa.Table

    @classmethod
    def of(cls, rows: pd.DataFrame, keys: tuple[str, ...]) -> _Held:
        """`rows` with their keys and their table."""
        return cls(rows, key_values(rows, keys), pa.Table.from_pandas(rows, preserve_index=False))


@dataclass(frozen=True)
class _Prepared:
    """One batch as a worker thread leaves it: read rows (`frame`), rows set aside as invalid
    and as expired (None: none), and its live rows parted by contested key."""

    frame: pd.DataFrame
    file_index: int
    invalid: pd.DataFrame
    expired: pd.DataFrame | None
    parts: _Parts


def original_columns(sources: list[ContactSource]) -> list[str]:
    """Every source's own column names, in order of first appearance."""
    seen: dict[str, None] = {}
    for source in sources:
        for name in source.columns:
            seen.setdefault(name, None)
    return list(seen)


def contact_columns(sources: list[ContactSource], mapping: ColumnMapping) -> list[str]:
    """The columns of the contacts that would be sent, over all sources, in a stable order."""
    mapped: dict[str, None] = {}
    for source in sources:
        renames = mapping.resolve(source.columns, str(source.location))
        for name in source.columns:
            mapped.setdefault(renames.get(name, name), None)
    standard = [name for name in STANDARD_FIELDS if name in mapped]
    custom = [name for name in mapped if name not in CANONICAL_FIELDS]
    return [SOURCE_FILE, SOURCE_LINE, *standard, *custom, "guard_start", "guard_end"]


class ContactPipeline:
    """A run's contacts, streamed: a light census of the keys first, then batch by batch."""

    def __init__(
        self,
        sources: list[ContactSource],
        mapping: ColumnMapping,
        options: NormaliseOptions,
        now: pd.Timestamp,
        workdir: Path,
        rejects: RowsWriter | None = None,
        on_rows_read: Callable[[int], None] | None = None,
        earlier: EarlierOutcomes = NOTHING_EARLIER,
        clock: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        """`clock`: the time rows of contested keys are judged at once the run is read (a
        load's clock runs on from `now`); `now` when not given."""
        self.sources = sources
        self.mapping = mapping
        self.options = replace(options, load_time=now)
        self.now = now
        self.counts = RunCounts()
        self.rows_in_run: int | None = None
        self._workdir = workdir
        self._rejects = rejects
        self._on_rows_read = on_rows_read
        self._earlier = earlier
        self._clock = clock or (lambda: now)
        self._contested: ContestedKeys | None = None
        self._held: list[Path | pa.Table] = []  # on disk, or (the last) still in memory
        self._pending: list[pa.Table] = []  # held rows not yet written
        self._pending_rows = 0
        self._waiting = 0  # held rows not yet judged
        self._finder = DuplicateFinder()
        self._origin_file: list[np.ndarray] = []
        self._origin_line: list[np.ndarray] = []
        self._held_ends: list[npt.NDArray[np.int64]] = []  # guard_end (UTC ns) of held rows
        self._held_settled: list[npt.NDArray[np.int8]] = []
        self._file_names = [str(source.location) for source in sources]
        self._renames = [mapping.resolve(s.columns, str(s.location)) for s in sources]
        for source, renames in zip(sources, self._renames, strict=True):
            mapped = {renames.get(name, name) for name in source.columns}
            missing = [key for key in options.keys if key not in mapped]
            if missing:
                raise SettingError(
                    f"{missing[0]!r}: {source.location} has no such column"
                    + (" (after the mapping)" if renames else ""),
                    setting="keys",
                )
        self.output_columns = contact_columns(sources, mapping)

    def settled_before(self, earlier: EarlierOutcomes) -> None:
        """Rows earlier attempts of this run settled (known once Five9 was asked), before the
        main pass: they are counted, not sent."""
        self._earlier = earlier

    @property
    def set_aside(self) -> int:
        """Rows settled without being sent so far (invalid, expired, duplicate, settled before)."""
        return self.counts.rows_read - self.counts.valid - self._waiting

    def _set_aside(self, rows: pd.DataFrame, bucket: Bucket) -> None:
        self.counts.tally.add(bucket, len(rows))
        if self._rejects is not None:
            self._rejects.write(rows)

    def census(self) -> int:
        """Read only the key fields of every source: which keys more than one row holds.

        A row whose key no other row holds is sent as soon as it is valid; rows of a contested
        key wait for the end of the run, where the later valid row wins. Returns the rows."""
        census = KeyCensus()
        rows = 0
        # Blocks are read in order here; each is parsed, its keys normalised and hashed in a
        # worker thread (Arrow and NumPy kernels, mostly outside the GIL). Order does not matter.
        with ThreadPoolExecutor(max_workers=CENSUS_THREADS) as workers:
            pending: deque[Future[tuple[int, list[npt.NDArray[np.uint64]]]]] = deque()

            def take_one() -> int:
                read, hashes = pending.popleft().result()
                for part in hashes:
                    census.add(part)
                return read

            for source, renames in zip(self.sources, self._renames, strict=True):
                back = {renames.get(c, c): c for c in source.columns}
                wanted = [back[k] for k in self.options.keys if k in back]
                for read in source.reads(wanted):
                    pending.append(workers.submit(self._census_hashes, read, renames))
                    if len(pending) > CENSUS_AHEAD:
                        rows += take_one()
            while pending:
                rows += take_one()
        self._contested = census.contested()
        self.rows_in_run = rows
        return rows

    def _census_hashes(
        self, read: BatchRead, renames: dict[str, str]
    ) -> tuple[int, list[npt.NDArray[np.uint64]]]:
        """One block's rows, and the key hashes of each of its batches' rows that have a key."""
        rows, hashes = 0, []
        for batch in read():
            keys = census_keys(batch.frame.rename(columns=renames), self.options)
            known = keys.notna().all(axis=1).to_numpy()
            hashes.append(key_hashes(key_values(keys[known], self.options.keys)))
            rows += len(batch.frame)
        return rows, hashes

    def contacts(self) -> Iterator[ReadyBatch]:
        """The contacts to send, batch by batch as they are read; then, once the whole run is
        read, the winners among rows whose key is contested.

        Each batch is validated and normalised (`_prepare`: no run state) in worker threads,
        a few batches ahead of the one handed out; the run's bookkeeping (`_settle`) follows
        the file's order here."""
        if self._contested is None:
            self.census()
        batches = in_order_ahead(self._reads(), self._prepare, PREPARE_THREADS, PREPARE_AHEAD)
        try:
            for prepared in batches:
                for part in prepared:
                    ready = self._settle(part)
                    if ready is not None:
                        yield ready
        finally:
            batches.close()
        yield from self._held_winners()

    def _reads(self) -> Iterator[tuple[BatchRead, int]]:
        """Each block as read (parsed by whoever calls it), with its source's index. The run's
        first block is parsed here and its first batch cut small: the first upload need not
        wait for a whole block."""
        first = True
        for file_index, source in enumerate(self.sources):
            for read in source.reads():
                if first:
                    first = False
                    for batch in read():
                        frame = batch.frame
                        if len(frame) > FIRST_BATCH_ROWS:
                            yield _parsed(frame.iloc[:FIRST_BATCH_ROWS]), file_index
                            frame = frame.iloc[FIRST_BATCH_ROWS:]
                        yield _parsed(frame), file_index
                    continue
                yield read, file_index

    def _prepare(self, read: tuple[BatchRead, int]) -> list[_Prepared]:
        """A block parsed and each of its batches prepared (see `_prepared`)."""
        parse, file_index = read
        return [self._prepared(batch.frame, file_index) for batch in parse()]

    def _prepared(self, frame: pd.DataFrame, file_index: int) -> _Prepared:
        """A batch validated and normalised, its expired rows found and its live rows parted by
        contested key: nothing here changes the run's state, so it may run in a worker thread
        (the census is done by then)."""
        frame = frame.reset_index(drop=True)
        normalised = normalise_batch(frame, self._renames[file_index], self.options)
        contacts = normalised.contacts
        codes = row_codes(file_index, contacts[SOURCE_LINE].to_numpy(dtype=np.int64))
        # Rows an earlier attempt settled are not judged again, but still take part in the
        # duplicate check, so the row that won then wins now.
        settled = self._earlier.status(codes)
        expired = expired_rows(contacts, self.now) & (settled == 0)
        late = None
        if expired.any():
            rows = rows_where(contacts, expired)
            late = reject_rows(
                frame, frame.index.isin(rows.index), "expired", expiry_reason(rows, self.now)
            )
        live = rows_where(contacts, ~expired)
        return _Prepared(
            frame=frame,
            file_index=file_index,
            invalid=normalised.invalid,
            expired=late,
            parts=self._split(
                frame,
                live,
                rows_where(normalised.zones, ~expired).astype("str"),
                codes[~expired],
                settled[~expired],
            ),
        )

    def _split(
        self,
        frame: pd.DataFrame,
        live: pd.DataFrame,
        zones: pd.Series,
        codes: npt.NDArray[np.int64],
        settled: npt.NDArray[np.int8],
    ) -> _Parts:
        """A batch's live rows parted by whether their key is contested (see _Parts)."""
        assert self._contested is not None
        if live.empty:
            return _Parts(ready=None, held=None)
        held_rows = np.zeros(len(live), dtype=bool)
        if len(self._contested):
            held_rows = self._contested.holds(key_hashes(key_values(live, self.options.keys)))
        source_columns = [c for c in frame.columns if c not in INTERNAL_FIELDS]
        if settled.any():
            staged = _staged(live, zones, codes, settled, frame.loc[live.index, source_columns])
            held = None
            resumed = staged
            if held_rows.any():
                held = _Held.of(rows_where(staged, held_rows), self.options.keys)
                resumed = rows_where(staged, ~held_rows)
            return _Parts(ready=None, held=held, resumed=resumed.reset_index(drop=True))
        held = None
        shared: dict[int, Any] | None = None
        if held_rows.any():
            # Rows of contested keys wait for the end of the run; the rest leave now.
            staged = _staged(
                rows_where(live, held_rows),
                zones[held_rows],
                codes[held_rows],
                settled[held_rows],
                rows_where(frame[source_columns], _positions(live.index[held_rows], len(frame))),
            )
            held = _Held.of(staged, self.options.keys)
            # Contacts that are the source's values as they were (same Arrow arrays) are
            # filtered once for both frames when no row was set aside before.
            shared = {} if len(live) == len(frame) else None
            live, zones = rows_where(live, ~held_rows, shared), zones[~held_rows]
            codes = codes[~held_rows]
            if live.empty:
                return _Parts(ready=None, held=held)
        originals = frame[[SOURCE_FILE, SOURCE_LINE, *source_columns]]
        if len(live) != len(frame):
            # A mask, not a take: Arrow filters a column far faster than it takes rows by index.
            originals = rows_where(originals, _positions(live.index, len(frame)), shared)
        ready = ReadyBatch(contacts=live, zones=zones, originals=originals, codes=codes)
        return _Parts(ready=ready, held=held)

    def _settle(self, batch: _Prepared) -> ReadyBatch | None:
        """Set aside a prepared batch's invalid and expired rows, hold back the contested
        ones, and return the rest (less rows an earlier attempt settled)."""
        self.counts.rows_read += len(batch.frame)
        self._set_aside(batch.invalid, Bucket.INVALID)
        if batch.expired is not None:
            self._set_aside(batch.expired, Bucket.EXPIRED)
        if self._on_rows_read is not None:
            self._on_rows_read(len(batch.frame))
        parts = batch.parts
        if parts.held is not None:
            self._hold(parts.held, batch.file_index)
        if parts.resumed is not None:
            # A resumed run: rows an earlier attempt settled are counted, not sent.
            return self._ready(parts.resumed)
        if parts.ready is not None:
            self.counts.valid += len(parts.ready.contacts)
        return parts.ready

    def _hold(self, held: _Held, file_index: int) -> None:
        """Keep rows of contested keys until the whole run is read: in memory up to
        HELD_FILE_ROWS of them, then on disk, that many to a file."""
        rows = held.rows
        self._finder.add(held.keys)
        self._waiting += len(rows)
        self._origin_file.append(np.full(len(rows), file_index, dtype=np.int32))
        self._origin_line.append(rows[SOURCE_LINE].to_numpy(dtype=np.int64))
        self._held_ends.append(utc_ns(rows["guard_end"]))
        self._held_settled.append(rows[SETTLED].to_numpy(dtype=np.int8))
        self._pending.append(held.table)
        self._pending_rows += len(rows)
        if self._pending_rows >= HELD_FILE_ROWS:
            for table in _same_schema_runs(self._pending):
                path = self._workdir / f"held-{len(self._held):06d}.arrow"
                feather.write_feather(table, path, compression="lz4")
                self._held.append(path)
            self._pending, self._pending_rows = [], 0

    def _ready(self, rows: pd.DataFrame) -> ReadyBatch | None:
        """The rows still to send as a batch; None when none is."""
        kept = self._settled_earlier(rows) if rows[SETTLED].any() else rows
        if kept.empty:
            return None
        self.counts.valid += len(kept)
        return ReadyBatch(
            contacts=kept[[c for c in kept.columns if not c.startswith(_PRIVATE)]],
            zones=kept[ZONE],
            originals=_originals(kept),
            codes=kept[ROW_CODE].to_numpy(dtype=np.int64),
        )

    def _held_winners(self) -> Iterator[ReadyBatch]:
        """Rows of contested keys, read back: the later row of a key wins, the others are
        set aside as duplicates naming the winner. A window that has closed since it was
        staged is expired, and takes no part (so it hides no open row of its key)."""
        at = self._clock()
        ends = _joined(self._held_ends, np.int64)
        closed = (ends <= at.value) & (_joined(self._held_settled, np.int8) == 0)
        verdict = self._finder.verdict(taking=~closed)
        files = _joined(self._origin_file, np.int32)
        lines = _joined(self._origin_line, np.int64)
        self._held += _same_schema_runs(self._pending)
        self._pending, self._pending_rows = [], 0
        offset = 0
        for part in self._held:
            table = part if isinstance(part, pa.Table) else feather.read_table(part)
            held = table.to_pandas()
            size = len(held)
            rows = slice(offset, offset + size)
            duplicate, winner, late = verdict.duplicate[rows], verdict.winner[rows], closed[rows]
            offset += size
            self._waiting -= size
            if late.any():
                reason = late_reason(held.loc[late, "guard_end"], at)
                self._set_aside(
                    reject_rows(_originals(held), late, "expired", reason), Bucket.EXPIRED
                )
            if duplicate.any():
                self._set_aside_duplicates(held, duplicate, winner, files, lines)
            ready = self._ready(rows_where(held, ~duplicate & ~late).reset_index(drop=True))
            if isinstance(part, Path):
                part.unlink(missing_ok=True)
            if ready is not None:
                yield ready

    def _settled_earlier(self, kept: pd.DataFrame) -> pd.DataFrame:
        """Count rows an earlier attempt settled; return the rest, still to send."""
        status = kept[SETTLED].to_numpy()
        self.counts.tally.add(Bucket.ALREADY_DELIVERED, int((status == DELIVERED).sum()))
        for settled, bucket in ((REJECTED, Bucket.REJECTED_BY_FIVE9), (SET_ASIDE, Bucket.FAILED)):
            rows = status == settled
            if rows.any():
                reason = _EARLIER_REASONS[bucket]
                self._set_aside(reject_rows(_originals(kept), rows, bucket.value, reason), bucket)
        still: pd.DataFrame = kept[status == 0].reset_index(drop=True)
        return still

    def _set_aside_duplicates(
        self,
        staged: pd.DataFrame,
        duplicate: np.ndarray,
        winner: np.ndarray,
        files: np.ndarray,
        lines: np.ndarray,
    ) -> None:
        keys = " + ".join(self.options.keys)
        names = np.array(self._file_names, dtype=object)[files[winner[duplicate]]]
        reason = (
            f"duplicate: the later row with the same {keys} wins: "
            + pd.Series(names, dtype="str")
            + " line "
            + pd.Series(lines[winner[duplicate]], dtype="int64").astype("str")
        )
        frame = rows_where(_originals(staged), duplicate).reset_index(drop=True)
        self._set_aside(
            reject_rows(frame, np.ones(len(frame), dtype=bool), "duplicate", reason),
            Bucket.DUPLICATE,
        )


def _parsed(frame: pd.DataFrame) -> BatchRead:
    """A batch already parsed, as a read."""
    return partial(list, (SourceBatch(frame),))


def _positions(labels: pd.Index, rows: int) -> npt.NDArray[np.bool_]:
    """A mask of a batch's rows with these labels (its index is 0..rows-1: labels are
    positions)."""
    mask = np.zeros(rows, dtype=bool)
    mask[labels.to_numpy()] = True
    return mask


def _same_schema_runs(tables: list[pa.Table]) -> list[pa.Table]:
    """Consecutive tables joined into one wherever their columns agree (no copy)."""
    runs: list[list[pa.Table]] = []
    for table in tables:
        if runs and runs[-1][0].schema.equals(table.schema, check_metadata=False):
            runs[-1].append(table)
        else:
            runs.append([table])
    return [pa.concat_tables(run) for run in runs]


def _joined(parts: list[np.ndarray], dtype: type[np.generic]) -> np.ndarray:
    """Per-batch arrays end to end (empty when there are none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _staged(
    live: pd.DataFrame,
    zones: pd.Series,
    codes: npt.NDArray[np.int64],
    settled: npt.NDArray[np.int8],
    originals: pd.DataFrame,
) -> pd.DataFrame:
    """Contacts with their zone, row code, earlier outcome and the source's original values,
    as one frame (how rows wait for the end, and how a resumed run's rows are judged)."""
    extra = pd.DataFrame({ZONE: zones, ROW_CODE: codes, SETTLED: settled}, index=live.index)
    return pd.concat([live, extra, originals.add_prefix(_ORIGINAL)], axis=1)


def _originals(staged: pd.DataFrame) -> pd.DataFrame:
    """A staged batch's origin and the source's original values, under their own names."""
    own = [c for c in staged.columns if c.startswith(_ORIGINAL)]
    originals = staged[[SOURCE_FILE, SOURCE_LINE, *own]]
    originals.columns = [SOURCE_FILE, SOURCE_LINE, *(c.removeprefix(_ORIGINAL) for c in own)]
    return originals


def in_order_ahead(
    items: Iterator[_Item], work: Callable[[_Item], _Done], threads: int, ahead: int
) -> Generator[_Done, None, None]:
    """`work` on each item, in worker threads, handed out in the items' order; at most `ahead`
    items beyond the one handed out are taken (so memory stays bounded). An error raised by
    `items` is raised in its place: after the results of the items before it."""
    pending: deque[Future[_Done]] = deque()
    failure: Exception | None = None
    exhausted = False
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="contacts-batch") as pool:
        try:
            while True:
                while not exhausted and len(pending) <= ahead:
                    try:
                        pending.append(pool.submit(work, next(items)))
                    except StopIteration:
                        exhausted = True
                    except Exception as error:  # an unreadable file: after the rows before it
                        failure, exhausted = error, True
                if not pending:
                    break
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
    if failure is not None:
        raise failure

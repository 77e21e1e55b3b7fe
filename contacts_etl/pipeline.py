"""A run's way from source files to contacts ready for Five9: read, normalise, expire, dedupe.

Two passes with bounded memory. The first reads every source batch by batch, sets aside
invalid and expired rows, and stages the rest on disk (Arrow files in a work folder) while it
collects their keys. Only then is it known which row of a key comes last, so the second pass
reads the staged batches back and sets aside the duplicates. Every row read ends in exactly
one bucket: `rows_read == valid + invalid + expired + duplicate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.outputs import TableWriter
from schemas.fields import (
    CANONICAL_FIELDS,
    INTERNAL_FIELDS,
    SOURCE_FILE,
    SOURCE_LINE,
    STANDARD_FIELDS,
)
from sinks.ledger import row_codes
from sources import ContactSource
from transforms.duplicates import DuplicateFinder, key_values
from transforms.expiry import expired_rows, expiry_reason
from transforms.normalise import NormaliseOptions, normalise_batch, reject_rows

ZONE = "_zone"
ROW_CODE = "_row_code"
SETTLED = "_settled"
DELIVERED, REJECTED = 1, 2
_ORIGINAL = "_original::"
_PRIVATE = (_ORIGINAL, ZONE, ROW_CODE, SETTLED)


@dataclass
class RunCounts:
    """How many rows went where; the buckets add up to `rows_read`."""

    rows_read: int = 0
    valid: int = 0
    invalid: int = 0
    expired: int = 0
    duplicate: int = 0
    already_delivered: int = 0
    rejected_by_five9: int = 0

    def buckets(self) -> dict[str, int]:
        """Each bucket by name, without the total."""
        counts = asdict(self)
        counts.pop("rows_read")
        return counts

    def balanced(self) -> bool:
        """True when every row read is in exactly one bucket."""
        return self.rows_read == sum(self.buckets().values())


@dataclass(frozen=True)
class EarlierOutcomes:
    """Rows an earlier attempt of the same run settled with Five9 (from the run ledger)."""

    delivered: npt.NDArray[np.int64]
    rejected: npt.NDArray[np.int64]

    def status(self, codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """0 for rows still to send, DELIVERED or REJECTED for rows settled before."""
        out = np.zeros(len(codes), dtype=np.int8)
        out[np.isin(codes, self.delivered)] = DELIVERED
        out[np.isin(codes, self.rejected)] = REJECTED
        return out


NOTHING_EARLIER = EarlierOutcomes(np.zeros(0, np.int64), np.zeros(0, np.int64))


@dataclass(frozen=True)
class ReadyBatch:
    """Contacts that would be sent (Five9 contract) and each one's time zone."""

    contacts: pd.DataFrame
    zones: pd.Series
    originals: pd.DataFrame
    codes: npt.NDArray[np.int64]


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
        renames = mapping.resolve(source.columns, str(source.path))
        for name in source.columns:
            mapped.setdefault(renames.get(name, name), None)
    standard = [name for name in STANDARD_FIELDS if name in mapped]
    custom = [name for name in mapped if name not in CANONICAL_FIELDS]
    return [SOURCE_FILE, SOURCE_LINE, *standard, *custom, "guard_start", "guard_end"]


class ContactPipeline:
    """Stage a run's sources, then hand out the contacts that would be sent, batch by batch."""

    def __init__(
        self,
        sources: list[ContactSource],
        mapping: ColumnMapping,
        options: NormaliseOptions,
        now: pd.Timestamp,
        workdir: Path,
        rejects: TableWriter | None = None,
        on_rows_read: Callable[[int], None] | None = None,
        earlier: EarlierOutcomes = NOTHING_EARLIER,
    ) -> None:
        self.sources = sources
        self.mapping = mapping
        self.options = options
        self.now = now
        self.counts = RunCounts()
        self._workdir = workdir
        self._rejects = rejects
        self._on_rows_read = on_rows_read
        self._earlier = earlier
        self._staged: list[Path] = []
        self._finder = DuplicateFinder()
        self._verdict = self._finder.verdict()
        self._origin_file: list[np.ndarray] = []
        self._origin_line: list[np.ndarray] = []
        self._unsettled: list[np.ndarray] = []
        self._file_names: list[str] = []
        self.output_columns = contact_columns(sources, mapping)

    def _set_aside(self, rows: pd.DataFrame, bucket: str) -> None:
        setattr(self.counts, bucket, getattr(self.counts, bucket) + len(rows))
        if self._rejects is not None:
            self._rejects.write(rows)

    def stage(self) -> None:
        """First pass: read, normalise, set aside invalid and expired rows, stage the rest."""
        for file_index, source in enumerate(self.sources):
            self._file_names.append(str(source.path))
            renames = self.mapping.resolve(source.columns, str(source.path))
            for batch in source.batches():
                self._stage_batch(batch.frame, renames, file_index)
        self._verdict = self._finder.verdict()

    @property
    def to_send(self) -> int:
        """How many contacts this attempt will send (known once `stage` has run)."""
        unsettled = np.concatenate(self._unsettled) if self._unsettled else np.zeros(0, bool)
        return int((~self._verdict.duplicate & unsettled).sum())

    def _stage_batch(self, frame: pd.DataFrame, renames: dict[str, str], file_index: int) -> None:
        frame = frame.reset_index(drop=True)
        self.counts.rows_read += len(frame)
        normalised = normalise_batch(frame, renames, self.options)
        self._set_aside(normalised.invalid, "invalid")

        contacts = normalised.contacts
        codes = row_codes(file_index, contacts[SOURCE_LINE].to_numpy(dtype=np.int64))
        # Rows an earlier attempt settled are not judged again, but still take part in the
        # duplicate check, so the row that won then wins now.
        settled = self._earlier.status(codes)
        expired = expired_rows(contacts, self.now) & (settled == 0)
        if expired.any():
            late = contacts[expired]
            self._set_aside(
                reject_rows(
                    frame, frame.index.isin(late.index), "expired", expiry_reason(late, self.now)
                ),
                "expired",
            )
        live = contacts[~expired]
        codes, settled = codes[~expired], settled[~expired]
        if not live.empty:
            self._finder.add(key_values(live, self.options.keys))
            self._origin_file.append(np.full(len(live), file_index, dtype=np.int32))
            self._origin_line.append(live[SOURCE_LINE].to_numpy(dtype=np.int64))
            self._unsettled.append(settled == 0)
            originals = frame.loc[
                live.index, [c for c in frame.columns if c not in INTERNAL_FIELDS]
            ]
            staged = pd.concat(
                [
                    live.assign(
                        **{
                            ZONE: normalised.zones[~expired].astype("str"),
                            ROW_CODE: codes,
                            SETTLED: settled,
                        }
                    ),
                    originals.add_prefix(_ORIGINAL),
                ],
                axis=1,
            )
            path = self._workdir / f"staged-{len(self._staged):06d}.arrow"
            feather.write_feather(
                pa.Table.from_pandas(staged, preserve_index=False), path, compression="lz4"
            )
            self._staged.append(path)
        if self._on_rows_read is not None:
            self._on_rows_read(len(frame))

    def contacts(self) -> Iterator[ReadyBatch]:
        """Second pass: staged batches without their duplicates, in the order read."""
        verdict = self._verdict
        files = np.concatenate(self._origin_file) if self._origin_file else np.zeros(0, np.int32)
        lines = np.concatenate(self._origin_line) if self._origin_line else np.zeros(0, np.int64)
        offset = 0
        for path in self._staged:
            staged = feather.read_table(path).to_pandas()
            size = len(staged)
            duplicate = verdict.duplicate[offset : offset + size]
            winner = verdict.winner[offset : offset + size]
            offset += size
            if duplicate.any():
                self._set_aside_duplicates(staged, duplicate, winner, files, lines)
            kept = staged[~duplicate]
            kept = self._settled_earlier(kept.reset_index(drop=True))
            contacts = kept[[c for c in kept.columns if not c.startswith(_PRIVATE)]]
            self.counts.valid += len(kept)
            yield ReadyBatch(
                contacts=contacts,
                zones=kept[ZONE],
                originals=_originals(kept),
                codes=kept[ROW_CODE].to_numpy(dtype=np.int64),
            )
            path.unlink(missing_ok=True)

    def _settled_earlier(self, kept: pd.DataFrame) -> pd.DataFrame:
        """Count rows an earlier attempt settled; return the rest, still to send."""
        status = kept[SETTLED].to_numpy()
        self.counts.already_delivered += int((status == DELIVERED).sum())
        rejected = status == REJECTED
        if rejected.any():
            self._set_aside(
                reject_rows(
                    _originals(kept),
                    rejected,
                    "rejected_by_five9",
                    "Five9 rejected this row in an earlier attempt of this run; "
                    "see `contacts-etl retry` for its message",
                ),
                "rejected_by_five9",
            )
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
        frame = _originals(staged[duplicate]).reset_index(drop=True)
        self._set_aside(
            reject_rows(frame, np.ones(len(frame), dtype=bool), "duplicate", reason), "duplicate"
        )


def _originals(staged: pd.DataFrame) -> pd.DataFrame:
    """A staged batch's origin and the source's original values, under their own names."""
    originals = staged[[c for c in staged.columns if c.startswith(_ORIGINAL)]]
    originals.columns = [c.removeprefix(_ORIGINAL) for c in originals.columns]
    return pd.concat([staged[[SOURCE_FILE, SOURCE_LINE]], originals], axis=1)

"""What an analyst's report charts, gathered as a preview runs, in bounded memory: where each
file's rows went, why rows were set aside, when the valid windows open, how long they are
before and after the calling-hours cut, and when each window closes (in the order a load
would send it)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.pipeline import ReadyBatch
from schemas.fields import SOURCE_FILE, SOURCE_LINE
from sources import ContactSource
from transforms.calling_hours import CallingHours
from transforms.guard_windows import normalise_guard_windows
from transforms.instants import NAT, utc_ns
from transforms.row_faults import RowFaults
from transforms.zones import RowZones, wall_time_by_zone

NS_PER_HOUR = 3_600_000_000_000
NS_PER_MINUTE = 60_000_000_000
# Window lengths, in minutes: the edges of the bars the report draws.
LENGTH_EDGES = (0, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 10080)
LENGTH_LABELS = (
    "< 15 min",
    "15-30 min",
    "30-60 min",
    "1-2 h",
    "2-4 h",
    "4-8 h",
    "8-12 h",
    "12-24 h",
    "1-2 days",
    "2-7 days",
    "7 days +",
)
_QUOTED = re.compile(r"'.*?'(?= |;|$)")  # a value a reason quotes: 'O'Brien' is one
EXAMPLE_CHARS = 240


@dataclass
class ReasonTally:
    """One kind of fault (its quoted value left out), how many rows have it, and the first."""

    kind: str
    column: str
    rows: int
    example_file: str
    example_line: int
    example: str


@dataclass
class PreviewProfile:
    """The aggregates of a preview, filled batch by batch."""

    files: list[str]
    columns: frozenset[str] = frozenset()
    buckets: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    reasons: dict[str, ReasonTally] = field(default_factory=dict)
    start_hours: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    lengths_before: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(len(LENGTH_LABELS), np.int64)
    )
    lengths_after: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(len(LENGTH_LABELS), np.int64)
    )
    _ends: list[npt.NDArray[np.int64]] = field(default_factory=list)

    # ----------------------------------------------------------------------------- rows

    def set_aside(self, rows: pd.DataFrame) -> None:
        """Rows the pipeline set aside (as the rejects file has them: file, line, bucket,
        reason, the source's values)."""
        if rows.empty:
            return
        sizes = rows.groupby([SOURCE_FILE, "bucket"]).size()
        for (name, bucket), count in zip(sizes.index.to_list(), sizes.to_list(), strict=True):
            self.buckets[(str(name), str(bucket))] += int(count)
        invalid = rows[rows["bucket"] == "invalid"]
        if not invalid.empty:
            self._tally_reasons(invalid)

    def _tally_reasons(self, rows: pd.DataFrame) -> None:
        reasons = rows["reason"].astype("str").fillna("")
        kinds = (
            reasons.str.replace(_QUOTED, "'…'", regex=True).str.split("; ").explode().rename("kind")
        )
        positions = pd.Series(np.arange(len(rows)), index=rows.index).reindex(kinds.index)
        firsts = pd.DataFrame({"kind": kinds, "at": positions.to_numpy()}).drop_duplicates("kind")
        counts = kinds.value_counts()
        for kind, at in zip(firsts["kind"], firsts["at"], strict=True):
            known = self.reasons.get(kind)
            if known is not None:
                known.rows += int(counts[kind])
                continue
            row = rows.iloc[int(at)]
            self.reasons[kind] = ReasonTally(
                kind=kind,
                column=self._column_of(kind),
                rows=int(counts[kind]),
                example_file=str(row[SOURCE_FILE]),
                example_line=int(row[SOURCE_LINE]),
                example=_cut(_fault_of(str(row["reason"]), kind)),
            )

    def _column_of(self, kind: str) -> str:
        """The column a fault is about: its first word when that names a column."""
        first = kind.split(" ", 1)[0]
        if first in self.columns:
            return first
        if kind.startswith("window "):
            return "guard window"
        if kind.startswith("fails the Five9 contract: "):
            return kind.removeprefix("fails the Five9 contract: ").split(" ", 1)[0]
        if "phone number" in kind:
            return "phone numbers"
        return "row"

    def ready(self, batch: ReadyBatch, uncut: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Rows a load would send, in the order it would send them. `uncut`: their windows
        (start, end in UTC ns) before the calling-hours cut, when one applies."""
        contacts = batch.contacts
        if contacts.empty:
            return
        for name, count in contacts[SOURCE_FILE].value_counts().items():
            self.buckets[(str(name), "valid")] += int(count)
        start = utc_ns(contacts["guard_start"])
        end = utc_ns(contacts["guard_end"])
        self._ends.append(end)
        after = _length_bins(end - start)
        self.lengths_after += after
        self.lengths_before += after if uncut is None else _length_bins(uncut[1] - uncut[0])
        zones = RowZones.of(batch.zones.reset_index(drop=True))
        hours = (wall_time_by_zone(start, zones) // NS_PER_HOUR) % 24
        cells = np.bincount(zones.codes * 24 + hours, minlength=len(zones.names) * 24)
        for code, name in enumerate(zones.names):
            row = cells[code * 24 : (code + 1) * 24]
            held = self.start_hours.get(name)
            self.start_hours[name] = row if held is None else held + row

    # -------------------------------------------------------------------------- figures

    @property
    def ends_ns(self) -> npt.NDArray[np.int64]:
        """Every valid window's end (UTC ns), in the order a streaming load would send it."""
        return np.concatenate(self._ends) if self._ends else np.zeros(0, np.int64)

    def file_buckets(self, bucket_names: list[str]) -> pd.DataFrame:
        """Rows per file (index) and bucket (columns, in `bucket_names` order)."""
        files = list(dict.fromkeys([*self.files, *(name for name, _ in self.buckets)]))
        cells = {
            bucket: [self.buckets.get((name, bucket), 0) for name in files]
            for bucket in bucket_names
        }
        return pd.DataFrame(cells, index=pd.Index(files, name="file"), dtype="int64")

    def top_reasons(self, count: int = 12) -> list[ReasonTally]:
        """The most frequent kinds of fault, most rows first."""
        return sorted(self.reasons.values(), key=lambda r: (-r.rows, r.kind))[:count]

    def by_column(self) -> pd.Series:
        """Faults per column (a row with two faults in one column counts twice)."""
        totals: dict[str, int] = defaultdict(int)
        for reason in self.reasons.values():
            totals[reason.column] += reason.rows
        return pd.Series(totals, dtype="int64").sort_values(ascending=False)

    def heatmap(self) -> pd.DataFrame:
        """Valid windows by time zone (rows, most windows first) and local hour of start."""
        table = pd.DataFrame(self.start_hours, index=range(24)).T
        if table.empty:
            return table
        return table.loc[table.sum(axis=1).sort_values(ascending=False).index]


def uncut_windows(
    batch: ReadyBatch,
    sources: list[ContactSource],
    mapping: ColumnMapping,
    default_zone: str,
    hours: CallingHours | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The windows of a batch's rows before the calling-hours cut (None without one): read
    again from the source's values, the same way, only not narrowed to calling hours."""
    if hours is None or batch.contacts.empty:
        return None
    originals = batch.originals.reset_index(drop=True)
    start = np.full(len(originals), NAT, np.int64)
    end = np.full(len(originals), NAT, np.int64)
    by_name = {str(source.location): source for source in sources}
    for name, rows in originals.groupby(SOURCE_FILE).groups.items():
        source = by_name[str(name)]
        renames = mapping.resolve(source.columns, str(source.location))
        part = originals.loc[rows].rename(columns=renames)
        windows = normalise_guard_windows(part, default_zone, RowFaults(part.index))
        start[rows.to_numpy()] = windows.start
        end[rows.to_numpy()] = windows.end
    return start, end


def _length_bins(span_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Windows per length bar: counted edge by edge (a few passes, no search per window)."""
    minutes = span_ns[span_ns != NAT] // NS_PER_MINUTE
    # How many windows reach each edge; a bar holds those that reach its edge, not the next.
    reach = [len(minutes), *(np.count_nonzero(minutes >= edge) for edge in LENGTH_EDGES[1:]), 0]
    return np.asarray(-np.diff(np.asarray(reach, dtype=np.int64)), dtype=np.int64)


def _fault_of(reason: str, kind: str) -> str:
    """The fault of a row's reason that is of `kind`, its value quoted (the whole reason when
    a quoted value holds "; ")."""
    for part in reason.split("; "):
        if _QUOTED.sub("'…'", part) == kind:
            return part
    return reason


def _cut(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"

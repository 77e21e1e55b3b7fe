"""The analyst's preview: what a load would send and what it would set aside, with no network."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.inputs import RunInputs
from contacts_etl.outputs import TableWriter, contacts_frame, rejects_columns, wire_time
from contacts_etl.pipeline import ContactPipeline, RunCounts, original_columns
from schemas.errors import SettingError
from sources import ContactSource, open_sources
from transforms.expiry import expired_rows
from transforms.normalise import NormaliseOptions, normalise_batch

LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"


@dataclass(frozen=True)
class PreviewRequest(RunInputs):
    """A preview: the run's inputs, where to write the contacts that would be sent, and how
    many rows to show."""

    output: str | Path | None = None
    limit: int = 10

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise SettingError(f"{self.limit} must be zero or more", setting="limit")


@dataclass
class PreviewResult:
    """The counts, the first rows that would be sent, and where the files went."""

    counts: RunCounts
    load_time: pd.Timestamp
    default_zone: str
    first_rows: pd.DataFrame
    output: str | Path | None = None
    rejects: str | Path | None = None
    sources: list[str] = field(default_factory=list)


def local_windows(contacts: pd.DataFrame, zones: pd.Series) -> pd.DataFrame:
    """The guard window in UTC (as sent) and in each row's own zone (as a person reads it)."""
    local_start = pd.Series(index=contacts.index, dtype="str")
    local_end = pd.Series(index=contacts.index, dtype="str")
    for zone, rows in contacts.groupby(zones.to_numpy()).groups.items():
        part = contacts.loc[rows]
        local_start[rows] = part["guard_start"].dt.tz_convert(str(zone)).dt.strftime(LOCAL_FORMAT)
        local_end[rows] = part["guard_end"].dt.tz_convert(str(zone)).dt.strftime(LOCAL_FORMAT)
    return pd.DataFrame(
        {
            "start_utc": wire_time(contacts["guard_start"]),
            "end_utc": wire_time(contacts["guard_end"]),
            "timezone": zones.to_numpy(),
            "start_local": local_start,
            "end_local": local_end,
        },
        index=contacts.index,
    )


PEEK_ROWS = 2_000


def first_open_rows(
    sources: list[ContactSource],
    mapping: ColumnMapping,
    options: NormaliseOptions,
    now: pd.Timestamp,
    limit: int,
) -> pd.DataFrame:
    """The first valid, open rows of the first source, normalised, read from its first block
    only: what an analyst sees within a second, long before a big file is read through. A
    later row with the same key may still beat one of them (the summary counts those)."""
    if not sources or limit <= 0:
        return pd.DataFrame()
    source = sources[0]
    renames = mapping.resolve(source.columns, str(source.location))
    for batch in source.batches():
        frame = batch.frame.head(max(PEEK_ROWS, limit)).reset_index(drop=True)
        normalised = normalise_batch(frame, renames, replace(options, load_time=now))
        open_rows = ~expired_rows(normalised.contacts, now)
        head = normalised.contacts[open_rows].head(limit)
        zones = normalised.zones[open_rows].head(limit)
        return pd.concat([head, local_windows(head, zones)], axis=1).reset_index(drop=True)
    return pd.DataFrame()


def run_preview(
    request: PreviewRequest,
    on_rows_read: Callable[[int], None] | None = None,
    on_first_rows: Callable[[pd.DataFrame], None] | None = None,
) -> PreviewResult:
    """Read, validate and normalise the sources; write --output and --rejects if asked.

    `on_first_rows` is called first, with the first valid open rows of the first source."""
    options = request.normalise_options()
    now = request.load_time()
    mapping = ColumnMapping.load(request.mapping)
    sources = open_sources(request.sources, request.read_options())
    rejects = (
        TableWriter(
            request.rejects, rejects_columns(original_columns(sources)), "rejects", safe=True
        )
        if request.rejects
        else None
    )
    first: list[pd.DataFrame] = []
    shown = 0
    with (
        rejects or nullcontext(),
        tempfile.TemporaryDirectory(prefix="contacts-etl-") as workdir,
    ):
        # The pipeline checks the run (keys, mapping) before any row is shown.
        pipeline = ContactPipeline(
            sources, mapping, options, now, Path(workdir), rejects, on_rows_read
        )
        if on_first_rows is not None:
            on_first_rows(first_open_rows(sources, mapping, options, now, request.limit))
        output = (
            TableWriter(request.output, pipeline.output_columns, "output", safe=False)
            if request.output
            else None
        )
        with output or nullcontext():
            for ready in pipeline.contacts():
                if output is not None:
                    output.write(contacts_frame(ready.contacts))
                if shown < request.limit:
                    head = ready.contacts.head(request.limit - shown)
                    zones = ready.zones.reset_index(drop=True).head(len(head))
                    first.append(pd.concat([head, local_windows(head, zones)], axis=1))
                    shown += len(head)
    return PreviewResult(
        counts=pipeline.counts,
        load_time=now,
        default_zone=options.default_zone,
        first_rows=pd.concat(first, ignore_index=True) if first else pd.DataFrame(),
        output=request.output,
        rejects=request.rejects,
        sources=[str(source.location) for source in sources],
    )

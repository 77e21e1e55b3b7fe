"""The analyst's preview: what a load would send and what it would set aside, with no network."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from contacts_etl.column_mapping import ColumnMapping
from contacts_etl.html_report import LoadClock, plotly_modules, render, write_html
from contacts_etl.inputs import RunInputs
from contacts_etl.outputs import TableWriter, contacts_frame, rejects_columns, wire_time
from contacts_etl.pipeline import ContactPipeline, RunCounts, original_columns
from contacts_etl.preview_profile import PreviewProfile, uncut_windows
from schemas.errors import SettingError
from sinks.settings import Five9Settings, load_settings
from sources import ContactSource, open_sources
from transforms.expiry import expired_rows
from transforms.normalise import NormaliseOptions, normalise_batch
from transforms.send_order import LoadPace

LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"


@dataclass(frozen=True)
class PreviewRequest(RunInputs):
    """A preview: the run's inputs, where to write the contacts that would be sent and the
    HTML report, and how many rows to show."""

    output: str | Path | None = None
    limit: int = 10
    html: str | Path | None = None
    """Where the analyst's HTML report is written: a local path or a URL of object storage."""
    aggregates: bool = False
    """Gather the report's aggregates even without an HTML report (a flow's artifacts)."""

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
    html: str | Path | None = None
    profile: PreviewProfile | None = None
    """The aggregates the HTML report charts (when one was asked for)."""
    clock: LoadClock | None = None
    """What the clock would take from a load of these rows (with the HTML report)."""


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


class _Both:
    """Rows set aside go to the rejects file (when asked for) and to the report's tally."""

    def __init__(self, rejects: TableWriter | None, profile: PreviewProfile) -> None:
        self._rejects, self._profile = rejects, profile

    def write(self, rows: pd.DataFrame) -> None:
        if self._rejects is not None:
            self._rejects.write(rows)
        self._profile.set_aside(rows)


def run_preview(
    request: PreviewRequest,
    on_rows_read: Callable[[int], None] | None = None,
    on_first_rows: Callable[[pd.DataFrame], None] | None = None,
) -> PreviewResult:
    """Read, validate and normalise the sources; write --output, --rejects and --html if
    asked (the report's aggregates are gathered when `request.aggregates` or `html` is set).

    `on_first_rows` is called first, with the first valid open rows of the first source."""
    options = request.normalise_options()
    now = request.load_time()
    mapping = ColumnMapping.load(request.mapping)
    five9 = None
    if request.html:
        plotly_modules()  # a missing extra is said before any row is read
    if request.html or request.aggregates:
        five9 = load_settings()
    sources = open_sources(request.sources, request.read_options())
    rejects = (
        TableWriter(
            request.rejects, rejects_columns(original_columns(sources)), "rejects", safe=True
        )
        if request.rejects
        else None
    )
    profile = PreviewProfile([str(source.location) for source in sources]) if five9 else None
    first: list[pd.DataFrame] = []
    shown = 0
    with (
        rejects or nullcontext(),
        tempfile.TemporaryDirectory(prefix="contacts-etl-") as workdir,
    ):
        # The pipeline checks the run (keys, mapping) before any row is shown.
        pipeline = ContactPipeline(
            sources,
            mapping,
            options,
            now,
            Path(workdir),
            _Both(rejects, profile) if profile is not None else rejects,
            on_rows_read,
        )
        if profile is not None:
            profile.columns = frozenset(pipeline.output_columns) | {"timezone"}
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
                if profile is not None:
                    uncut = uncut_windows(
                        ready, sources, mapping, options.default_zone, options.calling_hours
                    )
                    profile.ready(ready, uncut)
                if shown < request.limit:
                    head = ready.contacts.head(request.limit - shown)
                    zones = ready.zones.reset_index(drop=True).head(len(head))
                    first.append(pd.concat([head, local_windows(head, zones)], axis=1))
                    shown += len(head)
    result = PreviewResult(
        counts=pipeline.counts,
        load_time=now,
        default_zone=options.default_zone,
        first_rows=pd.concat(first, ignore_index=True) if first else pd.DataFrame(),
        output=request.output,
        rejects=request.rejects,
        sources=[str(source.location) for source in sources],
        html=request.html,
        profile=profile,
    )
    if profile is not None and five9 is not None:
        result.clock = LoadClock.of(profile.ends_ns, now, *pace_of(five9))
        if request.html:
            write_html(
                request.html,
                render(result, profile, result.clock, settings_of(request, result, five9)),
            )
    return result


def pace_of(settings: Five9Settings) -> tuple[LoadPace, str]:
    """The pace a load would keep with these settings, and its rate limits in words."""
    limits = ", ".join(
        f"{calls} requests per {window:g} s" for calls, window in settings.rate_limits()
    )
    return LoadPace(settings.chunk_size, settings.request_interval()), limits


def settings_of(
    request: PreviewRequest, result: PreviewResult, five9: Five9Settings
) -> dict[str, str]:
    """The settings a report is read with, later: what was read, how, and judged when."""
    return {
        "sources": ", ".join(result.sources),
        "windows judged at (as of)": f"{result.load_time:%Y-%m-%dT%H:%M:%S}Z",
        "default time zone": result.default_zone,
        "calling hours": request.calling_hours or "none",
        "key fields": " + ".join(request.keys),
        "E.164 numbers": "yes" if request.e164 else "no",
        "mapping": str(request.mapping) if request.mapping else "none",
        "Five9 path": "REST" if five9.rest_enabled else "SOAP (legacy)",
        "rows a request": f"{five9.chunk_size:,}",
        "rate limits": pace_of(five9)[1],
    }

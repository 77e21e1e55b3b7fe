"""The analyst's report of a preview: one self-contained HTML file (charts, tables and the
plotting library's script embedded; nothing is fetched when it opens), written to a path or
a URL of object storage. Plotly draws the charts: an optional extra (`contacts-etl[report]`)."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from contacts_etl.preview_profile import LENGTH_LABELS, PreviewProfile
from schemas.errors import SettingError
from sources.storage import Location, written
from transforms.send_order import LoadPace, closing_before_turn

if TYPE_CHECKING:
    from contacts_etl.preview import PreviewResult

SETTING = "html"
MISSING_PLOTLY = "the HTML report needs plotly: pip install 'contacts-etl[report]'"
BUCKET_COLOURS = {
    "valid": "#2e7d32",
    "invalid": "#c62828",
    "expired": "#ef6c00",
    "duplicate": "#6a1b9a",
    "already_delivered": "#1565c0",
    "rejected_by_five9": "#4e342e",
}
CURVE_POINTS = 400


@dataclass(frozen=True)
class LoadClock:
    """What the clock takes from a load of the previewed rows at the configured pace."""

    pace: LoadPace
    rate: str
    start: pd.Timestamp
    rows: int
    lost_in_file_order: int
    lost_in_deadline_order: int
    closing_during_load: int
    deadline_ends: np.ndarray = field(repr=False, compare=False)
    """The window ends in deadline order (the curve of the report draws from them)."""

    @classmethod
    def of(cls, ends_ns: np.ndarray, start: pd.Timestamp, pace: LoadPace, rate: str) -> LoadClock:
        """The windows (ends in file order) a load starting at `start` would lose."""
        start_ns = start.value
        finish = start_ns + int(pace.seconds(len(ends_ns)) * 1e9)
        by_deadline = np.sort(ends_ns)  # deadline order: only the values matter here
        return cls(
            pace=pace,
            rate=rate,
            start=start,
            rows=len(ends_ns),
            lost_in_file_order=int(closing_before_turn(ends_ns, start_ns, pace).sum()),
            lost_in_deadline_order=int(closing_before_turn(by_deadline, start_ns, pace).sum()),
            closing_during_load=int(((ends_ns > start_ns) & (ends_ns <= finish)).sum()),
            deadline_ends=by_deadline,
        )

    @property
    def seconds(self) -> float:
        return self.pace.seconds(self.rows)


def plotly_modules() -> tuple[Any, Any]:
    """plotly's graph objects and its io module; a one-line hint when it is not installed."""
    try:
        import plotly.graph_objects as go
        import plotly.io as pio
    except ImportError:
        raise SettingError(MISSING_PLOTLY, setting=SETTING) from None
    return go, pio


def write_html(where: str | os.PathLike[str], text: str) -> None:
    """The report to a local path or a URL of object storage; a place that cannot be
    written is fatal (one line)."""
    try:
        with written(Location(where), "w") as handle:
            handle.write(text)
    except OSError as error:
        raise SettingError(
            f"{where} cannot be written: {error.strerror or error}", setting=SETTING
        ) from None


def render(
    result: PreviewResult, profile: PreviewProfile, clock: LoadClock, settings: dict[str, str]
) -> str:
    """The whole report as one HTML document."""
    go, pio = plotly_modules()
    from plotly.offline import get_plotlyjs

    buckets = {"valid": result.counts.valid, **result.counts.buckets()}
    names = list(buckets)
    figures = [
        ("Where every row went, per file", _files_figure(go, profile.file_buckets(names))),
        ("Invalid rows by reason", _reasons_figure(go, profile)),
        ("Faults by column", _columns_figure(go, profile)),
        ("When contacts are callable: local hour of the window's start", _heatmap(go, profile)),
        ("Window lengths before and after the calling-hours cut", _lengths_figure(go, profile)),
        ("The clock against the load", _clock_figure(go, profile, clock)),
    ]
    charts = [
        f'<section class="chart"><h2>{html.escape(title)}</h2>'
        + pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            config={"displaylogo": False, "responsive": True},
            default_height="420px",
        )
        + "</section>"
        for title, figure in figures
        if figure is not None
    ]
    body = [
        "<h1>Contacts preview</h1>",
        _totals_table(result.counts.rows_read, buckets),
        _clock_text(clock),
        *charts[:1],
        _reasons_table(profile),
        *charts[1:],
        _settings_table(settings),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Contacts preview</title>"
        f"<style>{_STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )


# ------------------------------------------------------------------------------ tables


def _totals_table(rows_read: int, buckets: dict[str, int]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(name.replace('_', ' '))}</th>"
        f'<td data-bucket="{html.escape(name)}">{count:,}</td></tr>'
        for name, count in buckets.items()
    )
    return (
        '<table class="totals"><tr><th>rows read</th>'
        f'<td data-bucket="rows_read">{rows_read:,}</td></tr>{cells}</table>'
    )


def _clock_text(clock: LoadClock) -> str:
    minutes = clock.seconds / 60
    return (
        '<p class="clock" id="clock">'
        f"At {html.escape(clock.rate)} ({clock.pace.chunk_size:,} rows a request, one request "
        f"every {clock.pace.interval_seconds:.2f} s) a load of the "
        f"<b>{clock.rows:,}</b> valid rows would take <b>{minutes:,.1f} min</b> from its first "
        f"upload, starting {clock.start:%Y-%m-%d %H:%M:%S}Z. "
        f"<b data-lost='file'>{clock.lost_in_file_order:,}</b> windows would close before "
        "their row's turn in file order, "
        f"<b data-lost='deadline'>{clock.lost_in_deadline_order:,}</b> in deadline order "
        "(<code>--order deadline</code>).</p>"
    )


def _reasons_table(profile: PreviewProfile) -> str:
    top = profile.top_reasons()
    if not top:
        return "<p>No row is invalid.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(r.kind)}</td><td>{html.escape(r.column)}</td>"
        f"<td class='n'>{r.rows:,}</td><td>{html.escape(r.example_file)} "
        f"line {r.example_line}: {html.escape(r.example)}</td></tr>"
        for r in top
    )
    return (
        "<section><h2>Top reasons rows are invalid</h2><table class='reasons'>"
        "<tr><th>reason</th><th>column</th><th>rows</th><th>first example</th></tr>"
        f"{rows}</table></section>"
    )


def _settings_table(settings: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in settings.items()
    )
    return (
        "<section><h2>Settings of this preview</h2>"
        f"<table class='settings'>{rows}</table></section>"
    )


# ----------------------------------------------------------------------------- figures


# plotly_white's look, in the few settings the charts use (loading plotly's own templates
# costs a tenth of a second).
_GRID = {"gridcolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "linecolor": "#EBF0F8"}
_TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"color": "#2a3f5f"},
        "xaxis": _GRID,
        "yaxis": _GRID,
        "colorway": [
            "#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A",
            "#19d3f3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52",
        ],
    }
}  # fmt: skip


def _layout(figure: Any, **more: Any) -> Any:
    figure.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        template=_TEMPLATE,
        legend={"orientation": "h", "y": -0.15},
        **more,
    )
    return figure


def _files_figure(go: Any, table: pd.DataFrame) -> Any:
    figure = go.Figure()
    labels = [os.path.basename(str(name)) or str(name) for name in table.index]
    for bucket in table.columns:
        if table[bucket].sum() == 0 and bucket != "valid":
            continue
        figure.add_trace(
            go.Bar(
                name=bucket,
                y=labels,
                x=table[bucket].tolist(),
                orientation="h",
                marker_color=BUCKET_COLOURS.get(bucket),
                hovertext=[str(name) for name in table.index],
            )
        )
    return _layout(figure, barmode="stack", yaxis={"automargin": True})


def _reasons_figure(go: Any, profile: PreviewProfile) -> Any | None:
    top = profile.top_reasons()
    if not top:
        return None
    top = top[::-1]
    labels = [_short(r.kind) for r in top]
    figure = go.Figure(
        go.Bar(
            x=[r.rows for r in top],
            y=labels,
            orientation="h",
            marker_color=BUCKET_COLOURS["invalid"],
            hovertext=[r.kind for r in top],
        )
    )
    return _layout(figure, yaxis={"automargin": True})


def _columns_figure(go: Any, profile: PreviewProfile) -> Any | None:
    columns = profile.by_column()
    if columns.empty:
        return None
    figure = go.Figure(go.Bar(x=columns.index.tolist(), y=columns.tolist(), marker_color="#ad1457"))
    return _layout(figure, yaxis={"title": {"text": "faults"}})


def _heatmap(go: Any, profile: PreviewProfile) -> Any | None:
    table = profile.heatmap()
    if table.empty:
        return None
    figure = go.Figure(
        go.Heatmap(
            z=table.to_numpy().tolist(),
            x=[f"{hour:02d}:00" for hour in range(24)],
            y=table.index.tolist(),
            colorscale="Blues",
            hovertemplate="%{y} %{x}: %{z} windows<extra></extra>",
        )
    )
    return _layout(figure, yaxis={"automargin": True}, xaxis={"title": {"text": "local hour"}})


def _lengths_figure(go: Any, profile: PreviewProfile) -> Any:
    figure = go.Figure(
        [
            go.Bar(name="before the cut", x=list(LENGTH_LABELS), y=profile.lengths_before.tolist()),
            go.Bar(name="as sent", x=list(LENGTH_LABELS), y=profile.lengths_after.tolist()),
        ]
    )
    return _layout(figure, barmode="group", yaxis={"title": {"text": "windows"}})


def _clock_figure(go: Any, profile: PreviewProfile, clock: LoadClock) -> Any:
    """Windows lost so far against minutes into the load, in file and in deadline order."""
    ends = profile.ends_ns
    pace, start = clock.pace, clock.start.value
    figure = go.Figure()
    for name, sent in (("file order", ends), ("deadline order", clock.deadline_ends)):
        lost = np.cumsum(closing_before_turn(sent, start, pace))
        when = (pace.departures(len(sent), start) - start) / 60e9
        step = max(1, len(sent) // CURVE_POINTS)
        keep = np.unique(np.r_[np.arange(0, len(sent), step), max(len(sent) - 1, 0)])
        keep = keep[keep < len(sent)]
        figure.add_trace(
            go.Scatter(name=name, x=when[keep].tolist(), y=lost[keep].tolist(), mode="lines")
        )
    return _layout(
        figure,
        xaxis={"title": {"text": "minutes into the load"}},
        yaxis={"title": {"text": "windows closed before their turn"}},
    )


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 24px}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.4em 0;font-size:.92em;background:#fff}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.n,table.totals td{text-align:right}
table.reasons td:last-child{max-width:520px;word-break:break-word;color:#555}
section.chart{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px 12px;
margin:12px 0}
p.clock{background:#fff8e1;border-left:4px solid #ef6c00;padding:8px 12px}
"""

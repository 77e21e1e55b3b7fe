"""What only a load over Five9's legacy SOAP path needs around the sink: reading the results of
imports an earlier attempt left unread, and what the report says of the user's calls."""

from __future__ import annotations

import asyncio

from contacts_etl.run_state import RunState, letters_chunk
from sinks.five9_wire import UploadModes
from sinks.rest_sink import SinkTotals
from sinks.settings import Five9Settings
from sinks.soap_sink import Five9SoapSink
from sinks.soap_wire import ASYNCHRONOUS_UPLOAD, QUERY, CallCounter


def counters_note(counters: list[CallCounter]) -> str | None:
    """What Five9's counters said the user's calls had spent before the first import."""
    spent = [
        f"{c.used:,} of {c.limit:,} {name} {_PERIODS.get(c.seconds, f'per {c.seconds:g} s')}"
        for c in counters
        for name in (_OPERATION_NAMES.get(c.operation),)
        if name
    ]
    if not spent:
        return None
    return (
        "Five9's counters of this user's calls (by anyone, other machines included) before "
        f"the first import: {'; '.join(spent)}."
    )


_OPERATION_NAMES = {ASYNCHRONOUS_UPLOAD: "import calls", QUERY: "query calls"}
_PERIODS = {60.0: "a minute", 3600.0: "an hour", 86400.0: "a day"}


def finish_open_imports(
    state: RunState, settings: Five9Settings, list_name: str, keys: tuple[str, ...]
) -> SinkTotals | None:
    """SOAP: settle the rows of imports an earlier attempt made but did not read the results
    of (it stopped while Five9 worked), so the load does not send them again. None when there
    were none."""
    imports = state.open_imports()
    if not imports:
        return None
    sink = Five9SoapSink(
        settings,
        list_name,
        UploadModes.of(settings, keys),
        lambda *_: None,  # the load itself writes the rejects of these rows (settled before)
        hooks=state.hooks(),
        not_before=state.pacer_start(settings),
    )

    async def settle() -> None:
        async with sink:
            await sink.settle_open_imports(
                (held.identifier, letters_chunk(held.chunk, held.rows)) for held in imports
            )

    asyncio.run(settle())
    return sink.totals


def open_imports_note(totals: SinkTotals) -> str:
    settled = totals.delivered + totals.rejected_by_five9
    note = (
        f"Read the results of imports an earlier attempt left unread: {settled:,} rows "
        "settled there are not sent again"
    )
    if totals.failed:
        note += f"; Five9 could not say what became of {totals.failed:,}, so they are sent again"
    return note + "."

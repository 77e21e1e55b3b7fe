"""What only a load over Five9's legacy SOAP path needs around the sink: reading the results of
imports an earlier attempt left unread, and the day's budget of import calls in a dry run."""

from __future__ import annotations

import asyncio

from contacts_etl.run_state import RunState, letters_chunk
from sinks.five9_wire import UploadModes
from sinks.rest_sink import SinkTotals
from sinks.settings import Five9Settings
from sinks.soap_sink import Five9SoapSink


def day_budget_note(calls: int, settings: Five9Settings, state: RunState) -> str | None:
    """SOAP dry run: whether the user's calls left today (by the ledger) cover the load."""
    made = state.ledger.recent_sends(state.credential, settings.soap_day_seconds)
    left = max(settings.soap_calls_per_day - len(made), 0)
    if calls <= left:
        return None
    return (
        f"Five9's budget of SOAP import calls a day has {left:,} left for this user: "
        f"{calls - left:,} of the {calls:,} calls would not be made, and their rows would "
        "wait for `contacts-etl retry`."
    )


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

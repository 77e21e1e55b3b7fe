"""Flow parameters (as the Prefect UI or a deployment sends them: text, lists, None) to the
requests a preview and a load take, and a load request back to parameters: the one place
where requests cross into Prefect and out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from contacts_etl.inputs import parse_as_of
from contacts_etl.load import LoadRequest
from schemas.fields import DEFAULT_KEYS
from sinks.ledger import default_state_url

# How a flow's parameters name the settings an error may be about (where not by their own).
PARAMETER_NAMES = {"list": "list_name"}


def input_fields(
    sources: list[str],
    mapping: str | None,
    timezone: str,
    calling_hours: str | None,
    keys: list[str] | None,
    delimiter: str | None,
    encoding: str,
    as_of: datetime | str | None,
    rejects: str | None,
) -> dict[str, Any]:
    """The `RunInputs` fields a preview and a load share, from flow parameters; an `as_of`
    without an offset is a one-line setting error naming it."""
    return {
        "sources": sources,
        "mapping": Path(mapping) if mapping else None,
        "timezone": timezone,
        "calling_hours": calling_hours,
        "keys": tuple(keys) if keys else DEFAULT_KEYS,
        "delimiter": delimiter,
        "encoding": encoding,
        "as_of": parse_as_of(as_of.isoformat() if isinstance(as_of, datetime) else as_of),
        "rejects": rejects or None,
    }


def load_parameters(request: LoadRequest) -> dict[str, Any]:
    """The load-contacts flow's parameters for a request (what `load_contacts` turns back
    into the same request)."""
    return {
        "sources": list(request.sources),
        "list_name": request.list_name,
        "mapping": str(request.mapping) if request.mapping else None,
        "timezone": request.timezone,
        "dry_run": request.dry_run,
        "rejects": str(request.rejects) if request.rejects else None,
        "report": str(request.report) if request.report else None,
        "calling_hours": request.calling_hours,
        "restart": request.restart,
        "keys": list(request.keys),
        "delimiter": request.delimiter,
        "encoding": request.encoding,
        "state_dir": str(request.state_dir) if request.state_dir else None,
        "as_of": request.as_of.isoformat() if request.as_of is not None else None,
        # The environment's store is read where the flow runs; a URL given only here goes
        # with the run (and must then carry no password: parameters are shown).
        "state_url": None if request.state_url == default_state_url() else request.state_url,
        "order": request.order,
    }

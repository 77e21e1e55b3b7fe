"""Flow parameters (as the Prefect UI or a deployment sends them: text, lists, None) to the
request fields a preview and a load share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contacts_etl.preview import parse_as_of

DEFAULT_KEYS = ("number1",)


def request_fields(
    sources: list[str],
    mapping: str | None,
    timezone: str,
    calling_hours: str | None,
    keys: list[str] | None,
    delimiter: str | None,
    encoding: str,
    as_of: str | None,
) -> dict[str, Any]:
    """The fields of a `PreviewRequest` (and so of a `LoadRequest`) given by flow parameters;
    a bad `as_of` is a one-line setting error naming it."""
    return {
        "sources": sources,
        "mapping": Path(mapping) if mapping else None,
        "timezone": timezone,
        "calling_hours": calling_hours,
        "keys": tuple(keys) if keys else DEFAULT_KEYS,
        "delimiter": delimiter,
        "encoding": encoding,
        "as_of": parse_as_of(as_of, "as_of"),
    }

"""Five9 REST wire details, in one place so a customer's API bundle can correct them.

docs/five9-contract.md marks each fact: the token call and whoami are [practice]; the lists
path and the whole upload call (path, body, answer) are [assumed]. Nothing else in the project
knows a Five9 path or JSON field name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.fields import DEFAULT_KEYS, SOURCE_FILE, SOURCE_LINE
from sinks.settings import Five9Settings
from sinks.wire import ImportTrouble
from transforms.instants import NS_PER_MINUTE, civil_from_days

TOKEN_PATH = "/oauth2/v1/token"  # [practice]
WHOAMI_PATH = "/users/v1/users/whoami"  # [practice]
WIRE_TIME = "%Y-%m-%dT%H:%M:00Z"  # seconds always 00 [assumed]


def lists_path(domain_id: str) -> str:
    """Where lists are looked up by name [assumed]."""
    return f"/lists/v1/domains/{quote(domain_id, safe='')}/lists"


def list_filter(name: str) -> dict[str, str]:
    """Query parameters that find one list by its exact name [assumed]."""
    return {"filter": f"name=='{name}'"}


def upload_path(domain_id: str, list_id: str) -> str:
    """Where contacts are uploaded [assumed]."""
    return f"/lists/v1/domains/{quote(domain_id, safe='')}/lists/{quote(list_id, safe='')}/contacts"


@dataclass(frozen=True)
class UploadModes:
    """How Five9 matches and adds records; the meanings of the legacy listUpdateSettings."""

    keys: tuple[str, ...] = DEFAULT_KEYS
    crm_add_mode: str = "ADD_NEW"
    crm_update_mode: str = "UPDATE_FIRST"
    list_add_mode: str = "ADD_FIRST"

    @classmethod
    def of(cls, settings: Five9Settings, keys: tuple[str, ...]) -> UploadModes:
        """The modes the settings choose, matching records on `keys`."""
        return cls(
            keys=keys,
            crm_add_mode=settings.crm_add_mode,
            crm_update_mode=settings.crm_update_mode,
            list_add_mode=settings.list_add_mode,
        )


def contact_objects(contacts: pd.DataFrame) -> pd.Series:
    """Each contact's JSON object in the upload body, as text, built column-wise with Arrow
    kernels (no Python per row): its fields as strings (blank ones left out) and its window."""
    fields = [
        c
        for c in contacts.columns
        if c not in (SOURCE_FILE, SOURCE_LINE, "guard_start", "guard_end")
    ]
    # Each present field as ',"name":"value"' (a blank one is left out). The first field (a
    # valid contact's number1) is always present: it goes without the comma.
    pieces: list[pa.Array | pa.Scalar] = []
    first_blank = False
    for position, name in enumerate(fields):
        values = pc.cast(
            pa.array(contacts[name].astype("str"), from_pandas=True), pa.large_string()
        )
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        comma = "," if position else ""
        label = _text(comma + json.dumps(name, ensure_ascii=False) + ':"')
        if values.null_count:
            # Blank in some rows: the member is left out there (null label, value and quote).
            pieces.append(_joined(label, _json_escaped(values), _text('"')))
            first_blank |= position == 0
        else:
            pieces.extend((label, _json_escaped(values), _text('"')))
    objects = pc.binary_join_element_wise(
        _text('{"fields":{'),
        *pieces,
        _text('},"guardTime":{"start":"'),
        _wire_times(contacts["guard_start"]),
        _text('","end":"'),
        _wire_times(contacts["guard_end"]),
        _text('"}}'),
        _text(""),
        null_handling="replace",
        null_replacement="",
    )
    if first_blank:
        # The first field is blank in some rows: their first member lost its comma's partner.
        objects = pc.replace_substring(objects, '{"fields":{,', '{"fields":{', max_replacements=1)
    return pd.Series(objects, index=contacts.index, dtype="str")


def upload_body(
    contacts: pd.DataFrame, modes: UploadModes, objects: pd.Series | None = None
) -> bytes:
    """The JSON body for one chunk; `objects` are its contacts' `contact_objects`, when the
    caller made them ahead (they are made here otherwise)."""
    if objects is None:
        objects = contact_objects(contacts)
    head = json.dumps(
        {
            "keys": list(modes.keys),
            "crmAddMode": modes.crm_add_mode,
            "crmUpdateMode": modes.crm_update_mode,
            "listAddMode": modes.list_add_mode,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return (head[:-1] + ',"contacts":[' + ",".join(objects.tolist()) + "]}").encode("utf-8")


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _joined(*parts: pa.Array | pa.Scalar) -> pa.Array:
    """Parts concatenated row by row (null where any part is null)."""
    return pc.binary_join_element_wise(*parts, _text(""))


# Bytes a JSON string cannot hold as they are: the quote, the backslash, control characters.
_NEEDS_ESCAPE = np.zeros(256, dtype=bool)
_NEEDS_ESCAPE[[*range(0x20), ord('"'), ord("\\")]] = True


def _needs_escape(values: pa.Array) -> bool:
    """Whether any value holds a byte JSON must escape (checked on the UTF-8 bytes)."""
    data = values.buffers()[2]
    return data is not None and bool(_NEEDS_ESCAPE[np.frombuffer(data, dtype=np.uint8)].any())


def _json_escaped(values: pa.Array) -> pa.Array:
    """Each value's text as a JSON string literal holds it, as json.dumps(ensure_ascii=False)
    writes it (without the quotes)."""
    if not _needs_escape(values):
        return values
    escaped = pc.replace_substring(values, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    control = pc.fill_null(pc.match_substring_regex(escaped, "[\\x00-\\x1f]"), False)
    if pc.any(control).as_py():
        # Rare: control characters need \uXXXX forms; json writes those few exactly.
        fixed = [
            json.dumps(v, ensure_ascii=False)[1:-1] if c and v is not None else None
            for v, c in zip(values.to_pylist(), control.to_pylist(), strict=True)
        ]
        escaped = pc.if_else(control, pa.array(fixed, pa.large_string()), escaped)
    return escaped


_WIRE_TEMPLATE = np.frombuffer(b"0000-00-00T00:00:00Z", dtype=np.uint8)
# (position in the template, divisor): each digit is (value // divisor) % 10.
_YEAR, _TWO = ((0, 1000), (1, 100), (2, 10), (3, 1)), ((0, 10), (1, 1))


def _wire_times(instants: pd.Series) -> pa.Array:
    """UTC instants as WIRE_TIME text (e.g. 2027-12-01T14:00:00Z), written digit by digit into
    fixed-width bytes: string formatting costs far more per row."""
    ns = instants.dt.tz_convert("UTC").dt.as_unit("ns").to_numpy("datetime64[ns]").view(np.int64)
    minutes = ns // NS_PER_MINUTE
    days, minute_of_day = np.divmod(minutes, 24 * 60)
    year, month, day = civil_from_days(days)
    # One row of the array per character position: each write below is contiguous.
    text = np.repeat(_WIRE_TEMPLATE[:, None], len(ns), axis=1)
    for value, at, digits in (
        (year, 0, _YEAR),
        (month, 5, _TWO),
        (day, 8, _TWO),
        (minute_of_day // 60, 11, _TWO),
        (minute_of_day % 60, 14, _TWO),
    ):
        for position, divisor in digits:
            text[at + position] = 48 + (value // divisor) % 10
    width = len(_WIRE_TEMPLATE)
    offsets = np.arange(len(ns) + 1, dtype=np.int64) * width
    text = np.ascontiguousarray(text.T)
    return pa.LargeStringArray.from_buffers(len(ns), pa.py_buffer(offsets), pa.py_buffer(text))


@dataclass(frozen=True)
class UploadAnswer:
    """What a 200 answer says about one chunk."""

    troubles: tuple[ImportTrouble, ...]
    raw: dict[str, Any]


def parse_upload_answer(data: dict[str, Any], rows: int) -> UploadAnswer:
    """Read `importTroubles` (`rowNumber` is 1-based within the request) [assumed]."""
    troubles = []
    for item in data.get("importTroubles") or []:
        number = int(item.get("rowNumber", 0))
        if 1 <= number <= rows:
            troubles.append(
                ImportTrouble(
                    position=number - 1,
                    kind=str(item.get("kind", "")),
                    message=str(item.get("troubleMessage", "")),
                )
            )
    summary = {k: v for k, v in data.items() if k != "importTroubles"}
    return UploadAnswer(troubles=tuple(troubles), raw=summary)


def list_items(data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The lists on one page and the next page's URL [assumed paging shape]."""
    paging = data.get("paging") or {}
    return list(data.get("items") or []), paging.get("next")


def said(answer: httpx.Response) -> str:
    """': <Five9's message>' from an error answer, or '' when it gave none."""
    try:
        text = error_text(answer.json())
    except ValueError:
        text = ""
    return f": {text}" if text else ""


def error_text(data: object) -> str:
    """Five9's error message from a JSON error body, one line."""
    if isinstance(data, dict):
        text = data.get("message") or data.get("error_description") or data.get("error")
        if text:
            return " ".join(str(text).split())
    return ""

"""Five9 REST wire details, in one place so a customer's API bundle can correct them.

docs/five9-contract.md marks each fact: the token call and whoami are [practice]; the lists
path and the whole upload call (path, body, answer) are [assumed]. Nothing else in the project
knows a Five9 path or JSON field name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.fields import DEFAULT_KEYS, SOURCE_FILE, SOURCE_LINE
from sinks.chunk import Chunk
from sinks.settings import Five9Settings
from sinks.wire import ImportTrouble
from transforms.instants import NS_PER_MINUTE, civil_from_days, utc_ns

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
    """Each contact's JSON object in the upload body followed by a comma, as text, built
    column-wise with Arrow kernels (no Python per row): its fields as strings (blank ones left
    out) and its window. Consecutive objects are one run of bytes of the body."""
    fields = [
        c
        for c in contacts.columns
        if c not in (SOURCE_FILE, SOURCE_LINE, "guard_start", "guard_end")
    ]
    # Each present field as ',"name":"value"' (a blank one is left out). The first field (a
    # valid contact's number1) is always present: it goes without the comma. Text between two
    # values is one argument of the join: its cost grows with the number of arguments.
    parts: list[pa.Array | str] = ['{"fields":{']
    first_blank = False
    for position, name in enumerate(fields):
        values = pc.cast(
            pa.array(contacts[name].astype("str"), from_pandas=True), pa.large_string()
        )
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        comma = "," if position else ""
        label = comma + json.dumps(name, ensure_ascii=False) + ':"'
        if values.null_count:
            # Blank in some rows: the member is left out there (null label, value and quote).
            parts.append(_joined(_text(label), _json_escaped(values), _text('"')))
            first_blank |= position == 0
        else:
            parts.extend((label, _json_escaped(values), '"'))
    # The window closes every object: fixed-width text, with whatever text came before it.
    lead = parts.pop() if isinstance(parts[-1], str) else ""
    pieces: list[pa.Array | pa.Scalar] = []
    for part in parts:
        if isinstance(part, str) and pieces and isinstance(pieces[-1], pa.Scalar):
            pieces[-1] = _text(pieces[-1].as_py() + part)
        else:
            pieces.append(_text(part) if isinstance(part, str) else part)
    objects = pc.binary_join_element_wise(
        *pieces,
        _window_text(contacts["guard_start"], contacts["guard_end"], lead),
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
    return _body(contact_objects(contacts) if objects is None else objects, None, modes)


def chunk_body(chunk: Chunk, modes: UploadModes) -> bytes:
    """The JSON body for one chunk (from its objects made ahead, when it has them)."""
    made = chunk.made_ahead()
    if made is None:
        return upload_body(chunk.contacts, modes)
    return _body(*made, modes)


def _body(objects: pd.Series, rows: slice | None, modes: UploadModes) -> bytes:
    """The body of `rows` of `objects` (all of them when None)."""
    return _body_head(modes) + _joined_objects(objects, rows) + b"]}"


@lru_cache(maxsize=8)
def _body_head(modes: UploadModes) -> bytes:
    """The body up to its first contact."""
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
    return (head[:-1] + ',"contacts":[').encode("utf-8")


def _joined_objects(objects: pd.Series, rows: slice | None = None) -> bytes:
    """The objects' text (of `rows` of them: all when None) end to end, less the last comma,
    as UTF-8 bytes: one slice of their Arrow buffer (no Python string per object)."""
    values = pa.array(objects, type=pa.large_string(), from_pandas=True)
    if rows is not None:
        values = values[rows]  # before joining a chunked array's pieces: no copy of the rest
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not len(values):
        return b""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
    first, last = values.offset, values.offset + len(values)
    start, stop = int(offsets[first]), int(offsets[last])
    return bytes(values.buffers()[2][start : stop - 1].to_pybytes())


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _joined(*parts: pa.Array | pa.Scalar) -> pa.Array:
    """Parts concatenated row by row (null where any part is null)."""
    return pc.binary_join_element_wise(*parts, _text(""))


def _needs_escape(values: pa.Array) -> bool:
    """Whether any value holds a byte JSON must escape (a quote, a backslash or a control
    character; checked on the UTF-8 bytes)."""
    data = values.buffers()[2]
    if data is None or not data.size:
        return False
    octets = np.frombuffer(data, dtype=np.uint8)
    return bool(octets.min() < 0x20 or (octets == ord('"')).any() or (octets == ord("\\")).any())


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


_WIRE_WIDTH = len("0000-00-00T00:00:00Z")
_MINUTES_PER_DAY = 24 * 60
# "HH:MM" of each minute of a day, as bytes.
_CLOCK = np.frombuffer(
    "".join(f"{m // 60:02d}:{m % 60:02d}" for m in range(_MINUTES_PER_DAY)).encode(), np.uint8
).reshape(_MINUTES_PER_DAY, 5)


def _window_text(start: pd.Series, end: pd.Series, lead: str = "") -> pa.Array:
    """Each row's `lead` + '},"guardTime":{"start":"S","end":"E"}},', S and E as WIRE_TIME,
    copied into fixed-width bytes from a table of the days the rows span and one of the
    minutes of a day: string formatting costs far more per row."""
    head = (lead + '},"guardTime":{"start":"').encode()
    template = head + b'0000-00-00T00:00:00Z","end":"0000-00-00T00:00:00Z"}},'
    rows = len(start)
    text = np.empty((rows, len(template)), dtype=np.uint8)
    text[:] = np.frombuffer(template, dtype=np.uint8)
    for instants, at in ((start, len(head)), (end, len(template) - 4 - _WIRE_WIDTH)):
        _write_wire_time(text, at, instants)
    offsets = np.arange(rows + 1, dtype=np.int64) * len(template)
    return pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(text))


def _write_wire_time(text: npt.NDArray[np.uint8], at: int, instants: pd.Series) -> None:
    """Write UTC instants as WIRE_TIME into columns `at`.. of `text` (one row each)."""
    if not len(instants):
        return
    ns = utc_ns(instants)
    days, minute_of_day = np.divmod(ns // NS_PER_MINUTE, _MINUTES_PER_DAY)
    first = int(days.min())
    dates = _dates(first, int(days.max()))
    # Whole fields at a time: each row's date (10 bytes) and clock (5 bytes) as one item.
    _field(text, at, 10)[:] = dates.view("V10").ravel()[days - first]
    _field(text, at + 11, 5)[:] = _CLOCK.view("V5").ravel()[minute_of_day]


def _field(text: npt.NDArray[np.uint8], at: int, width: int) -> npt.NDArray[np.void]:
    """Columns `at`..`at + width` of each row of `text`, as one item per row (a view)."""
    return np.ndarray((len(text),), f"V{width}", text, at, (text.strides[0],))


def _dates(first: int, last: int) -> npt.NDArray[np.uint8]:
    """'YYYY-MM-DD' of each day from `first` to `last` (days since the epoch), as bytes."""
    year, month, day = civil_from_days(np.arange(first, last + 1, dtype=np.int64))
    digits = np.empty((last + 1 - first, 10), dtype=np.uint8)
    digits[:] = np.frombuffer(b"0000-00-00", dtype=np.uint8)
    for value, column, width in ((year, 0, 4), (month, 5, 2), (day, 8, 2)):
        for place in range(width):
            digits[:, column + width - 1 - place] = 48 + (value // 10**place) % 10
    return digits


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

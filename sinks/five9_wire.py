"""Five9 REST wire details, in one place so a customer's API bundle can correct them.

shared/five9-api.md marks each fact: the token call and whoami are [practice]; the lists path
and the whole upload call (path, body, answer) are [assumed]. Nothing else in the project
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

from schemas.fields import SOURCE_FILE, SOURCE_LINE

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

    keys: tuple[str, ...] = ("number1",)
    crm_add_mode: str = "ADD_NEW"
    crm_update_mode: str = "UPDATE_FIRST"
    list_add_mode: str = "ADD_FIRST"


def upload_body(contacts: pd.DataFrame, modes: UploadModes) -> bytes:
    """The JSON body for one chunk: each contact's fields as strings and its guard window."""
    fields = [
        c
        for c in contacts.columns
        if c not in (SOURCE_FILE, SOURCE_LINE, "guard_start", "guard_end")
    ]
    values = contacts[fields].astype("str")
    present = values.notna().to_numpy()
    cells = values.to_numpy(dtype=object)
    starts = contacts["guard_start"].dt.strftime(WIRE_TIME).to_numpy(dtype=object)
    ends = contacts["guard_end"].dt.strftime(WIRE_TIME).to_numpy(dtype=object)
    names = np.array(fields, dtype=object)
    payload = {
        "keys": list(modes.keys),
        "crmAddMode": modes.crm_add_mode,
        "crmUpdateMode": modes.crm_update_mode,
        "listAddMode": modes.list_add_mode,
        "contacts": [
            {
                "fields": dict(zip(names[row_present], row_cells[row_present], strict=True)),
                "guardTime": {"start": start, "end": end},
            }
            for row_cells, row_present, start, end in zip(cells, present, starts, ends, strict=True)
        ],
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class ImportTrouble:
    """A row Five9 did not load: its 0-based position in the chunk and Five9's message."""

    position: int
    kind: str
    message: str


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

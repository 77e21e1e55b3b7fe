"""Five9 legacy SOAP wire details (shared/five9-api.md section 3), in one place so a customer's
API bundle can correct them.

[confirmed] the endpoint path, HTTP Basic, the namespace, `asyncAddRecordsToList` with
`listUpdateSettings` (fieldsMapping, skipHeaderLine, cleanListBeforeUpdate, the three modes,
callTimeColumnNumber as epoch milliseconds) and at most 100 records a call, the
isImportRunning / getListImportResult polling and the names of the faults.
[practice] `importData` as rows of `<values><item>`, `getListsInfo` to find a list.
[assumed] the types in our WSDL (sinks/wsdl/AdminWebService.wsdl), `waitTime` in seconds,
`warningsCount` as entries of key and value, the faults' detail holding `<message>`, and that
an empty cell leaves a field as it is. Nothing else in the project knows a SOAP name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from zeep.exceptions import Fault
from zeep.helpers import serialize_object

from schemas.fields import SOURCE_FILE, SOURCE_LINE
from sinks.five9_wire import ImportTrouble, UploadModes

WSDL_PATH = Path(__file__).resolve().parent / "wsdl" / "AdminWebService.wsdl"
BINDING = "{http://service.admin.ws.five9.com/}WsAdminPortBinding"
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")

# Fault names (the detail's element) and what the sink does about them.
LIST_NOT_FOUND = "ListNotFoundFault"
SIZE_LIMIT = "ImportSizeLimitExceededFault"
OPERATIONS_LIMIT = "OperationsLimitExceededFault"
CONCURRENT = "ConcurrentModificationFault"
# Faults of a call refused before anything was done: not counted against the user's limits
# [assumed; the sandbox does the same, five9_sandbox/soap_imports.py].
UNCOUNTED_FAULTS = frozenset({LIST_NOT_FOUND, SIZE_LIMIT, OPERATIONS_LIMIT, CONCURRENT})
NOT_READY = "ResultIsNotReadyFault"


def import_columns(contacts: pd.DataFrame) -> list[str]:
    """The Five9 fields of a chunk, in column order (the call time goes after them)."""
    return [
        c
        for c in contacts.columns
        if c not in (SOURCE_FILE, SOURCE_LINE, "guard_start", "guard_end")
    ]


def list_update_settings(columns: list[str], modes: UploadModes) -> dict[str, Any]:
    """`listUpdateSettings`: each column mapped by number, the keys marked, each row's call
    time in the column after the fields; element order follows the XSD (zeep keeps it)."""
    return {
        "fieldsMapping": [
            {"columnNumber": number, "fieldName": name, "key": name in modes.keys}
            for number, name in enumerate(columns, start=1)
        ],
        "skipHeaderLine": False,
        "callTimeColumnNumber": len(columns) + 1,
        "cleanListBeforeUpdate": False,
        "crmAddMode": modes.crm_add_mode,
        "crmUpdateMode": modes.crm_update_mode,
        "listAddMode": modes.list_add_mode,
    }


def call_times(guard_start: pd.Series) -> list[str]:
    """Each row's guard start as epoch milliseconds (Five9's call time), as text."""
    millis = (guard_start - EPOCH) // pd.Timedelta(milliseconds=1)
    return [str(int(value)) for value in millis]


def import_data(contacts: pd.DataFrame, columns: list[str]) -> dict[str, Any]:
    """`importData`: one `values` row per contact, its fields as text ("" when absent), then
    its call time."""
    cells = contacts[columns].astype("str").fillna("").to_numpy(dtype=object).tolist()
    starts = call_times(contacts["guard_start"])
    return {"values": [{"item": [*row, start]} for row, start in zip(cells, starts, strict=True)]}


def list_pattern(name: str) -> str:
    """`getListsInfo`'s `listNamePattern` (a regular expression) for exactly one name."""
    return re.escape(name)


def list_names(answer: Any) -> list[str]:
    """The names in a `getListsInfo` answer."""
    return [str(item["name"]) for item in serialize_object(answer) or [] if item]


def fault_name(fault: Fault) -> str:
    """The fault named in the detail (e.g. `ListNotFoundFault`), or "" when none is."""
    detail = fault.detail
    if detail is None:
        return ""
    for child in detail:
        tag = getattr(child, "tag", None)
        if isinstance(tag, str):
            return tag.rsplit("}", 1)[-1]
    return ""


def fault_text(fault: Fault) -> str:
    """One line: the fault's name and message."""
    name = fault_name(fault) or "a SOAP fault"
    message = " ".join(str(fault.message or "").split())
    return f"{name}: {message}" if message else name


@dataclass(frozen=True)
class ImportAnswer:
    """What `getListImportResult` says about one call's rows."""

    troubles: tuple[ImportTrouble, ...]
    warnings: dict[str, int] = field(default_factory=dict)
    failure: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


COUNTS = (
    "crmRecordsInserted",
    "crmRecordsUpdated",
    "listRecordsInserted",
    "uploadDuplicatesCount",
    "uploadErrorsCount",
)


def read_import_result(result: Any, rows: int) -> ImportAnswer:
    """`listImportResult`: troubles (`rowNumber` 1-based within the call), warnings, the
    failure message and the counts."""
    data: dict[str, Any] = serialize_object(result, dict) or {}
    troubles = []
    for item in data.get("importTroubles") or []:
        number = int(item.get("rowNumber") or 0)
        if 1 <= number <= rows:
            troubles.append(
                ImportTrouble(
                    number - 1, str(item.get("kind") or ""), str(item.get("troubleMessage") or "")
                )
            )
    warnings = {
        str(entry["key"]): int(entry["value"] or 0)
        for entry in (data.get("warningsCount") or {}).get("entry") or []
    }
    failure = data.get("failureMessage")
    counts = {name: int(data.get(name) or 0) for name in COUNTS}
    return ImportAnswer(tuple(troubles), warnings, str(failure) if failure else None, counts)

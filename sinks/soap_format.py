"""Five9 legacy SOAP wire details (docs/five9-contract.md, the SOAP part), in one place so a
customer's API bundle can correct them.

[confirmed] the endpoint path, HTTP Basic, the namespace, `asyncAddRecordsToList` with
`listUpdateSettings` (fieldsMapping, skipHeaderLine, cleanListBeforeUpdate, the three modes,
callTimeColumnNumber as epoch milliseconds) and at most 100 records a call, the
isImportRunning / getListImportResult polling, the names of the faults, every type of our WSDL
(sinks/wsdl/AdminWebService.wsdl, written from Five9's published v13 WSDL), what a result's
`failureMessage` means, and `getCallCountersState`.
[practice] `importData` as rows of `<values><item>`, `getListsInfo` to find a list.
[assumed] `waitTime` in seconds, a counter's `timeout` as its period in seconds, the faults'
detail holding `<message>`, and that an empty cell leaves a field as it is. Nothing else in the
project knows a SOAP name.
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
from sinks.rest_format import UploadModes
from sinks.wire import ImportTrouble

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
    """What `getListImportResult` says about one call's rows.

    `failureMessage` is a message, not a verdict: Five9 sets it ("There were errors during
    the upload") on answers that took most rows and list the rest in `importTroubles`
    [confirmed: published request/response examples]. The rows named in `troubles` were
    refused and the others taken; the call failed as a whole only when Five9 took nothing
    and names no trouble (`failed_whole`)."""

    troubles: tuple[ImportTrouble, ...]
    warnings: dict[str, int] = field(default_factory=dict)
    failure: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    key_fields: tuple[str, ...] = ()
    imported_rows: int = 0

    @property
    def took_nothing(self) -> bool:
        """No record inserted or updated in the contacts, none added to the list, no trouble."""
        return not self.troubles and not any(self.counts.get(name) for name in TAKEN)

    @property
    def failed_whole(self) -> bool:
        """Five9 says the import failed and took none of the call's rows."""
        return self.failure is not None and self.took_nothing


# listImportResult's counts, in the order Five9 declares them (basicImportResult's first).
COUNTS = (
    "uploadDuplicatesCount",
    "uploadErrorsCount",
    "callNowQueued",
    "crmRecordsInserted",
    "crmRecordsUpdated",
    "listRecordsDeleted",
    "listRecordsInserted",
    "recordDispositionsReset",
)
TAKEN = ("crmRecordsInserted", "crmRecordsUpdated", "listRecordsInserted")


def read_import_result(result: Any, rows: int) -> ImportAnswer:
    """`listImportResult`: troubles (`rowNumber` 1-based within the call; `key` once per key
    field), warnings, the failure message, the counts and the key fields."""
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
    return ImportAnswer(
        tuple(troubles),
        warnings,
        " ".join(str(failure).split()) if failure else None,
        {name: int(data.get(name) or 0) for name in COUNTS},
        tuple(str(name) for name in data.get("keyFields") or []),
        len(data.get("importedRows") or []),
    )


# Five9's classes of operations in `getCallCountersState` [confirmed]: the import calls, and the
# Query class (isImportRunning, getListImportResult, getListsInfo, getCallCountersState).
ASYNCHRONOUS_UPLOAD = "AsynchronousUpload"
QUERY = "Query"


@dataclass(frozen=True)
class CallCounter:
    """One of the user's limits as Five9 counts it: `used` of `limit` calls of an operation
    class in the current period of `seconds` (calendar periods at Five9's data centre)."""

    operation: str
    seconds: float
    limit: int
    used: int


def read_call_counters(answer: Any) -> list[CallCounter]:
    """`getCallCountersState`: every `limitTimeoutState` (its `timeout` is the period in seconds
    [assumed]) and its `callCounterStates`."""
    counters = []
    for state in serialize_object(answer, dict) or []:
        if not state:
            continue
        seconds = float(state.get("timeout") or 0)
        for counter in state.get("callCounterStates") or []:
            if counter and seconds > 0:
                counters.append(
                    CallCounter(
                        str(counter.get("operationType") or ""),
                        seconds,
                        int(counter.get("limit") or 0),
                        int(counter.get("value") or 0),
                    )
                )
    return counters


def counters_note(counters: list[CallCounter]) -> str | None:
    """What Five9's counters said the user's calls had spent before the first import."""
    spent = [
        f"{c.used:,} of {c.limit:,} {name} {PERIODS.get(c.seconds, f'per {c.seconds:g} s')}"
        for c in counters
        for name in (OPERATION_NAMES.get(c.operation),)
        if name
    ]
    if not spent:
        return None
    return (
        "Five9's counters of this user's calls (by anyone, other machines included) before "
        f"the first import: {'; '.join(spent)}."
    )


OPERATION_NAMES = {ASYNCHRONOUS_UPLOAD: "import calls", QUERY: "query calls"}
PERIODS = {60.0: "a minute", 3600.0: "an hour", 86400.0: "a day"}

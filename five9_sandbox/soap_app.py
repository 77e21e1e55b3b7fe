"""Five9's legacy SOAP Configuration Web Services (docs/five9-contract.md) over a ``Sandbox``.

``POST /wsadmin/v13/AdminWebService`` with HTTP Basic (the domain's admin user and password);
``GET ...?wsdl`` serves the project's WSDL. Operations: ``getListsInfo``,
``asyncAddRecordsToList`` (at most ``soap_max_records`` rows; the import runs asynchronously
for ``soap_import_seconds``), ``isImportRunning``, ``getListImportResult`` and
``getCallCountersState``. Answers carry every element of Five9's published types, in order
(a ``listImportResult`` from ``failureMessage`` to ``recordDispositionsReset``), with true
values: ``importTroubles.key`` and ``importedRows.key`` once per key field, ``keyFields`` the
mapping's keys, ``listRecordsDeleted`` what ``cleanListBeforeUpdate`` removed,
``callNowQueued`` and ``recordDispositionsReset`` 0 (the sandbox dials nobody).

Decided here [assumed]: a missing or wrong password is HTTP 401 with no envelope; a request
that is not a well-formed operation is a ``Client`` fault; ``waitTime`` is in seconds (the
answer comes when the import ends or the wait runs out, at most 30 s); an empty cell of
``importData`` means "field not given"; when the domain's custom fields are configured, a
mapped field that does not exist is ignored and counted in ``warningsCount``; a row whose
call-time cell is not epoch milliseconds is an ``importTroubles`` ``ParseError``; an import
with any trouble has ``failureMessage`` "There were errors during the upload" and ``success``
false (the shape of Five9's published answers, which take the other rows all the same);
``importedRows`` lists every row taken (when Five9 lists them is not published).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree

from five9_sandbox.connection_drop import mark_drop
from five9_sandbox.importer import ImportResult
from five9_sandbox.rest_app import _basic_credentials
from five9_sandbox.soap_envelope import (
    EnvelopeError,
    add,
    all_children,
    answer,
    answer_many,
    child_text,
    fault,
    read_request,
    rows_of,
    to_bytes,
    wsdl_document,
)
from five9_sandbox.soap_imports import ImportJob, SoapDesk, epoch_ms_text
from five9_sandbox.state import Sandbox
from five9_sandbox.upload_contract import STANDARD_FIELDS, UploadBody

SOAP_PATH = "/wsadmin/v13/AdminWebService"
MAX_WAIT_SECONDS = 30.0
ERRORS_MESSAGE = "There were errors during the upload"
INJECTED_FAILURE = "Import failed: internal error (injected)"
# Five9's Query class: counted against its own limit [confirmed].
QUERY_OPERATIONS = frozenset(
    {"isImportRunning", "getListImportResult", "getListsInfo", "getCallCountersState"}
)
_XML = "text/xml; charset=utf-8"


class SoapFaultError(Exception):
    """An answer that is a SOAP fault naming `name` (HTTP 500, as SOAP 1.1 wants)."""

    def __init__(self, name: str, message: str, code: str = "Server") -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.code = code

    def response(self) -> Response:
        return Response(fault(self.name, self.message, self.code), 500, media_type=_XML)


def _xml(element: etree._Element) -> Response:
    return Response(to_bytes(element), 200, media_type=_XML)


def _flag(value: str | None, name: str, required: bool = False) -> bool:
    if value is None:
        if required:
            raise SoapFaultError("ServerFault", f"listUpdateSettings.{name} is required", "Client")
        return False
    if value not in ("true", "false", "1", "0"):
        raise SoapFaultError("ServerFault", f"listUpdateSettings.{name}: not a boolean", "Client")
    return value in ("true", "1")


def _number(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.strip().lstrip("-").isdigit():
        raise SoapFaultError("ServerFault", f"{name}: not a number", "Client")
    return int(value)


def soap_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()

    @router.get(SOAP_PATH)
    async def wsdl(request: Request) -> Response:
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return Response("add ?wsdl for the service description", 404)
        address = str(request.url.replace(query=""))
        return Response(wsdl_document(address), 200, media_type=_XML)

    @router.post(SOAP_PATH)
    async def call(request: Request) -> Response:
        raw = await request.body()
        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials is None or not sandbox.soap.verify(*credentials):
            sandbox.event("soap_unauthorized", user=credentials[0] if credentials else None)
            return Response(
                "401 Unauthorized", 401, headers={"WWW-Authenticate": 'Basic realm="Five9"'}
            )
        user = credentials[0]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "text/xml":  # SOAP 1.1 (JAX-WS answers 415 to anything else)
            sandbox.event("soap_wrong_content_type", content_type=content_type)
            return Response(f"415 Unsupported Media Type: {content_type!r}", 415)
        try:
            operation, element = read_request(raw)
        except EnvelopeError as error:
            return SoapFaultError("ServerFault", str(error), "Client").response()
        began = asyncio.get_running_loop().time()
        if not sandbox.soap.enter(user, operation):
            sandbox.event("soap_concurrent_call", user=user, operation=operation)
            return SoapFaultError(
                "ConcurrentModificationFault",
                f"another call of user {user} is in progress",
            ).response()
        try:
            if operation in QUERY_OPERATIONS and not sandbox.soap.admit_query(
                user, time.monotonic()
            ):
                sandbox.event("soap_operations_limit", injected=False, user=user, window="query")
                raise SoapFaultError(
                    "OperationsLimitExceededFault", f"Operations limit exceeded for {operation}"
                )
            if operation == "asyncAddRecordsToList":
                return await add_records(request, element, user)
            if operation == "isImportRunning":
                return await is_running(element)
            if operation == "getListImportResult":
                return result_of(element)
            if operation == "getListsInfo":
                return lists_info(element)
            if operation == "getCallCountersState":
                return counters_of(user)
            raise SoapFaultError("ServerFault", f"unknown operation {operation!r}", "Client")
        except SoapFaultError as error:
            return error.response()
        finally:
            # Five9 serves a call for a while: a second call of the user meanwhile collides.
            held = began + sandbox.settings.soap_call_seconds - asyncio.get_running_loop().time()
            if held > 0:
                await asyncio.sleep(held)
            sandbox.soap.leave(user)

    def lists_info(element: etree._Element) -> Response:
        pattern = child_text(element, "listNamePattern")
        try:
            matcher = re.compile(pattern or ".*")
        except re.error:
            raise SoapFaultError(
                "ServerFault", "listNamePattern is not a pattern", "Client"
            ) from None
        found = [i for i in sandbox.find_lists(None) if matcher.fullmatch(i.name)]
        returns = answer_many("getListsInfo", len(found))
        for target, info in zip(returns, found, strict=False):
            add(target, "name", info.name)
            add(target, "size", info.size)
        return _xml(returns[0])

    async def add_records(request: Request, element: etree._Element, user: str) -> Response:
        list_name = child_text(element, "listName") or ""
        rows = rows_of(element.find("importData"))
        if not sandbox.find_lists(list_name):
            raise SoapFaultError("ListNotFoundFault", f"List '{list_name}' not found")
        limit = sandbox.settings.soap_max_records
        if len(rows) > limit:
            raise SoapFaultError(
                "ImportSizeLimitExceededFault",
                f"{len(rows)} records in one call; at most {limit}",
            )
        if not rows:
            raise SoapFaultError("ServerFault", "importData holds no records", "Client")
        gate = sandbox.begin_soap_import(user, list_name)
        if gate.delay > 0:
            await asyncio.sleep(gate.delay)
        if gate.outcome in ("storm_429", "rate_limited"):
            raise SoapFaultError(
                "OperationsLimitExceededFault",
                "Operations limit exceeded for asyncAddRecordsToList",
            )
        if gate.outcome == "drop":
            mark_drop(request.scope)  # whatever is answered below is swallowed
            if not gate.load_before_drop:
                return Response(status_code=204)
        if gate.outcome == "error_5xx":
            status = gate.status or 500
            if status == 500:
                raise SoapFaultError("ServerFault", "injected fault: internal error")
            return Response(f"injected fault: HTTP {status}", status, media_type="text/plain")
        body, early, warnings = _read_import(element.find("listUpdateSettings"), rows)
        job = sandbox.soap.start(list_name, user, len(rows), tuple(body[0].keys))
        if job is None:
            raise SoapFaultError(
                "ConcurrentModificationFault", f"an import into list '{list_name}' is running"
            )
        sandbox.event("soap_import_started", identifier=job.identifier, rows=len(rows))
        asyncio.get_running_loop().call_later(
            sandbox.settings.soap_import_seconds, finish, sandbox.soap, job, body, early, warnings
        )
        target = answer("asyncAddRecordsToList")
        add(target, "identifier", job.identifier)
        return _xml(target)

    def _read_import(
        settings: etree._Element | None, rows: list[list[str]]
    ) -> tuple[tuple[UploadBody, list[int], bool], list[dict[str, Any]], dict[str, int]]:
        if settings is None:
            raise SoapFaultError("ServerFault", "listUpdateSettings is required", "Client")
        _flag(child_text(settings, "skipHeaderLine"), "skipHeaderLine", required=True)
        clean = _flag(child_text(settings, "cleanListBeforeUpdate"), "cleanListBeforeUpdate", True)
        skip_header = child_text(settings, "skipHeaderLine") in ("true", "1")
        mapping: list[tuple[int, str, bool]] = []
        for entry in all_children(settings, "fieldsMapping"):
            column = _number(child_text(entry, "columnNumber"), "fieldsMapping.columnNumber")
            name = child_text(entry, "fieldName") or ""
            if column is None or column < 1 or not name:
                raise SoapFaultError(
                    "ServerFault", "fieldsMapping needs columnNumber and fieldName"
                )
            mapping.append((column, name, _flag(child_text(entry, "key"), "key")))
        keys = [name for _, name, key in mapping if key]
        if not keys:
            raise SoapFaultError("ServerFault", "no key field in fieldsMapping", "Client")
        custom = sandbox.settings.custom_fields
        warnings: dict[str, int] = {}
        if custom is not None:
            unknown = [n for _, n, _ in mapping if n not in STANDARD_FIELDS and n not in custom]
            for name in unknown:
                warnings[f"Field '{name}' does not exist; its column was ignored"] = len(rows)
            mapping = [m for m in mapping if m[1] not in unknown]
        call_column = _number(child_text(settings, "callTimeColumnNumber"), "callTimeColumnNumber")
        if call_column is not None and call_column < 1:
            raise SoapFaultError(
                "ServerFault", "callTimeColumnNumber is 1-based: 1 or more", "Client"
            )
        width = max([column for column, _, _ in mapping] + [call_column or 0])
        call_time = _number(child_text(settings, "callTime"), "callTime")
        modes = {
            "crmAddMode": child_text(settings, "crmAddMode") or "ADD_NEW",
            "crmUpdateMode": child_text(settings, "crmUpdateMode") or "UPDATE_FIRST",
            "listAddMode": child_text(settings, "listAddMode") or "ADD_FIRST",
        }
        contacts: list[dict[str, Any]] = []
        numbers: list[int] = []
        early: list[dict[str, Any]] = []
        key_columns = [column for column, _, key in mapping if key]
        for number, row in enumerate(rows[1:] if skip_header else rows, start=1):
            if len(row) < width:  # a column the mapping names is not in the row [assumed]
                early.append(
                    {
                        "rowNumber": number,
                        "kind": "ParseError",
                        "key": [row[c - 1] if c <= len(row) else "" for c in key_columns],
                        "troubleMessage": f"The row has {len(row)} columns; {width} are mapped",
                    }
                )
                continue
            fields = {
                name: row[column - 1]
                for column, name, _ in mapping
                if column <= len(row) and row[column - 1] != ""
            }
            cell = str(call_time) if call_time is not None else ""
            if call_column is not None:
                cell = row[call_column - 1] if call_column <= len(row) else ""
            start = epoch_ms_text(cell) if cell else ""
            if start is None:
                early.append(
                    {
                        "rowNumber": number,
                        "kind": "ParseError",
                        "key": [fields.get(k, "") for k in keys],
                        "troubleMessage": "Value of the call time column has incorrect format",
                    }
                )
                continue
            contacts.append({"fields": fields, "guardTime": {"start": start, "end": ""}})
            numbers.append(number)
        try:
            body = UploadBody.model_validate({"keys": keys, **modes, "contacts": contacts})
        except ValueError:
            raise SoapFaultError(
                "ServerFault", "listUpdateSettings: a mode is not valid", "Client"
            ) from None
        return (body, numbers, clean), early, warnings

    def finish(
        desk: SoapDesk,
        job: ImportJob,
        read: tuple[UploadBody, list[int], bool],
        early: list[dict[str, Any]],
        warnings: dict[str, int],
    ) -> None:
        body, numbers, clean = read
        if sandbox.soap is not desk:  # the domain was reset while the import ran
            return
        if sandbox.soap_import_fails():  # nothing is taken, no row is named
            sandbox.event("soap_import_failed", identifier=job.identifier)
            desk.finish(job.identifier, None, warnings, INJECTED_FAILURE)
            return
        try:
            deleted = 0
            if clean:  # Five9 empties the list first: every record not in this call is gone
                deleted = sandbox.clean_list(job.list_name)
                sandbox.event("soap_list_cleaned", list_name=job.list_name)
            result = sandbox.import_rows(job.list_name, body) if body.contacts else None
        except KeyError:
            desk.finish(job.identifier, None, {}, f"List '{job.list_name}' not found")
            return
        result = result or ImportResult(list_name=job.list_name)
        result.list_deleted = deleted
        for row in [*result.troubles, *result.imported]:  # back to the row numbers of the call
            row["rowNumber"] = numbers[row["rowNumber"] - 1]
        result.troubles = sorted([*early, *result.troubles], key=lambda t: t["rowNumber"])
        result.errors += len(early)
        desk.finish(job.identifier, result, warnings)
        sandbox.event("soap_import_finished", identifier=job.identifier)

    def job_of(element: etree._Element) -> ImportJob:
        identifier = child_text(element.find("identifier"), "identifier") or ""
        job = sandbox.soap.job(identifier)
        if job is None:
            raise SoapFaultError(
                "ServerFault", f"unknown import identifier {identifier!r}", "Client"
            )
        return job

    async def is_running(element: etree._Element) -> Response:
        job = job_of(element)
        wait = min(
            float(_number(child_text(element, "waitTime"), "waitTime") or 0), MAX_WAIT_SECONDS
        )
        deadline = asyncio.get_running_loop().time() + wait
        while job.running and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        target = answer("isImportRunning")
        target.text = "true" if job.running else "false"
        return _xml(target)

    def result_of(element: etree._Element) -> Response:
        job = job_of(element)
        if job.running or sandbox.soap_result_not_ready():
            sandbox.event("soap_result_not_ready", identifier=job.identifier)
            raise SoapFaultError("ResultIsNotReadyFault", "Result is not ready")
        result = job.result or ImportResult(list_name=job.list_name)
        failure = job.failure or (ERRORS_MESSAGE if result.troubles else None)
        target = answer("getListImportResult")
        # basicImportResult, in the order of Five9's published type
        if failure is not None:
            add(target, "failureMessage", failure)
        add(target, "importIdentifier", job.identifier)
        for trouble in result.troubles:
            item = add(target, "importTroubles")
            for value in trouble["key"]:
                add(item, "key", value)
            add(item, "kind", trouble["kind"])
            add(item, "rowNumber", trouble["rowNumber"])
            add(item, "troubleMessage", trouble["troubleMessage"])
        for row in result.imported:
            item = add(target, "importedRows")
            add(item, "lineNumber", row["rowNumber"])
            add(item, "crmId", row["crmId"])
            for value in row["key"]:
                add(item, "key", value)
            for outcome in row["results"]:
                add(item, "result", outcome)
        for name in job.keys:
            add(target, "keyFields", name)
        add(target, "success", failure is None)
        add(target, "uploadDuplicatesCount", result.duplicates)
        add(target, "uploadErrorsCount", result.errors)
        counts = add(target, "warningsCount")
        for message, count in job.warnings.items():
            entry = add(counts, "entry")
            add(entry, "key", message)
            add(entry, "value", count)
        # listImportResult's own elements
        add(target, "callNowQueued", 0)
        add(target, "crmRecordsInserted", result.crm_inserted)
        add(target, "crmRecordsUpdated", result.crm_updated)
        add(target, "listName", job.list_name)
        add(target, "listRecordsDeleted", result.list_deleted)
        add(target, "listRecordsInserted", result.list_inserted)
        add(target, "recordDispositionsReset", 0)
        return _xml(target)

    def counters_of(user: str) -> Response:
        periods = sandbox.soap.counters(user, time.monotonic())
        returns = answer_many("getCallCountersState", len(periods))
        for target, (seconds, states) in zip(returns, periods, strict=False):
            for operation, limit, value in states:
                state = add(target, "callCounterStates")
                add(state, "limit", limit)
                add(state, "operationType", operation)
                add(state, "value", value)
            add(target, "timeout", seconds)
        return _xml(returns[0])

    return router

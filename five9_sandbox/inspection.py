"""Inspection and control routes under ``/_sandbox`` for tests that run the pipeline in
another process. No authentication: the sandbox listens on loopback only.

- ``GET  /_sandbox/health`` -> ``{"status": "ok"}``
- ``GET  /_sandbox/lists/{name}/records`` -> ``{"list", "listId", "records": [{"key",
  "fields", "guard_start", "guard_end", "writes"}]}`` (404 for an unknown list)
- ``POST /_sandbox/lists`` ``{"name": ...}`` -> ``{"name", "listId"}``
- ``GET  /_sandbox/uploads[?consumer_key=K]`` -> counted upload times in seconds since the
  sandbox started (or was reset), ``max_in_any_window``, ``max_requests``, ``window_seconds``
- ``GET  /_sandbox/events`` -> ``{"events": [...]}``;
  ``GET /_sandbox/dropped-e164`` -> ``{"dropped": [...]}``
- ``GET  /_sandbox/faults`` -> the live plan; ``PUT /_sandbox/faults`` (a JSON ``FaultPlan``,
  unknown keys or wrong types -> 400) replaces it
- ``GET  /_sandbox/soap`` -> counted asyncAddRecordsToList times, the most in any sliding
  minute and hour window, the SOAP limits, and calls per operation
- ``POST /_sandbox/soap/spent`` ``{"calls": N, "seconds_ago": S}`` -> counts N import calls of
  the SOAP user made S seconds ago (by other work), as ``getCallCountersState`` will report
- ``POST /_sandbox/reset`` -> back to a fresh domain (see ``Sandbox.reset``)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter, ValidationError

from five9_sandbox.faults import FaultPlan
from five9_sandbox.rest_app import ApiError
from five9_sandbox.state import Sandbox

_FAULT_PLAN = TypeAdapter(FaultPlan)


def inspection_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/health")
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get("/lists/{name}/records")
    async def records(name: str) -> Response:
        found = sandbox.find_lists(name)
        if not found:
            raise ApiError(404, "not_found", f"list {name!r} not found")
        rows = [
            {
                "key": list(key),
                "fields": record.fields,
                "guard_start": record.guard_start,
                "guard_end": record.guard_end,
                "writes": record.writes,
            }
            for key, record in sandbox.records(name).items()
        ]
        return JSONResponse({"list": name, "listId": found[0].list_id, "records": rows})

    @router.post("/lists")
    async def add_list(request: Request) -> Response:
        body: Any = await _json(request)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise ApiError(400, "invalid_request", 'expected {"name": "<list name>"}')
        return JSONResponse({"name": name, "listId": sandbox.add_list(name)})

    @router.get("/uploads")
    async def uploads(consumer_key: str | None = None) -> Response:
        start = sandbox.started_at
        return JSONResponse(
            {
                "times": [t - start for t in sandbox.upload_times(consumer_key)],
                "max_in_any_window": sandbox.max_in_any_window(consumer_key),
                "max_requests": sandbox.settings.max_requests,
                "window_seconds": sandbox.settings.window_seconds,
            }
        )

    @router.get("/soap")
    async def soap() -> Response:
        return JSONResponse(sandbox.soap.summary(sandbox.started_at))

    @router.post("/soap/spent")
    async def spent(request: Request) -> Response:
        body: Any = await _json(request)
        calls = body.get("calls") if isinstance(body, dict) else None
        ago = body.get("seconds_ago", 0) if isinstance(body, dict) else None
        if not isinstance(calls, int) or calls < 0 or not isinstance(ago, int | float) or ago < 0:
            raise ApiError(400, "invalid_request", 'expected {"calls": N, "seconds_ago": S}')
        sandbox.spend_soap_calls(calls, float(ago))
        return JSONResponse(sandbox.soap.summary(sandbox.started_at))

    @router.get("/events")
    async def events() -> Response:
        return JSONResponse({"events": sandbox.events()})

    @router.get("/dropped-e164")
    async def dropped() -> Response:
        return JSONResponse({"dropped": [dataclasses.asdict(d) for d in sandbox.dropped_e164]})

    @router.get("/faults")
    async def get_faults() -> Response:
        return JSONResponse(dataclasses.asdict(sandbox.faults))

    @router.put("/faults")
    async def put_faults(request: Request) -> Response:
        try:
            plan = _FAULT_PLAN.validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise ApiError(400, "invalid_request", f"{where}: {first['msg']}") from None
        sandbox.set_faults(plan)
        return JSONResponse(dataclasses.asdict(sandbox.faults))

    @router.post("/reset")
    async def reset() -> Response:
        sandbox.reset()
        return JSONResponse({"status": "reset"})

    return router


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ApiError(400, "invalid_request", "body is not JSON") from None

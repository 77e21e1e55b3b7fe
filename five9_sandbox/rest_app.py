"""Five9 REST routes (docs/five9-contract.md, REST) over a ``Sandbox``.

Strict as Five9 or stricter. Facts the contract leaves open, decided here [assumed]:

- token: HTTP Basic must be present and well formed, the body must be
  ``application/x-www-form-urlencoded``; client authentication is checked before the grant
  type (401 ``invalid_client`` wins over 400 ``unsupported_grant_type``); ``expires_in`` is the
  ttl rounded down to whole seconds. Token errors are ``{"error": ...}`` only.
- other errors are ``{"error", "message"}``; 401 carries ``WWW-Authenticate: Bearer``.
- check order for authorised calls: 401 token, 403 scope, 404 domain, 404 list, then (uploads)
  faults and the rate window, then the body (400).
- list lookup: ``filter`` must be ``name=='NAME'`` (or ``name=="NAME"``), anything else is 400;
  ``pageLimit`` 1..1000, default 100; ``pageCursor`` is opaque (only values the sandbox issued
  are accepted); ``paging.next`` is an absolute URL or null.
- upload: ``Content-Type`` must be ``application/json``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from five9_sandbox.connection_drop import mark_drop
from five9_sandbox.state import Principal, Sandbox, UnauthorizedError
from five9_sandbox.upload_contract import BadRequestError

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
_NAME_FILTER = re.compile(r"""name==(?:'([^']*)'|"([^"]*)")""")


class ApiError(Exception):
    """An error answer: ``{"error", "message"}`` (or ``{"error"}`` alone) with a status."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or error)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.error}
        if self.message is not None:
            body["message"] = self.message
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    return (key, secret) if sep else None


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix == "offset" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, "invalid_request", "pageCursor: not a cursor this server issued")


def rest_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    settings = sandbox.settings

    def authorise(request: Request, scope: str | None) -> Principal:
        try:
            principal = sandbox.authenticate(
                _bearer(request.headers.get("authorization")), path=request.url.path
            )
        except UnauthorizedError as exc:
            raise ApiError(
                401,
                exc.error,
                f"bearer token rejected: {exc.reason}",
                {"WWW-Authenticate": f'Bearer error="{exc.error}"'},
            ) from None
        if scope is not None and scope not in principal.scopes:
            sandbox.note_forbidden(principal, scope, request.url.path)
            raise ApiError(403, "insufficient_scope", f"the token lacks the {scope} scope")
        return principal

    def check_domain(domain_id: str) -> None:
        if domain_id != settings.domain_id:
            raise ApiError(404, "not_found", f"domain {domain_id!r} not found")

    @router.post("/oauth2/v1/token")
    async def token(request: Request) -> Response:
        raw = await request.body()
        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            raise ApiError(401, "invalid_client", headers={"WWW-Authenticate": "Basic"})
        try:
            sandbox.verify_client(*credentials)
        except UnauthorizedError as exc:
            raise ApiError(401, exc.error, headers={"WWW-Authenticate": "Basic"}) from None
        if _media_type(request) != "application/x-www-form-urlencoded":
            raise ApiError(400, "invalid_request")
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "invalid_request") from None
        if form.get("grant_type") != ["client_credentials"]:
            raise ApiError(400, "unsupported_grant_type")
        issued = sandbox.issue_token(*credentials)
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/users/v1/users/whoami")
    async def whoami(request: Request) -> Response:
        authorise(request, None)
        return JSONResponse({"domainId": settings.domain_id, "username": settings.username})

    @router.get("/lists/v1/domains/{domain_id}/lists")
    async def lists(request: Request, domain_id: str) -> Response:
        authorise(request, "lists:read")
        check_domain(domain_id)
        params = request.query_params
        name: str | None = None
        if "filter" in params:
            match = _NAME_FILTER.fullmatch(params["filter"])
            if match is None:
                raise ApiError(400, "invalid_request", "filter: only name=='NAME' is supported")
            name = match.group(1) if match.group(1) is not None else match.group(2)
        limit_text = params.get("pageLimit", str(DEFAULT_PAGE_LIMIT))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_LIMIT:
            raise ApiError(400, "invalid_request", f"pageLimit: 1 to {MAX_PAGE_LIMIT}")
        limit = int(limit_text)
        offset = _decode_cursor(params["pageCursor"]) if "pageCursor" in params else 0
        found = sandbox.find_lists(name)
        page = found[offset : offset + limit]
        next_url = None
        if offset + limit < len(found):
            next_url = str(
                request.url.include_query_params(
                    pageCursor=_encode_cursor(offset + limit), pageLimit=limit
                )
            )
        items = [{"listId": i.list_id, "name": i.name, "size": i.size} for i in page]
        return JSONResponse({"items": items, "paging": {"next": next_url}})

    @router.post("/lists/v1/domains/{domain_id}/lists/{list_id}/contacts")
    async def upload(request: Request, domain_id: str, list_id: str) -> Response:
        raw = await request.body()
        principal = authorise(request, "lists:write")
        check_domain(domain_id)
        list_name = sandbox.list_name_of(list_id)
        if list_name is None:
            raise ApiError(404, "not_found", f"list {list_id!r} not found")
        gate = sandbox.begin_upload(principal, list_name)
        if gate.delay > 0:
            await asyncio.sleep(gate.delay)
        if gate.outcome in ("storm_429", "rate_limited"):
            headers = {} if gate.retry_after is None else {"Retry-After": gate.retry_after}
            raise ApiError(429, "too_many_requests", "upload rate limit exceeded", headers)
        if gate.outcome == "drop":
            mark_drop(request.scope)  # whatever is answered below is swallowed
            if not gate.load_before_drop:
                return Response(status_code=204)
        if gate.outcome == "error_5xx":
            status = gate.status or 500
            raise ApiError(status, "server_error", f"injected fault: HTTP {status}")
        try:
            if _media_type(request) != "application/json":
                raise BadRequestError("invalid_request", "Content-Type must be application/json")
            result = sandbox.load(list_name, raw)
        except BadRequestError as exc:
            sandbox.note_bad_request(list_name, exc)
            raise ApiError(400, exc.error, exc.message) from None
        except KeyError:
            raise ApiError(404, "not_found", f"list {list_id!r} not found") from None
        return JSONResponse(result.as_json())

    return router

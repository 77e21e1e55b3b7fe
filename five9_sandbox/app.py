"""The ASGI application: Five9 REST routes, the legacy SOAP AdminWebService (both as
docs/five9-contract.md describes them) over the same ``Sandbox`` state, and the ``/_sandbox``
inspection routes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from five9_sandbox.connection_drop import DropConnectionMiddleware
from five9_sandbox.inspection import inspection_router
from five9_sandbox.rest_app import ApiError, rest_router
from five9_sandbox.soap_app import soap_router
from five9_sandbox.state import Sandbox


class SandboxApp(FastAPI):
    """FastAPI with ``DropConnectionMiddleware`` outermost, around Starlette's own error
    middleware, so a dropped connection never turns into a 500."""

    def build_middleware_stack(self) -> ASGIApp:
        return DropConnectionMiddleware(super().build_middleware_stack())


def create_app(sandbox: Sandbox) -> FastAPI:
    app = SandboxApp(
        title="Five9 sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,  # Five9 does not redirect ".../contacts/": it is not a route
    )

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    app.add_exception_handler(ApiError, api_error)
    app.include_router(rest_router(sandbox))
    app.include_router(soap_router(sandbox))
    app.include_router(inspection_router(sandbox))
    app.state.sandbox = sandbox
    return app

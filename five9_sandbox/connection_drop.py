"""Closing a TCP connection without an HTTP answer, from inside an ASGI app under uvicorn.

ASGI has no message for "hang up". A route marks its request with ``mark_drop(scope)`` and
returns any response; ``DropConnectionMiddleware`` (outermost, around the whole app) swallows
that response and closes the socket instead. It reaches the socket through uvicorn's ``send``,
a bound method of its request cycle that holds the asyncio transport (uvicorn 0.2x-0.5x, h11
and httptools alike). The client sees the connection close before any status line (httpx:
``RemoteProtocolError`` "Server disconnected without sending a response"), not a 500.

Under a server without such a transport (e.g. an in-process ASGI test client) the middleware
raises ``ConnectionDropUnsupportedError`` instead, so the misuse is loud, not a silent 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DROP_KEY = "five9_sandbox.drop_connection"


class ConnectionDropUnsupportedError(RuntimeError):
    """The ASGI server does not expose its transport; a dropped connection cannot be faked."""


def mark_drop(scope: MutableMapping[str, Any]) -> None:
    """Ask the middleware to close this request's connection instead of answering."""
    scope[_DROP_KEY] = True


class DropConnectionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dropped = False

        async def guarded_send(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return
            if message["type"] == "http.response.start" and scope.get(_DROP_KEY):
                dropped = True
                await _hang_up(send)
                return
            await send(message)

        await self.app(scope, receive, guarded_send)


async def _hang_up(send: Send) -> None:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, asyncio.BaseTransport):
        raise ConnectionDropUnsupportedError("the ASGI server gives no access to its transport")
    transport.close()
    # uvicorn marks the cycle disconnected in connection_lost (scheduled by close()); wait for
    # it so uvicorn does not log "returned without starting response" and try to send a 500.
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from five9_sandbox import Sandbox, SandboxServer, SandboxSettings

from .helpers import Five9Caller

MakeCaller = Callable[..., Five9Caller]


@pytest.fixture(scope="session")
def shared_server() -> Iterator[SandboxServer]:
    """One server with default settings for the whole run; reset before each test."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def make_caller() -> Iterator[MakeCaller]:
    """Start a fresh sandbox server with the given settings and return a caller for it."""
    started: list[tuple[SandboxServer, Five9Caller]] = []

    def make(timeout: float = 5.0, **settings: Any) -> Five9Caller:
        server = SandboxServer(Sandbox(SandboxSettings(**settings))).start()
        caller = Five9Caller(server, timeout=timeout)
        started.append((server, caller))
        return caller

    yield make
    for server, caller in started:
        caller.close()
        server.stop()


@pytest.fixture
def five9(shared_server: SandboxServer) -> Iterator[Five9Caller]:
    """A caller for the shared default sandbox, which starts the test fresh (reset)."""
    shared_server.sandbox.reset()
    caller = Five9Caller(shared_server)
    yield caller
    caller.close()


@pytest.fixture
def sandbox(five9: Five9Caller) -> Sandbox:
    return five9.server.sandbox

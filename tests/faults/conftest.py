"""Fixtures for the fault-injection tests: a REST and a SOAP sandbox per worker, and the
sink tests' clean environment (no FIVE9_* of the host, the test's own state folder)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from tests.sinks.conftest import clean_environment  # noqa: F401 (autouse here too)
from tests.soap.soap_helpers import soap_sandbox

SECRET = "planted-s3cret-f4ult"


@pytest.fixture(scope="module")
def rest_server() -> Iterator[SandboxServer]:
    sandbox = Sandbox(SandboxSettings(secret_key=SECRET, max_requests=50, window_seconds=1))
    with SandboxServer(sandbox) as running:
        yield running


@pytest.fixture(scope="module")
def soap_server() -> Iterator[SandboxServer]:
    with SandboxServer(soap_sandbox(soap_calls_per_minute=200, soap_calls_per_hour=600)) as up:
        yield up

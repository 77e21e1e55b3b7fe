"""Helpers for the SOAP-path tests: a sandbox with Five9's SOAP limits scaled down (20 calls
per 2 s, 60 per 6 s), client settings that point at it, and what it stored."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from contacts_etl.load import LoadProgress, LoadRequest, run_load
from contacts_etl.run_report import LoadReport
from five9_sandbox import Sandbox, SandboxServer, SandboxSettings
from sinks.settings import Five9Settings
from tests.sinks.sink_helpers import AS_OF_TS, ExpectedRecord, by_number

PER_MINUTE, MINUTE = 20, 2.0
PER_HOUR, HOUR = 60, 6.0
PASSWORD = "pl4nted-PASSW0RD-91ab"
SOAP_PATH = "/wsadmin/v13/AdminWebService"


def soap_sandbox(**settings: Any) -> Sandbox:
    """A sandbox whose SOAP windows are scaled down (and REST's out of the way)."""
    values: dict[str, Any] = {
        "password": PASSWORD,
        "soap_calls_per_minute": PER_MINUTE,
        "soap_minute_seconds": MINUTE,
        "soap_calls_per_hour": PER_HOUR,
        "soap_hour_seconds": HOUR,
        "soap_import_seconds": 0.05,
    }
    values.update(settings)
    return Sandbox(SandboxSettings(**values))


def soap_settings(server: SandboxServer, **overrides: Any) -> Five9Settings:
    """Client settings for the SOAP path against `server`; every limit explicit."""
    sandbox = server.sandbox.settings
    values: dict[str, Any] = {
        "rest_enabled": False,
        "soap_url": f"{server.base_url}{SOAP_PATH}",
        "username": sandbox.username,
        "password": SecretStr(sandbox.password),
        "region": None,
        "base_url": None,
        "consumer_key": None,
        "secret_key": None,
        "soap_calls_per_minute": sandbox.soap_calls_per_minute,
        "soap_minute_seconds": sandbox.soap_minute_seconds,
        "soap_calls_per_hour": sandbox.soap_calls_per_hour,
        "soap_hour_seconds": sandbox.soap_hour_seconds,
        "rate_window_seconds": sandbox.soap_minute_seconds,
        "soap_poll_seconds": 1,
        "chunk_size": 100,
        "request_timeout_seconds": 10.0,
        "max_attempts": 8,
        "max_retry_seconds": 120.0,
        "backoff_base_seconds": 0.05,
        "backoff_cap_seconds": 0.2,
        "e164": False,
        "crm_add_mode": "ADD_NEW",
    }
    values.update(overrides)
    return Five9Settings(**values)


def soap_env(server: SandboxServer, **extra: str) -> dict[str, str]:
    """FIVE9_* for a CLI subprocess on the SOAP path against `server`."""
    settings = server.sandbox.settings
    return {
        "FIVE9_REST_ENABLED": "false",
        "FIVE9_SOAP_URL": f"{server.base_url}{SOAP_PATH}",
        "FIVE9_USERNAME": settings.username,
        "FIVE9_PASSWORD": settings.password,
        "FIVE9_SOAP_CALLS_PER_MINUTE": str(settings.soap_calls_per_minute),
        "FIVE9_SOAP_MINUTE_SECONDS": str(settings.soap_minute_seconds),
        "FIVE9_SOAP_CALLS_PER_HOUR": str(settings.soap_calls_per_hour),
        "FIVE9_SOAP_HOUR_SECONDS": str(settings.soap_hour_seconds),
        "FIVE9_RATE_WINDOW_SECONDS": str(settings.soap_minute_seconds),
        "FIVE9_SOAP_POLL_SECONDS": "1",
        "FIVE9_BACKOFF_BASE_SECONDS": "0.05",
        "FIVE9_BACKOFF_CAP_SECONDS": "0.2",
        **extra,
    }


def stored_calls(
    sandbox: Sandbox, list_name: str = "demo"
) -> dict[str, tuple[dict[str, str], str]]:
    """number1 -> (fields, call time) of what the sandbox holds; SOAP keeps no window end."""
    held = {}
    for key, record in sandbox.records(list_name).items():
        assert record.guard_end == "", "the SOAP path carries no end of window"
        held[key[0]] = (record.fields, record.guard_start)
    return held


def wanted_calls(rows: Iterable[ExpectedRecord]) -> dict[str, tuple[dict[str, str], str]]:
    """number1 -> (fields, guard start) as the preview says they would be sent."""
    return {
        row.fields["number1"]: (row.fields, row.guard_start) for row in by_number(rows).values()
    }


def load_file(server: SandboxServer, source: Path, state: Path, **settings: Any) -> LoadReport:
    """Load `source` into list "demo" over SOAP, with a run ledger in `state` and the rejects
    beside the source."""
    request = LoadRequest(
        sources=[str(source)],
        as_of=AS_OF_TS,
        list_name="demo",
        state_dir=state,
        rejects=source.with_suffix(".rejects.csv"),
    )
    return run_load(request, soap_settings(server, **settings), LoadProgress())

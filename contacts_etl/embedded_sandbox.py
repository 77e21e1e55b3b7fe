"""The local Five9 sandbox a load starts in its own process when no Five9 is named: a
newcomer's first run loads into it, and nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

from pydantic import SecretStr

from schemas.fields import CANONICAL_FIELDS, INTERNAL_FIELDS
from sinks.settings import SOAP_SERVICE_PATH, Five9Settings


def embedded_sandbox(
    settings: Five9Settings, list_name: str, columns: Sequence[str], stack: ExitStack
) -> Five9Settings:
    """Start the sandbox (stopped with `stack`) with the list asked for and the run's custom
    fields (a stand-in cannot know the real domain's; any other name is refused); the
    settings that point at it."""
    from five9_sandbox import Sandbox, SandboxServer, SandboxSettings

    sandbox_settings = SandboxSettings(
        lists=(list_name,),
        custom_fields=frozenset(columns) - {*CANONICAL_FIELDS, *INTERNAL_FIELDS},
        max_requests=settings.max_requests,
        window_seconds=settings.rate_window_seconds,
        e164=settings.e164,
        soap_calls_per_minute=settings.soap_calls_per_minute,
        soap_minute_seconds=settings.soap_minute_seconds,
        soap_calls_per_hour=settings.soap_calls_per_hour,
        soap_hour_seconds=settings.soap_hour_seconds,
        soap_calls_per_day=settings.soap_calls_per_day,
        soap_day_seconds=settings.soap_day_seconds,
    )
    server = stack.enter_context(SandboxServer(Sandbox(sandbox_settings)))
    return settings.model_copy(
        update={
            "base_url": server.base_url,
            "consumer_key": sandbox_settings.consumer_key,
            "secret_key": SecretStr(sandbox_settings.secret_key),
            "domain_id": None,
            "soap_url": f"{server.base_url}{SOAP_SERVICE_PATH}",
            "username": sandbox_settings.username,
            "password": SecretStr(sandbox_settings.password),
        }
    )

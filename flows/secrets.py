"""Secrets as a flow (or the command line, when a Secret block is named) reads them: Five9's
secret, and object storage credentials, from Prefect Secret blocks; never from a Variable, a
parameter or a file in the repository."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from prefect.blocks.system import Secret
from pydantic import SecretStr

from schemas.errors import SettingError
from sinks.settings import Five9Settings, load_settings, secret_field


def five9_settings() -> Five9Settings:
    """Settings from the environment; the secret (on the SOAP path, the password) from the
    Prefect Secret block FIVE9_SECRET_BLOCK names, when it names one."""
    block = os.environ.get("FIVE9_SECRET_BLOCK", "").strip()
    if not block:
        return load_settings()
    try:
        loaded = Secret.load(block)
        assert isinstance(loaded, Secret)  # load() is sync here: not called from a coroutine
        secret = loaded.get()
    except ValueError:
        raise SettingError(f"FIVE9_SECRET_BLOCK {block!r}: no such Secret block") from None
    # The block fills the secret before the settings are checked: the key (or user) alone in
    # the environment is then complete.
    return load_settings(**{secret_field(): SecretStr(str(secret))})


def storage_credentials() -> dict[str, dict[str, Any]]:
    """Object storage options per URL scheme (`{"s3": {"key": ..., "secret": ...}}`, as fsspec
    takes them) from the Prefect Secret block CONTACTS_STORAGE_BLOCK names; none when it names
    none (each filesystem then reads its own environment and profiles)."""
    block = os.environ.get("CONTACTS_STORAGE_BLOCK", "").strip()
    if not block:
        return {}
    try:
        loaded = Secret.load(block)
        assert isinstance(loaded, Secret)
        value = loaded.get()
    except ValueError:
        raise SettingError(f"CONTACTS_STORAGE_BLOCK {block!r}: no such Secret block") from None
    if not isinstance(value, Mapping) or not all(
        isinstance(options, Mapping) for options in value.values()
    ):
        raise SettingError(
            f"CONTACTS_STORAGE_BLOCK {block!r}: the secret must be a JSON object of options "
            'per URL scheme, e.g. {"s3": {"key": "...", "secret": "..."}}'
        )
    return {str(scheme): dict(options) for scheme, options in value.items()}

"""Five9 settings as a flow (or the command line, when a Secret block is named) reads them:
the secret from a Prefect Secret block, never from a Variable or a file in the repository."""

from __future__ import annotations

import os

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

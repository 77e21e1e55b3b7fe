"""Whether Prefect has an API to talk to, as Prefect itself reads its settings."""

from __future__ import annotations

from prefect.settings import get_current_settings


def api_configured() -> bool:
    """A Prefect API URL from the environment, a .env file, prefect.toml or the active
    profile (not only the PREFECT_API_URL variable)."""
    return bool(get_current_settings().api.url)

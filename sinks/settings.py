"""Five9 settings from the environment and a `.env` file, checked before anything is sent.

The secret is a `SecretStr`: it prints as `**********` in every repr, log and error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contacts_etl.errors import SettingError

# shared/five9-api.md section 2.1 [practice]
REGION_BASE_URLS = {
    "us": "https://api.prod.us.five9.net",
    "ca": "https://api.prod.ca.five9.net",
    "eu": "https://api.prod.eu.five9.net",
    "uk": "https://api.prod.uk.five9.net",
    "in": "https://api.prod.in.five9.net",
}
MAX_CHUNK = 1000  # contacts per upload request [confirmed]


class Five9Settings(BaseSettings):
    """Where and how to load: credentials, region or base URL, and Five9's limits."""

    model_config = SettingsConfigDict(
        env_prefix="FIVE9_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    region: Literal["us", "ca", "eu", "uk", "in"] | None = None
    base_url: str | None = None
    consumer_key: str | None = None
    secret_key: SecretStr | None = None
    domain_id: str | None = None
    max_requests: int = Field(default=40, ge=1)
    rate_window_seconds: float = Field(default=60.0, gt=0)
    # A small margin keeps network jitter from packing two requests closer at Five9's clock
    # than they left ours (shared/five9-api.md section 1).
    rate_margin: float = Field(default=0.02, ge=0, le=1)
    # ... and never less than this much, in seconds, however short the window.
    rate_guard_seconds: float = Field(default=0.25, ge=0)
    chunk_size: int = Field(default=MAX_CHUNK, ge=1, le=MAX_CHUNK)
    max_in_flight: int = Field(default=4, ge=1, le=16)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    max_retry_seconds: float = Field(default=600.0, gt=0)
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    backoff_cap_seconds: float = Field(default=30.0, ge=0)
    e164: bool = False
    crm_add_mode: Literal["ADD_NEW", "DONT_ADD"] = "ADD_NEW"
    crm_update_mode: Literal["UPDATE_FIRST", "UPDATE_ALL", "UPDATE_SOLE_MATCHES", "DONT_UPDATE"] = (
        "UPDATE_FIRST"
    )
    list_add_mode: Literal["ADD_FIRST", "ADD_ALL", "ADD_IF_SOLE_CRM_MATCH"] = "ADD_FIRST"

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @field_validator("region", mode="before")
    @classmethod
    def _lower_region(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) and value.strip() else None

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Five9Settings:
        if bool(self.consumer_key) != bool(self.secret_key and self.secret_key.get_secret_value()):
            missing = "FIVE9_SECRET_KEY" if self.consumer_key else "FIVE9_CONSUMER_KEY"
            raise ValueError(f"{missing} is not set (the consumer key and secret come together)")
        return self

    @property
    def uses_sandbox(self) -> bool:
        """No credentials and no base URL: load into the embedded local sandbox."""
        return not self.consumer_key and not self.base_url and not self.region

    def resolved_base_url(self) -> str:
        """The API's base URL: FIVE9_BASE_URL, else the region's."""
        if self.base_url:
            return self.base_url
        if self.region:
            return REGION_BASE_URLS[self.region]
        raise SettingError("set FIVE9_REGION (us, ca, eu, uk, in) or FIVE9_BASE_URL")

    def request_interval(self) -> float:
        """Seconds between two upload requests so no sliding window holds more than the limit:
        the limit's requests span the window plus a guard that absorbs network jitter."""
        window = self.rate_window_seconds
        guard = max(window * self.rate_margin, self.rate_guard_seconds)
        return (window + guard) / self.max_requests


def load_settings(**overrides: object) -> Five9Settings:
    """Settings from the environment and `.env`; a bad value is one line naming the variable."""
    try:
        return Five9Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        where = "_".join(str(part) for part in first["loc"]).upper()
        name = f"FIVE9_{where}" if where else "Five9 settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingError(f"{name}: {message}") from None

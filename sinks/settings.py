"""Five9 settings from the environment and a `.env` file, checked before anything is sent.

The secret and the password are `SecretStr`: they print as `**********` in every repr, log
and error. `FIVE9_REST_ENABLED` (Five9's `RestAPIEnabled`) picks the path: on (the default),
REST with OAuth2 client credentials; off, the legacy SOAP Configuration Web Services with an
admin user's name and password (docs/five9-contract.md).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import SettingError
from sinks.retry import RetryPolicy

# [practice] (docs/five9-contract.md)
REGION_BASE_URLS = {
    "us": "https://api.prod.us.five9.net",
    "ca": "https://api.prod.ca.five9.net",
    "eu": "https://api.prod.eu.five9.net",
    "uk": "https://api.prod.uk.five9.net",
    "in": "https://api.prod.in.five9.net",
}
MAX_CHUNK = 1000  # contacts per upload request [confirmed]
# [confirmed] for us, ca, uk and eu (Frankfurt); [practice] for India: api.in.five9.com is the
# SOAP host in a Five9 engineer's public client, not in Five9's guide.
REGION_SOAP_HOSTS = {
    "us": "api.five9.com",
    "ca": "api.five9.ca",
    "uk": "api.five9.eu",
    "eu": "api.eu.five9.com",
    "in": "api.in.five9.com",
}
SOAP_SERVICE_PATH = "/wsadmin/v13/AdminWebService"
MAX_SOAP_CHUNK = 100  # records per asyncAddRecordsToList call [confirmed]


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
    # than they left ours (docs/five9-contract.md, limits).
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
    # The legacy SOAP path (FIVE9_REST_ENABLED=false).
    rest_enabled: bool = True
    username: str | None = None
    password: SecretStr | None = None
    soap_url: str | None = None
    """The AdminWebService endpoint; default: the region's host (REGION_SOAP_HOSTS)."""
    soap_calls_per_minute: int = Field(default=20, ge=1)
    soap_minute_seconds: float = Field(default=60.0, gt=0)
    soap_calls_per_hour: int = Field(default=1000, ge=1)
    soap_hour_seconds: float = Field(default=3600.0, gt=0)
    soap_calls_per_day: int = Field(default=2000, ge=1)
    soap_day_seconds: float = Field(default=86400.0, gt=0)
    """Five9's third SOAP limit is a budget, not a pace: calls stop when it is spent."""
    soap_queries_per_minute: int = Field(default=450, ge=1)
    """Five9's Query class (isImportRunning, getListImportResult, getListsInfo,
    getCallCountersState): calls a minute per user [confirmed]."""
    soap_poll_seconds: int = Field(default=5, ge=1, le=300)
    """`waitTime` of each isImportRunning poll: Five9 answers once the import ends or then
    (whole seconds; 0 would poll in a tight loop)."""

    @field_validator("base_url", "soap_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value and "@" in urlsplit(value).netloc:
            # A password in the address would show wherever the target is named.
            raise ValueError(
                "must not carry a user or password (user:password@host); "
                "set FIVE9_USERNAME and FIVE9_PASSWORD, or the consumer key and secret"
            )
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
        if bool(self.username) != bool(self.password and self.password.get_secret_value()):
            missing = "FIVE9_PASSWORD" if self.username else "FIVE9_USERNAME"
            raise ValueError(f"{missing} is not set (the user name and password come together)")
        address = "FIVE9_REGION" if self.region else None
        if self.rest_enabled and not self.consumer_key and (self.base_url or self.region):
            address = address or "FIVE9_BASE_URL"
            raise ValueError(
                f"FIVE9_CONSUMER_KEY is not set, and {address} names a Five9 to load into "
                "(unset it to load into the local sandbox)"
            )
        if not self.rest_enabled and not self.username and (self.soap_url or self.region):
            address = address or "FIVE9_SOAP_URL"
            raise ValueError(
                f"FIVE9_USERNAME is not set, and {address} names a Five9 to load into "
                "(unset it to load into the local sandbox)"
            )
        return self

    @model_validator(mode="after")
    def _soap_chunks_hold_at_most_100(self) -> Five9Settings:
        if self.rest_enabled or self.chunk_size <= MAX_SOAP_CHUNK:
            return self
        if "chunk_size" in self.model_fields_set:
            raise ValueError(
                f"FIVE9_CHUNK_SIZE {self.chunk_size}: at most {MAX_SOAP_CHUNK} records a call "
                "on the SOAP path (FIVE9_REST_ENABLED is false)"
            )
        self.chunk_size = MAX_SOAP_CHUNK
        return self

    @model_validator(mode="after")
    def _soap_imports_ignore_add_all(self) -> Five9Settings:
        if not self.rest_enabled and self.list_add_mode == "ADD_ALL":
            # [confirmed] Five9 does not apply ADD_ALL to asynchronous calls
            raise ValueError(
                "FIVE9_LIST_ADD_MODE ADD_ALL: Five9 does not apply it to the SOAP path's "
                "asynchronous imports (FIVE9_REST_ENABLED is false); use ADD_FIRST or "
                "ADD_IF_SOLE_CRM_MATCH"
            )
        return self

    def secrets(self) -> list[str]:
        """The secret values these settings hold (to hide wherever text may show them)."""
        held = (self.secret_key, self.password)
        return [value.get_secret_value() for value in held if value is not None]

    @property
    def uses_sandbox(self) -> bool:
        """No credentials and no address: load into the embedded local sandbox."""
        if self.rest_enabled:
            return not self.consumer_key and not self.base_url and not self.region
        return not self.username and not self.soap_url and not self.region

    @property
    def credential_name(self) -> str | None:
        """Who the upload budget belongs to: the consumer key, or the SOAP user."""
        return self.consumer_key if self.rest_enabled else self.username

    def resolved_base_url(self) -> str:
        """Where uploads go: the REST base URL (FIVE9_BASE_URL, else the region's), or on the
        SOAP path the AdminWebService endpoint (FIVE9_SOAP_URL, else the region's host)."""
        if not self.rest_enabled:
            return self.resolved_soap_url()
        if self.base_url:
            return self.base_url
        if self.region:
            return REGION_BASE_URLS[self.region]
        raise SettingError("set FIVE9_REGION (us, ca, eu, uk, in) or FIVE9_BASE_URL")

    def resolved_soap_url(self) -> str:
        """The AdminWebService endpoint: FIVE9_SOAP_URL, else the region's host."""
        if self.soap_url:
            return self.soap_url
        if self.region:
            return f"https://{REGION_SOAP_HOSTS[self.region]}{SOAP_SERVICE_PATH}"
        raise SettingError("set FIVE9_REGION (us, ca, eu, uk, in) or FIVE9_SOAP_URL")

    def retry_policy(self) -> RetryPolicy:
        """How requests are tried again: the attempts, time and backoff the settings allow."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            max_total_seconds=self.max_retry_seconds,
            base_seconds=self.backoff_base_seconds,
            cap_seconds=self.backoff_cap_seconds,
        )

    def rate_limits(self) -> list[tuple[int, float]]:
        """(upload calls, window seconds) pairs Five9 enforces on the chosen path."""
        if self.rest_enabled:
            return [(self.max_requests, self.rate_window_seconds)]
        return [
            (self.soap_calls_per_minute, self.soap_minute_seconds),
            (self.soap_calls_per_hour, self.soap_hour_seconds),
        ]

    def request_interval(self) -> float:
        """Seconds between two upload requests so no sliding window holds more than its limit:
        each limit's requests span its window plus a guard that absorbs network jitter."""
        return max(
            (window + max(window * self.rate_margin, self.rate_guard_seconds)) / calls
            for calls, window in self.rate_limits()
        )


class _Path(BaseSettings):
    """Only the switch between the REST and the SOAP path, read the way Five9Settings reads it."""

    model_config = SettingsConfigDict(
        env_prefix="FIVE9_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    rest_enabled: bool = True


class _Numbers(BaseSettings):
    """Only FIVE9_E164, read the way Five9Settings reads it (environment, then `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix="FIVE9_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    e164: bool = False


def e164_domain() -> bool:
    """Whether the Five9 domain takes E.164 numbers (FIVE9_E164), as a load reads it: a preview,
    which needs no credentials, must write numbers as the load would send them."""
    try:
        return _Numbers().e164
    except ValidationError:
        raise SettingError("FIVE9_E164: not a boolean (true or false)") from None


def secret_field() -> str:
    """The setting a secret from elsewhere (a Prefect Secret block) fills: the REST consumer
    secret, or the SOAP user's password when FIVE9_REST_ENABLED is false."""
    try:
        rest = _Path().rest_enabled
    except ValidationError:
        rest = True  # load_settings names the bad value
    return "secret_key" if rest else "password"


def load_settings(**overrides: object) -> Five9Settings:
    """Settings from the environment and `.env`; a bad value is one line naming the variable."""
    try:
        return Five9Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        where = "_".join(str(part) for part in first["loc"]).upper()
        name = f"FIVE9_{where}" if where else "Five9 settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        if not where and message.startswith("FIVE9_"):  # a check across settings names its own
            raise SettingError(message) from None
        raise SettingError(f"{name}: {message}") from None

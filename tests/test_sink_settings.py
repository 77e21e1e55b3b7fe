"""Five9 settings and retry rules: checked at start, one clear line, the secret never shown."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from schemas.errors import SettingError
from sinks.retry import RetryPolicy, retry_after_seconds
from sinks.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REGION", "BASE_URL", "CONSUMER_KEY", "SECRET_KEY", "DOMAIN_ID", "CHUNK_SIZE"):
        monkeypatch.delenv(f"FIVE9_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_no_credentials_and_no_url_means_the_local_sandbox() -> None:
    assert load_settings().uses_sandbox


def test_region_gives_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_REGION", "EU")
    monkeypatch.setenv("FIVE9_CONSUMER_KEY", "key")
    monkeypatch.setenv("FIVE9_SECRET_KEY", "s3cret-value")
    settings = load_settings()
    assert settings.resolved_base_url() == "https://api.prod.eu.five9.net"
    assert not settings.uses_sandbox
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(settings.model_dump())


def test_dot_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "FIVE9_BASE_URL=http://127.0.0.1:9/\nFIVE9_CHUNK_SIZE=500\n"
        "FIVE9_CONSUMER_KEY=key\nFIVE9_SECRET_KEY=s3cret-value\n"
    )
    settings = load_settings()
    assert settings.resolved_base_url() == "http://127.0.0.1:9"
    assert settings.chunk_size == 500


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("FIVE9_CHUNK_SIZE", "1001", "FIVE9_CHUNK_SIZE"),
        ("FIVE9_CHUNK_SIZE", "lots", "FIVE9_CHUNK_SIZE"),
        ("FIVE9_REGION", "mars", "FIVE9_REGION"),
        ("FIVE9_CONSUMER_KEY", "key-without-secret", "FIVE9_SECRET_KEY"),
        # an address without credentials: not the sandbox, and no credential to use
        ("FIVE9_BASE_URL", "http://127.0.0.1:9", "FIVE9_CONSUMER_KEY is not set"),
        ("FIVE9_REGION", "us", "FIVE9_CONSUMER_KEY is not set"),
    ],
)
def test_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as raised:
        load_settings()
    message = str(raised.value)
    assert named in message
    assert "\n" not in message


def test_secret_is_not_in_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_SECRET_KEY", "only-the-secret-xyz")
    with pytest.raises(SettingError) as raised:
        load_settings()
    assert "only-the-secret-xyz" not in str(raised.value)


@pytest.mark.parametrize("name", ["FIVE9_SOAP_URL", "FIVE9_BASE_URL"])
def test_a_password_in_an_address_is_refused_without_being_shown(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "http://admin:pw-in-url-123@127.0.0.1:9/wsadmin")
    with pytest.raises(SettingError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{name}: must not carry a user or password")
    assert "pw-in-url-123" not in message


def test_request_interval_keeps_any_window_under_the_limit() -> None:
    settings = load_settings(max_requests=40, rate_window_seconds=60, rate_margin=0.05)
    interval = settings.request_interval()
    assert interval > 60 / 40
    # Requests spaced `interval` apart: a 60 s window holds at most this many.
    assert int(60 // interval) + 1 <= 40


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), ("0", None), ("-1", None), ("soon", None), (None, None)],
)
def test_retry_after_is_honoured_only_when_readable(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header) == seconds


def test_backoff_is_jittered_capped_and_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, max_total_seconds=10, base_seconds=1, cap_seconds=4)
    rng = random.Random(1)
    waits = [policy.backoff(attempt, rng) for attempt in range(1, 8) for _ in range(50)]
    assert max(waits) <= 4
    assert len(set(waits)) > 100  # jittered, not a fixed ladder
    assert not policy.gives_up(2, 1.0)
    assert policy.gives_up(3, 1.0)
    assert policy.gives_up(1, 10.0)

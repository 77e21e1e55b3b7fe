"""Settings of the SOAP path: picked by FIVE9_REST_ENABLED, host by region, both limits in
the pacing, at most 100 records a call, the password never shown."""

from __future__ import annotations

import pytest

from flows.rate_limit import limit_decay
from schemas.errors import SettingError
from sinks.settings import load_settings


@pytest.fixture(autouse=True)
def soap_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_REST_ENABLED", "false")


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "api.five9.com"),
        ("ca", "api.five9.ca"),
        ("uk", "api.five9.eu"),
        ("eu", "api.eu.five9.com"),
        ("in", "api.in.five9.com"),  # [practice]: a Five9 engineer's client, not the guide
    ],
)
def test_region_gives_the_soap_host(
    monkeypatch: pytest.MonkeyPatch, region: str, host: str
) -> None:
    monkeypatch.setenv("FIVE9_REGION", region)
    monkeypatch.setenv("FIVE9_USERNAME", "admin@example.com")
    monkeypatch.setenv("FIVE9_PASSWORD", "p4ss-w0rd-value")
    settings = load_settings()
    assert settings.resolved_base_url() == f"https://{host}/wsadmin/v13/AdminWebService"
    assert not settings.uses_sandbox
    assert settings.credential_name == "admin@example.com"
    assert "p4ss-w0rd-value" not in repr(settings)
    assert "p4ss-w0rd-value" not in str(settings.model_dump())


def test_no_region_and_no_address_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_USERNAME", "admin@example.com")
    monkeypatch.setenv("FIVE9_PASSWORD", "p4ss-w0rd-value")
    with pytest.raises(
        SettingError, match=r"FIVE9_REGION \(us, ca, eu, uk, in\) or FIVE9_SOAP_URL"
    ):
        load_settings().resolved_base_url()


@pytest.mark.parametrize("mode", ["ADD_FIRST", "ADD_IF_SOLE_CRM_MATCH"])
def test_list_add_modes_asynchronous_imports_apply_are_taken(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FIVE9_LIST_ADD_MODE", mode)
    assert load_settings().list_add_mode == mode


def test_add_all_is_refused_on_the_soap_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_LIST_ADD_MODE", "ADD_ALL")
    with pytest.raises(SettingError) as refused:
        load_settings()
    assert str(refused.value).startswith("FIVE9_LIST_ADD_MODE ADD_ALL: ")
    assert "asynchronous" in str(refused.value)
    monkeypatch.setenv("FIVE9_REST_ENABLED", "true")
    assert load_settings().list_add_mode == "ADD_ALL"


def test_rest_credentials_alone_still_mean_the_sandbox_on_the_soap_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIVE9_CONSUMER_KEY", "key")
    monkeypatch.setenv("FIVE9_SECRET_KEY", "secret")
    assert load_settings().uses_sandbox


def test_user_name_without_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_USERNAME", "admin@example.com")
    with pytest.raises(SettingError, match="FIVE9_PASSWORD is not set"):
        load_settings()


def test_chunks_default_to_100_and_more_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().chunk_size == 100
    monkeypatch.setenv("FIVE9_CHUNK_SIZE", "101")
    with pytest.raises(SettingError, match="FIVE9_CHUNK_SIZE 101: at most 100"):
        load_settings()


def test_pacing_honours_both_limits_with_a_margin() -> None:
    settings = load_settings()
    assert settings.rate_limits() == [(20, 60.0), (1000, 3600.0)]
    # 1,000 an hour binds: (3600 + 2%) / 1000 s apart, longer than (60 + 2%) / 20
    assert settings.request_interval() == pytest.approx(3.672)
    assert limit_decay(settings) == pytest.approx(999 / 3672)


def test_rest_path_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVE9_REST_ENABLED", "true")
    settings = load_settings()
    assert settings.chunk_size == 1000
    assert settings.request_interval() == pytest.approx(61.2 / 40)

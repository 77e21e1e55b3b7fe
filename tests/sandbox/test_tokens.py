"""Tokens, whoami and scopes over real HTTP (docs/five9-contract.md, REST)."""

from __future__ import annotations

import base64
import time

from .conftest import MakeCaller
from .helpers import Five9Caller, contact


def test_good_credentials_get_a_bearer_token(five9: Five9Caller) -> None:
    response = five9.request_token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) >= 32
    assert five9.request_token().json()["access_token"] != body["access_token"]


def test_wrong_key_or_secret_is_invalid_client_and_never_echoes_the_secret(
    five9: Five9Caller,
) -> None:
    for key, secret in [("other-key", None), (None, "guessed-secret-xyz")]:
        response = five9.request_token(key=key, secret=secret)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}
        assert "guessed-secret-xyz" not in response.text
    events = str(five9.server.sandbox.events())
    assert "guessed-secret-xyz" not in events
    assert "sandbox-secret" not in events
    assert "sandbox-secret" not in repr(five9.settings)


def test_missing_or_malformed_basic_auth_is_invalid_client(five9: Five9Caller) -> None:
    data = {"grant_type": "client_credentials"}
    assert five9.http.post("/oauth2/v1/token", data=data).status_code == 401
    junk = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert five9.http.post("/oauth2/v1/token", data=data, headers=junk).status_code == 401


def test_wrong_grant_type_is_refused(five9: Five9Caller) -> None:
    response = five9.request_token(grant_type="password")
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_token_request_must_be_a_form(five9: Five9Caller) -> None:
    response = five9.http.post(
        "/oauth2/v1/token",
        auth=(five9.settings.consumer_key, five9.settings.secret_key),
        json={"grant_type": "client_credentials"},
    )
    assert response.status_code == 400


def test_whoami_names_domain_and_user(five9: Five9Caller) -> None:
    response = five9.http.get("/users/v1/users/whoami", headers=five9.auth())
    assert response.status_code == 200
    assert response.json() == {"domainId": "sandbox-domain", "username": "sandbox-admin"}


def test_calls_without_a_valid_token_are_401(five9: Five9Caller) -> None:
    assert five9.http.get("/users/v1/users/whoami").status_code == 401
    response = five9.http.get("/users/v1/users/whoami", headers=five9.auth("not-a-token"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    kinds = [e["kind"] for e in five9.server.sandbox.events()]
    assert kinds.count("unauthorized") == 2


def test_token_expires_after_its_ttl(make_caller: MakeCaller) -> None:
    five9 = make_caller(token_ttl_seconds=0.3)
    token = five9.token()
    five9.list_id()
    assert five9.http.get("/users/v1/users/whoami", headers=five9.auth(token)).status_code == 200
    time.sleep(0.4)
    response = five9.upload([contact()], token=token)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]
    fresh = five9.token(fresh=True)
    assert five9.post_contacts({"contacts": [contact()]}, token=fresh).status_code == 200


def test_token_without_lists_write_cannot_upload(make_caller: MakeCaller) -> None:
    five9 = make_caller(scopes=frozenset({"campaigns:read", "lists:read"}))
    list_id = five9.list_id()
    response = five9.post_contacts({"contacts": [contact()]}, list_id=list_id)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert five9.server.sandbox.records("demo") == {}
    assert five9.server.sandbox.upload_times() == []


def test_token_without_lists_read_cannot_look_up_lists(make_caller: MakeCaller) -> None:
    five9 = make_caller(scopes=frozenset({"lists:write"}))
    response = five9.http.get(five9.lists_path(), headers=five9.auth())
    assert response.status_code == 403

"""A thin httpx caller for the sandbox's Five9 REST routes (tests only)."""

from __future__ import annotations

from typing import Any

import httpx

from five9_sandbox import SandboxServer

WINDOW = {"start": "2026-12-01T14:05:00Z", "end": "2026-12-01T21:00:00Z"}
LATER_WINDOW = {"start": "2026-12-02T14:00:00Z", "end": "2026-12-02T22:00:00Z"}


def contact(
    number1: str = "5551208111", window: dict[str, str] | None = None, **fields: str
) -> dict[str, Any]:
    return {"fields": {"number1": number1, **fields}, "guardTime": dict(window or WINDOW)}


def numbered_contacts(count: int, first: int = 2_000_000_000) -> list[dict[str, Any]]:
    """``count`` valid NANP contacts with distinct numbers."""
    return [contact(str(first + i)) for i in range(count)]


class Five9Caller:
    """Speaks the REST contract to one ``SandboxServer``; one keep-alive connection pool."""

    def __init__(self, server: SandboxServer, timeout: float = 5.0) -> None:
        self.server = server
        self.settings = server.sandbox.settings
        self.http = httpx.Client(base_url=server.base_url, timeout=timeout)
        self._token: str | None = None
        self._list_ids: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def request_token(
        self,
        key: str | None = None,
        secret: str | None = None,
        grant_type: str = "client_credentials",
    ) -> httpx.Response:
        auth = (key or self.settings.consumer_key, secret or self.settings.secret_key)
        return self.http.post("/oauth2/v1/token", auth=auth, data={"grant_type": grant_type})

    def token(self, *, fresh: bool = False) -> str:
        if self._token is None or fresh:
            response = self.request_token()
            assert response.status_code == 200, response.text
            self._token = str(response.json()["access_token"])
        return self._token

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}

    def lists_path(self, domain: str | None = None) -> str:
        return f"/lists/v1/domains/{domain or self.settings.domain_id}/lists"

    def list_id(self, name: str = "demo") -> str:
        """The list's id, looked up over HTTP once, then remembered."""
        if name in self._list_ids:
            return self._list_ids[name]
        response = self.http.get(
            self.lists_path(), params={"filter": f"name=='{name}'"}, headers=self.auth()
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert len(items) == 1, items
        self._list_ids[name] = str(items[0]["listId"])
        return self._list_ids[name]

    def post_contacts(
        self,
        body: Any,
        *,
        list_id: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        path = f"{self.lists_path()}/{list_id or self.list_id()}/contacts"
        if timeout is None:
            return self.http.post(path, json=body, headers=self.auth(token))
        return self.http.post(path, json=body, headers=self.auth(token), timeout=timeout)

    def upload(
        self, contacts: list[dict[str, Any]], token: str | None = None, **options: Any
    ) -> httpx.Response:
        """Upload with ``keys: ["number1"]``; ``options`` are further body keys (modes)."""
        body = {"keys": ["number1"], "contacts": contacts, **options}
        return self.post_contacts(body, token=token)

"""OAuth2 client credentials: one token per run, refreshed before it expires, renewed on a 401.

shared/five9-api.md section 2.2 [practice]. The secret goes into the Basic header and nowhere
else: no log line, report, artifact or error message carries it.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from pydantic import SecretStr

from contacts_etl.errors import ContactsEtlError
from sinks.five9_wire import TOKEN_PATH, said

# Refresh this long before the token's stated expiry (or at 90% of a short lifetime).
REFRESH_EARLY_SECONDS = 60.0
TOKEN_ATTEMPTS = 4


class Five9RefusedError(ContactsEtlError):
    """Five9 refused the run's credentials, scope or list: the load cannot start or go on."""


class TokenSource:
    """Hands out a valid bearer token; concurrent callers share one token request."""

    def __init__(self, client: httpx.AsyncClient, consumer_key: str, secret_key: SecretStr) -> None:
        self._client = client
        self._auth = httpx.BasicAuth(consumer_key, secret_key.get_secret_value())
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.issued = 0

    async def token(self) -> str:
        """The current token, fetching a new one when none is held or it is about to expire."""
        async with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def renew(self, stale: str) -> str:
        """A 401 with `stale`: get a new token once, however many requests saw the 401."""
        async with self._lock:
            if self._token == stale or self._token is None:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        last_problem = ""
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            try:
                answer = await self._client.post(
                    TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=self._auth
                )
            except httpx.TransportError as error:
                last_problem = f"{type(error).__name__}"
            else:
                if answer.status_code == 200:
                    data = answer.json()
                    lifetime = float(data.get("expires_in", 3600))
                    early = min(REFRESH_EARLY_SECONDS, lifetime * 0.1)
                    self._token = str(data["access_token"])
                    self._refresh_at = time.monotonic() + max(lifetime - early, 0.0)
                    self.issued += 1
                    return
                if answer.status_code in (400, 401, 403):
                    raise Five9RefusedError(
                        "Five9 refused the credentials (HTTP "
                        f"{answer.status_code}{said(answer)}): check FIVE9_CONSUMER_KEY and "
                        "FIVE9_SECRET_KEY"
                    )
                last_problem = f"HTTP {answer.status_code}"
            await asyncio.sleep(min(2.0**attempt * 0.25, 5.0))
        raise Five9RefusedError(
            f"no token from {self._client.base_url}{TOKEN_PATH} after {TOKEN_ATTEMPTS} "
            f"attempts ({last_problem}): check FIVE9_REGION or FIVE9_BASE_URL"
        )

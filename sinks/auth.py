"""OAuth2 client credentials: one token per run, refreshed before it expires, renewed on a 401.

[practice] (docs/five9-contract.md). The secret goes into the Basic header and nowhere else: no
log line, report, artifact or error message carries it. A token request that fails on the way
(5xx, a dropped connection) is tried again under the run's retry policy, at most
TOKEN_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx

from sinks.rest_format import TOKEN_PATH, said
from sinks.retry import Attempts, Kind
from sinks.settings import Five9Settings
from sinks.wire import Five9RefusedError

# Refresh this long before the token's stated expiry (or at 90% of a short lifetime).
REFRESH_EARLY_SECONDS = 60.0
TOKEN_ATTEMPTS = 4


class TokenSource:
    """Hands out a valid bearer token; concurrent callers share one token request."""

    def __init__(self, client: httpx.AsyncClient, settings: Five9Settings) -> None:
        assert settings.consumer_key
        assert settings.secret_key
        self._client = client
        self._auth = httpx.BasicAuth(settings.consumer_key, settings.secret_key.get_secret_value())
        self._policy = replace(settings.retry_policy(), max_attempts=TOKEN_ATTEMPTS)
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
        tries = Attempts(self._policy)
        while True:
            try:
                answer = await self._client.post(
                    TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=self._auth
                )
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}"
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
                problem = f"HTTP {answer.status_code}"
            wait = tries.again(Kind.TRANSIENT)
            if wait is None:
                raise Five9RefusedError(
                    f"no token from {self._client.base_url}{TOKEN_PATH} after "
                    f"{tries.counted} attempts ({problem}): check FIVE9_REGION or FIVE9_BASE_URL"
                )
            await asyncio.sleep(wait)

"""Five9's REST wire: OAuth2 client credentials, the list looked up by name, and one JSON
upload request per chunk (the body and answers as `sinks.rest_format` writes and reads them).

Answers become outcomes: 200 is `Landed` (its `importTroubles` refused), 429 `Again` (when
Five9 said `Retry-After`, that long), 5xx, timeouts and dropped connections `Again`, a 400
`Split` down to the row Five9 refuses (`rejected_by_five9`), other 4xx `GiveUp`; 401 gets a new
token once and sends again; a second 401, 403 and 404 stop the run.
"""

from __future__ import annotations

import time

import httpx
import pandas as pd

from schemas.buckets import Bucket
from sinks.auth import TokenSource
from sinks.chunk import Chunk
from sinks.rest_format import (
    WHOAMI_PATH,
    UploadModes,
    chunk_body,
    contact_objects,
    list_filter,
    list_items,
    lists_path,
    parse_upload_answer,
    said,
    upload_path,
)
from sinks.retry import RETRYABLE_STATUS, Kind, retry_after_seconds
from sinks.settings import Five9Settings
from sinks.wire import (
    Again,
    DeliveryHooks,
    Five9RefusedError,
    GiveUp,
    Landed,
    Outcome,
    Spent,
    Split,
    WireNotes,
)


class RestWire:
    """Uploads through Five9's REST API, with OAuth2 client credentials."""

    def __init__(
        self,
        settings: Five9Settings,
        list_name: str,
        modes: UploadModes,
        hooks: DeliveryHooks | None = None,
    ) -> None:
        self.settings = settings
        self.list_name = list_name
        self.modes = modes
        self.max_in_flight = settings.max_in_flight
        self.told = WireNotes()
        self._hooks = hooks or DeliveryHooks()
        self._client: httpx.AsyncClient | None = None
        self._tokens: TokenSource | None = None
        self._upload_path = ""

    async def open(self) -> None:
        """Get a token, find the domain and the list; any refusal stops the run here."""
        settings = self.settings
        assert settings.consumer_key
        assert settings.secret_key
        self._client = httpx.AsyncClient(
            base_url=settings.resolved_base_url(),
            timeout=httpx.Timeout(settings.request_timeout_seconds),
            limits=httpx.Limits(max_connections=settings.max_in_flight + 2),
        )
        try:
            self._tokens = TokenSource(self._client, settings)
            domain_id = settings.domain_id or await self._whoami()
            list_id = await self._find_list(domain_id)
            self._upload_path = upload_path(domain_id, list_id)
        except BaseException:
            await self._client.aclose()
            raise

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def prepare(self, contacts: pd.DataFrame) -> pd.Series:
        """Each contact's JSON object, made ahead (the costly part of a body)."""
        return contact_objects(contacts)

    def request(self, chunk: Chunk) -> bytes:
        """The upload body of a chunk."""
        return chunk_body(chunk, self.modes)

    async def spent(self) -> Spent | None:
        return None  # REST has no budget beyond the pace

    def shortfall(self, calls: int) -> str | None:
        return None

    async def resume(self, identifier: str, chunk: Chunk) -> Outcome:
        raise AssertionError("REST uploads answer at once: there are no imports to resume")

    async def send(self, chunk: Chunk, request: bytes) -> Outcome:
        """POST the body; a 401 gets a new token and the body goes once more."""
        assert self._client
        assert self._tokens
        self._hooks.sent(time.time())
        token = await self._tokens.token()
        try:
            answer = await self._post(request, token)
            if answer.status_code == 401:
                token = await self._tokens.renew(token)
                answer = await self._post(request, token)
        except httpx.TimeoutException:
            return Again("no answer from Five9 within the timeout", Kind.TRANSIENT)
        except httpx.TransportError as error:
            return Again(f"the connection to Five9 failed ({type(error).__name__})", Kind.TRANSIENT)
        return self._outcome(answer, len(chunk))

    async def _post(self, body: bytes, token: str) -> httpx.Response:
        assert self._client
        headers = {**_bearer(token), "Content-Type": "application/json"}
        return await self._client.post(self._upload_path, content=body, headers=headers)

    def _outcome(self, answer: httpx.Response, rows: int) -> Outcome:
        status = answer.status_code
        if status == 200:
            return Landed(parse_upload_answer(answer.json(), rows).troubles, 200)
        if status == 401:
            raise Five9RefusedError("Five9 refused a fresh token (HTTP 401): check the credentials")
        if status == 403:
            raise Five9RefusedError(
                f"the Five9 credentials lack the lists:write scope for list {self.list_name!r}"
            )
        if status == 404:
            raise Five9RefusedError(f"Five9 list {self.list_name!r} is gone (HTTP 404)")
        problem = f"Five9 answered HTTP {status}{said(answer)}"
        if status == 400:
            return Split(problem, Bucket.REJECTED_BY_FIVE9, 400)
        if status not in RETRYABLE_STATUS:
            return GiveUp(f"{problem}; the request was not retried", status)
        if status == 429:
            told = retry_after_seconds(answer.headers.get("Retry-After"))
            kind = Kind.TOLD_WHEN if told is not None else Kind.THROTTLED
            return Again(problem, kind, status, told)
        return Again(problem, Kind.TRANSIENT, status)

    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        assert self._client
        assert self._tokens
        token = await self._tokens.token()
        answer = await self._client.get(path, params=params, headers=_bearer(token))
        if answer.status_code == 401:
            token = await self._tokens.renew(token)
            answer = await self._client.get(path, params=params, headers=_bearer(token))
        return answer

    async def _whoami(self) -> str:
        answer = await self._get(WHOAMI_PATH)
        if answer.status_code != 200:
            raise Five9RefusedError(
                f"Five9 did not say which domain the credentials belong to (HTTP "
                f"{answer.status_code}): set FIVE9_DOMAIN_ID"
            )
        return str(answer.json()["domainId"])

    async def _find_list(self, domain_id: str) -> str:
        page: str | None = lists_path(domain_id)
        params: dict[str, str] | None = list_filter(self.list_name)
        while page:
            answer = await self._get(page, params)
            if answer.status_code == 403:
                raise Five9RefusedError(
                    "the Five9 credentials lack the lists:read scope needed to find list "
                    f"{self.list_name!r}; grant campaigns:read, lists:read and lists:write"
                )
            if answer.status_code == 404:
                raise Five9RefusedError(
                    f"Five9 domain {domain_id!r} was not found: check FIVE9_DOMAIN_ID"
                )
            if answer.status_code != 200:
                raise Five9RefusedError(
                    f"Five9 answered HTTP {answer.status_code} when looking up list "
                    f"{self.list_name!r}{said(answer)}"
                )
            items, page = list_items(answer.json())
            params = None  # the next page's URL carries its own query
            for item in items:
                if item.get("name") == self.list_name:
                    return str(item["listId"])
        raise Five9RefusedError(
            f"Five9 list {self.list_name!r} does not exist in domain {domain_id!r}; "
            "create it in Five9 or check the list name"
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

"""The throttled, chunked Five9 REST sink.

Delivery guarantee: at least once per contact within a run. A chunk is re-sent after a 429, a
5xx, a timeout or a dropped connection; Five9 matches records on the upload's key fields, so a
re-sent contact updates its record instead of adding a second one. A chunk counts as delivered
only on a 200 answer, less the rows Five9 lists in `importTroubles` (those are
`rejected_by_five9`). A chunk whose retries run out is `failed`; a whole-chunk 400 is `failed`
too (sending it again cannot help). A window that closed while the run was under way is held
back as `expired` as its chunk leaves.

Requests leave through one `Pacer` (no sliding window over the limit) and up to
`max_in_flight` are awaited at once, so the run approaches Five9's ceiling instead of waiting
on each answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd

from sinks.auth import Five9RefusedError, TokenSource
from sinks.five9_wire import (
    WHOAMI_PATH,
    ImportTrouble,
    UploadModes,
    list_filter,
    list_items,
    lists_path,
    parse_upload_answer,
    said,
    upload_body,
    upload_path,
)
from sinks.pacer import Pacer
from sinks.retry import RETRYABLE_STATUS, RetryPolicy, retry_after_seconds
from sinks.settings import Five9Settings
from transforms.expiry import late_reason


@dataclass(frozen=True)
class Chunk:
    """Up to 1,000 contacts for one request, with the source rows they came from."""

    number: int
    contacts: pd.DataFrame
    originals: pd.DataFrame
    codes: npt.NDArray[np.int64]
    objects: pd.Series | None = None
    """Each contact's JSON object for the body, made ahead (see `contact_objects`)."""

    def part(self, rows: npt.NDArray[np.bool_]) -> Chunk:
        """The same chunk with only the rows in `rows`."""
        objects = None if self.objects is None else self.objects[rows]
        return Chunk(
            self.number, self.contacts[rows], self.originals[rows], self.codes[rows], objects
        )


@dataclass
class SinkTotals:
    """What the sink did: rows per bucket, requests sent, 429s and retries seen."""

    delivered: int = 0
    rejected_by_five9: int = 0
    failed: int = 0
    expired: int = 0
    requests: int = 0
    chunks: int = 0
    throttled: int = 0
    retries: int = 0
    splits: int = 0
    send_times: list[float] = field(default_factory=list)


# (rows set aside, bucket, one reason per row)
SetAside = Callable[[Chunk, pd.Series, str, pd.Series | str], None]


def _nothing(*_: object) -> None:
    return None


@dataclass
class DeliveryHooks:
    """Where the run ledger hears of each outcome, as it happens.

    `accepted(chunk, troubled)` runs right after Five9's 2xx and before anything else (and for
    a row Five9 refused on its own, all `troubled`);
    `dead(chunk, rows, bucket, reason, http_status, attempts)` for rows Five9 rejected or the
    run gave up on; `sent(wall_time)` as each upload request leaves; `recent_sends(seconds)`
    gives the wall-clock times of the credential's requests in the last `seconds` (all runs).
    SOAP only: `importing(chunk, identifier)` once Five9 took an import, before its result is
    read, and `imported(identifier)` once that result has settled the rows.
    """

    accepted: Callable[[Chunk, npt.NDArray[np.bool_]], None] = _nothing
    dead: Callable[[Chunk, npt.NDArray[np.bool_], str, pd.Series | str, int | None, int], None] = (
        _nothing
    )
    sent: Callable[[float], None] = _nothing
    recent_sends: Callable[[float], list[float]] = lambda _: []
    importing: Callable[[Chunk, str], None] = _nothing
    imported: Callable[[str], None] = _nothing


class Five9RestSink:
    """Uploads chunks of normalised contacts into one Five9 list."""

    totals_type: type[SinkTotals] = SinkTotals

    def __init__(
        self,
        settings: Five9Settings,
        list_name: str,
        modes: UploadModes,
        set_aside: SetAside,
        on_settled: Callable[[int], None] | None = None,
        clock: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
        hooks: DeliveryHooks | None = None,
        not_before: float | None = None,
        shared_limit: Callable[[], Awaitable[None]] | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        """`not_before`: a wall-clock time before which no request may leave (a rerun starts
        its pacer where the run before it stopped). `shared_limit`: awaited before each
        request's own slot, so runs on other machines that share the credential share one
        rate limit (a Prefect global concurrency limit; see flows/rate_limit.py). `notice`
        hears of long waits, as they begin."""
        self.settings = settings
        self.list_name = list_name
        self.modes = modes
        self.totals = self.totals_type()
        self._set_aside = set_aside
        self._on_settled = on_settled
        self._clock = clock
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_total_seconds=settings.max_retry_seconds,
            base_seconds=settings.backoff_base_seconds,
            cap_seconds=settings.backoff_cap_seconds,
        )
        self._hooks = hooks or DeliveryHooks()
        self._shared_limit = shared_limit
        self._notice = notice or (lambda _: None)
        start = None if not_before is None else time.monotonic() + (not_before - time.time())
        self._pacer = Pacer(settings.request_interval(), not_before=start)
        self._client: httpx.AsyncClient | None = None
        self._tokens: TokenSource | None = None
        self._upload_path = ""

    async def __aenter__(self) -> Five9RestSink:
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
            self._tokens = TokenSource(self._client, settings.consumer_key, settings.secret_key)
            domain_id = settings.domain_id or await self._whoami()
            list_id = await self._find_list(domain_id)
            self._upload_path = upload_path(domain_id, list_id)
        except BaseException:
            await self._client.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

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
            "create it in Five9 or check --list"
        )

    async def deliver(self, chunks: AsyncIterable[Chunk] | Iterable[Chunk]) -> SinkTotals:
        """Send every chunk, up to `max_in_flight` at once, paced; returns the totals."""
        slots = asyncio.Semaphore(self.settings.max_in_flight)
        try:
            async with asyncio.TaskGroup() as group:
                async for chunk in each_chunk(chunks):
                    await slots.acquire()
                    task = group.create_task(self._send(chunk))
                    task.add_done_callback(lambda _: slots.release())
        except BaseExceptionGroup as group:
            # A refusal (credentials, scope, list) stops the run: surface it alone; so does
            # an error of the chunks' source (a bad file found while the run was sending).
            refusals = [e for e in group.exceptions if isinstance(e, Five9RefusedError)]
            if refusals:
                raise refusals[0] from None
            if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
                raise group.exceptions[0] from None
            raise
        finally:
            self.totals.send_times = list(self._pacer.sent)
        return self.totals

    def _hold_back_expired(self, chunk: Chunk) -> Chunk:
        now = self._clock()
        closed = (chunk.contacts["guard_end"] <= now).to_numpy()
        if not closed.any():
            return chunk
        late = chunk.contacts.index[closed]
        reason = late_reason(chunk.contacts.loc[late, "guard_end"], now)
        self._set_aside(chunk, pd.Series(late), "expired", reason)
        self.totals.expired += len(late)
        self._settled(len(late))
        return chunk.part(~closed)

    async def _send(self, chunk: Chunk, *, whole: bool = True) -> None:
        assert self._client
        assert self._tokens
        self.totals.chunks += whole
        began = time.monotonic()
        attempts = 0
        paced = 0  # 429s that said when to come back: they cost time, not attempts
        renewed = False
        while True:
            # The body is built before the slot so the request leaves the moment it is taken;
            # expiry is judged after the wait, and the body rebuilt only if a window closed.
            body = upload_body(chunk.contacts, self.modes, chunk.objects)
            if self._shared_limit is not None:
                await self._shared_limit()
            await self._pacer.slot()
            still_open = self._hold_back_expired(chunk)
            if still_open.contacts.empty:
                return
            if len(still_open.contacts) != len(chunk.contacts):
                chunk = still_open
                body = upload_body(chunk.contacts, self.modes, chunk.objects)
            attempts += 1
            self.totals.requests += 1
            self._hooks.sent(time.time())
            token = await self._tokens.token()
            wait: float | None = None
            status: int | None = None
            try:
                answer = await self._client.post(
                    self._upload_path,
                    content=body,
                    headers={**_bearer(token), "Content-Type": "application/json"},
                )
            except httpx.TimeoutException:
                problem = "no answer from Five9 within the timeout"
            except httpx.TransportError as error:
                problem = f"the connection to Five9 failed ({type(error).__name__})"
            else:
                status = answer.status_code
                if status == 200:
                    self._accept(chunk, answer, attempts)
                    return
                if status == 401 and not renewed:
                    renewed = True
                    await self._tokens.renew(token)
                    continue
                if status == 401:
                    raise Five9RefusedError(
                        "Five9 refused a fresh token (HTTP 401): check the credentials"
                    )
                if status == 403:
                    raise Five9RefusedError(
                        "the Five9 credentials lack the lists:write scope for list "
                        f"{self.list_name!r}"
                    )
                if status == 404:
                    raise Five9RefusedError(f"Five9 list {self.list_name!r} is gone (HTTP 404)")
                problem = f"Five9 answered HTTP {status}{said(answer)}"
                if status == 400:
                    await self._isolate(chunk, problem, attempts)
                    return
                if status not in RETRYABLE_STATUS:
                    self._fail(chunk, f"{problem}; the request was not retried", status, attempts)
                    return
                if status == 429:
                    self.totals.throttled += 1
                    wait = retry_after_seconds(answer.headers.get("Retry-After"))
                    paced += wait is not None
            if self._policy.gives_up(attempts - paced, time.monotonic() - began):
                self._fail(chunk, f"{problem}; gave up after {attempts} attempts", status, attempts)
                return
            self.totals.retries += 1
            if wait is not None:
                self._pacer.hold(wait)
            else:
                await asyncio.sleep(self._policy.backoff(attempts))

    async def _isolate(self, chunk: Chunk, problem: str, attempts: int) -> None:
        """Five9 refused the request as a whole: send each half on its own, down to single
        rows, so the good rows land and the bad ones are set aside with Five9's reason."""
        rows = len(chunk.contacts)
        if rows == 1:
            reason = f"{problem} (this row alone)"
            # The ledger settles it as rejected, as it does a row Five9 lists in importTroubles:
            # a rerun does not send it again (and split a whole chunk again to find it).
            self._hooks.accepted(chunk, np.ones(1, dtype=bool))
            self._set_aside(chunk, pd.Series(chunk.contacts.index), "rejected_by_five9", reason)
            self._hooks.dead(
                chunk, np.ones(1, dtype=bool), "rejected_by_five9", reason, 400, attempts
            )
            self.totals.rejected_by_five9 += 1
            self._settled(1)
            return
        self.totals.splits += 1
        first = np.arange(rows) < rows // 2
        await self._send(chunk.part(first), whole=False)
        await self._send(chunk.part(~first), whole=False)

    def _accept(self, chunk: Chunk, answer: httpx.Response, attempts: int) -> None:
        result = parse_upload_answer(answer.json(), len(chunk.contacts))
        self._landed(chunk, result.troubles, 200, attempts)

    def _landed(
        self,
        chunk: Chunk,
        troubles: Sequence[ImportTrouble],
        status: int | None,
        attempts: int,
    ) -> None:
        """Five9 took the chunk: the rows it lists as troubles are rejected with its message,
        the rest delivered (the ledger hears first)."""
        troubled = sorted({t.position for t in troubles})
        mask = np.zeros(len(chunk.contacts), dtype=bool)
        mask[troubled] = True
        self._hooks.accepted(chunk, mask)
        if troubled:
            labels = chunk.contacts.index[troubled]
            messages = {t.position: f"Five9: {t.kind}: {t.message}" for t in troubles}
            reason = pd.Series([messages[p] for p in troubled], index=labels, dtype="str")
            self._set_aside(chunk, pd.Series(labels), "rejected_by_five9", reason)
            self._hooks.dead(chunk, mask, "rejected_by_five9", reason, status, attempts)
            self.totals.rejected_by_five9 += len(labels)
        self.totals.delivered += len(chunk.contacts) - len(troubled)
        self._settled(len(chunk.contacts))

    def _settled(self, rows: int) -> None:
        """Rows whose fate is known (delivered, rejected, failed or expired)."""
        if self._on_settled is not None:
            self._on_settled(rows)

    def _fail(self, chunk: Chunk, reason: str, status: int | None, attempts: int) -> None:
        self._set_aside(chunk, pd.Series(chunk.contacts.index), "failed", reason)
        everything = np.ones(len(chunk.contacts), dtype=bool)
        self._hooks.dead(chunk, everything, "failed", reason, status, attempts)
        self.totals.failed += len(chunk.contacts)
        self._settled(len(chunk.contacts))


async def each_chunk(chunks: AsyncIterable[Chunk] | Iterable[Chunk]) -> AsyncIterator[Chunk]:
    """The chunks one by one, whether they come from an async or a plain iterable."""
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

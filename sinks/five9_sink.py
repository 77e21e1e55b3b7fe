"""The throttled, chunked Five9 sink: one for both wires (REST, and the legacy SOAP path).

Delivery guarantee: at least once per contact within a run. A chunk is sent again after an
outcome worth another try (`sinks.retry`: 429 or Five9's operations limit, 5xx, a timeout, a
dropped connection, a SOAP import that took nothing); Five9 matches records on the key
fields, so a re-sent contact updates its record instead of adding a second one. A chunk counts
as delivered only once Five9 took it, less the rows it names as troubles (those are
`rejected_by_five9`). A chunk whose tries run out is `failed`, and its rows wait as dead
letters; a request Five9 refuses as a whole is split down to the row it refuses. A window
that closed while the run was under way is held back as `expired` as its chunk leaves.

Requests leave through one `Pacer` (no sliding window over the limit), up to the wire's
`max_in_flight` awaited at once, so the run approaches Five9's ceiling instead of waiting on
each answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas.buckets import Bucket, Tallied, Tally
from sinks.chunk import Chunk
from sinks.pacer import Pacer, Pacing
from sinks.rest_format import UploadModes
from sinks.retry import Attempts, Kind
from sinks.settings import Five9Settings
from sinks.wire import (
    Again,
    DeliveryHooks,
    Five9RefusedError,
    GiveUp,
    ImportTrouble,
    Landed,
    Outcome,
    Split,
    Wire,
)
from transforms.expiry import late_reason

log = logging.getLogger(__name__)  # counts and reasons only: never a number, a name or a secret

# (rows set aside, bucket, one reason per row)
SetAside = Callable[[Chunk, pd.Series, Bucket, pd.Series | str], None]


@dataclass
class SinkTotals(Tallied):
    """What the sink did: rows per bucket, requests sent, 429s and retries seen."""

    tally: Tally = field(default_factory=Tally)
    requests: int = 0
    chunks: int = 0
    throttled: int = 0
    retries: int = 0
    splits: int = 0
    send_times: list[float] = field(default_factory=list)


class Five9Sink:
    """Uploads chunks of normalised contacts into one Five9 list, through a wire."""

    def __init__(
        self,
        wire: Wire,
        settings: Five9Settings,
        set_aside: SetAside,
        on_settled: Callable[[int], None] | None = None,
        clock: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
        hooks: DeliveryHooks | None = None,
        pacer: Pacing | None = None,
        shared_limit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`pacer`: where send slots come from (the run's own, by default; the state store's,
        shared by every run on the credential, when the run has one). `shared_limit`: awaited
        before each request's own slot (Prefect's global concurrency limit, for runs on other
        machines when no state store is shared)."""
        self.wire = wire
        self.totals = SinkTotals()
        self._set_aside = set_aside
        self._on_settled = on_settled
        self._clock = clock
        self._policy = settings.retry_policy()
        self._hooks = hooks or DeliveryHooks()
        self._shared_limit = shared_limit
        self._pacer = pacer or Pacer(settings.request_interval())

    @classmethod
    def for_settings(
        cls,
        settings: Five9Settings,
        list_name: str,
        modes: UploadModes,
        set_aside: SetAside,
        *,
        hooks: DeliveryHooks | None = None,
        notice: Callable[[str], None] | None = None,
        **options: object,
    ) -> Five9Sink:
        """The sink with the wire the settings pick: REST, or SOAP when
        FIVE9_REST_ENABLED (Five9's RestAPIEnabled) is false."""
        from sinks.rest_wire import RestWire
        from sinks.soap_wire import SoapWire

        hooks = hooks or DeliveryHooks()
        wire: Wire = (
            RestWire(settings, list_name, modes, hooks)
            if settings.rest_enabled
            else SoapWire(settings, list_name, modes, hooks, notice or (lambda _: None))
        )
        return cls(wire, settings, set_aside, hooks=hooks, **options)  # type: ignore[arg-type]

    async def __aenter__(self) -> Five9Sink:
        """Check the credentials and the list; any refusal stops the run here."""
        await self.wire.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.wire.close()

    def prepare(self, contacts: pd.DataFrame) -> pd.Series | None:
        """What the wire makes ahead for these contacts (called off the event loop)."""
        return self.wire.prepare(contacts)

    async def deliver(self, chunks: AsyncIterable[Chunk] | Iterable[Chunk]) -> SinkTotals:
        """Send every chunk, up to the wire's `max_in_flight` at once, paced; the totals."""
        slots = asyncio.Semaphore(self.wire.max_in_flight)
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

    async def resume(self, imports: Iterable[tuple[str, Chunk]]) -> None:
        """Settle the rows of imports an earlier attempt made but did not read the results of
        (it stopped while Five9 worked); rows whose outcome cannot be known fail, and the load
        sends them again."""
        for identifier, chunk in imports:
            outcome = await self.wire.resume(identifier, chunk)
            if isinstance(outcome, Landed):
                self._landed(chunk, outcome.troubles, outcome.status, 1)
            elif isinstance(outcome, Again | GiveUp | Split):
                self._fail(chunk, outcome.problem, outcome.status, 1)

    async def _send(self, chunk: Chunk, *, whole: bool = True) -> None:
        """Send one chunk until it lands, is split, or its tries run out."""
        self.totals.chunks += whole
        if whole:
            self._hooks.starting(chunk)
        tries = Attempts(self._policy)
        made = 0
        while True:
            spent = await self.wire.spent()
            if spent is not None:
                self.wire.told.spent_until = spent.until
                self._fail(chunk, spent.reason, None, made)
                return
            # The request is made before the slot so it leaves the moment the slot is taken;
            # expiry is judged after the wait, and the request made again only if rows left.
            request = self.wire.request(chunk)
            if self._shared_limit is not None:
                await self._shared_limit()
            await self._pacer.slot()
            still_open = self._hold_back_expired(chunk)
            if still_open.contacts.empty:
                return
            if len(still_open.contacts) != len(chunk.contacts):
                chunk = still_open
                request = self.wire.request(chunk)
            made += 1
            self.totals.requests += 1
            outcome = await self.wire.send(chunk, request)
            if not await self._settle(chunk, outcome, tries, made):
                return

    async def _settle(self, chunk: Chunk, outcome: Outcome, tries: Attempts, made: int) -> bool:
        """Act on one outcome; True when the chunk is to be sent again."""
        if isinstance(outcome, Landed):
            self._landed(chunk, outcome.troubles, outcome.status, made)
            return False
        if isinstance(outcome, Split):
            await self._split(chunk, outcome, made)
            return False
        if isinstance(outcome, GiveUp):
            self._fail(chunk, outcome.problem, outcome.status, made)
            return False
        throttled = outcome.kind in (Kind.THROTTLED, Kind.TOLD_WHEN)
        self.totals.throttled += throttled
        wait = tries.again(outcome.kind, outcome.told, outcome.held)
        if wait is None:
            reason = f"{outcome.problem}; gave up after {made} attempts"
            log.info(
                "chunk %d: %s; its %d rows wait as dead letters",
                chunk.number,
                reason,
                len(chunk.contacts),
            )
            self._fail(chunk, reason, outcome.status, made)
            return False
        self.totals.retries += 1
        if throttled:  # every request waits: the budget is spent (maybe by another run)
            log.info(
                "chunk %d: %s; every request waits %.1f s", chunk.number, outcome.problem, wait
            )
            self._pacer.hold(wait)
        else:
            if outcome.kind is not Kind.PENDING:
                log.info(
                    "chunk %d: %s; trying again in %.1f s", chunk.number, outcome.problem, wait
                )
            await asyncio.sleep(wait)
        return True

    async def _split(self, chunk: Chunk, split: Split, made: int) -> None:
        """Five9 refused the request as a whole: send each half on its own, down to single
        rows, so the good rows land and a refused one ends in the split's bucket."""
        rows = len(chunk.contacts)
        if rows > 1:
            log.info(
                "chunk %d: %s; sending each half of its %d rows", chunk.number, split.problem, rows
            )
            self.totals.splits += 1
            first = np.arange(rows) < rows // 2
            await self._send(chunk.part(first), whole=False)
            await self._send(chunk.part(~first), whole=False)
            return
        reason = f"{split.problem} (this row alone)"
        if split.lone is not Bucket.REJECTED_BY_FIVE9:
            self._fail(chunk, reason, split.status, made)
            return
        # Settled as rejected, as a row Five9 names in importTroubles is: a rerun does not
        # send it again (and split a whole chunk again to find it).
        everything = np.ones(1, dtype=bool)
        self._hooks.accepted(chunk, everything)
        self._set_aside(chunk, pd.Series(chunk.contacts.index), Bucket.REJECTED_BY_FIVE9, reason)
        self._hooks.dead(chunk, everything, Bucket.REJECTED_BY_FIVE9, reason, split.status, made)
        self._count(Bucket.REJECTED_BY_FIVE9, 1)

    def _hold_back_expired(self, chunk: Chunk) -> Chunk:
        now = self._clock()
        closed = (chunk.contacts["guard_end"] <= now).to_numpy()
        if not closed.any():
            return chunk
        late = chunk.contacts.index[closed]
        reason = late_reason(chunk.contacts.loc[late, "guard_end"], now)
        self._set_aside(chunk, pd.Series(late), Bucket.EXPIRED, reason)
        self._count(Bucket.EXPIRED, len(late))
        return chunk.part(~closed)

    def _landed(
        self, chunk: Chunk, troubles: Sequence[ImportTrouble], status: int | None, made: int
    ) -> None:
        """Five9 took the chunk: the rows it names as troubles are rejected with its message,
        the rest delivered (the ledger hears first)."""
        troubled = sorted({t.position for t in troubles})
        mask = np.zeros(len(chunk.contacts), dtype=bool)
        mask[troubled] = True
        self._hooks.accepted(chunk, mask)
        if troubled:
            labels = chunk.contacts.index[troubled]
            messages = {t.position: f"Five9: {t.kind}: {t.message}" for t in troubles}
            reason = pd.Series([messages[p] for p in troubled], index=labels, dtype="str")
            self._set_aside(chunk, pd.Series(labels), Bucket.REJECTED_BY_FIVE9, reason)
            self._hooks.dead(chunk, mask, Bucket.REJECTED_BY_FIVE9, reason, status, made)
            self._count(Bucket.REJECTED_BY_FIVE9, len(labels), settled=False)
        self._count(Bucket.DELIVERED, len(chunk.contacts) - len(troubled), settled=False)
        self._settled(len(chunk.contacts))

    def _fail(self, chunk: Chunk, reason: str, status: int | None, made: int) -> None:
        self._set_aside(chunk, pd.Series(chunk.contacts.index), Bucket.FAILED, reason)
        everything = np.ones(len(chunk.contacts), dtype=bool)
        self._hooks.dead(chunk, everything, Bucket.FAILED, reason, status, made)
        self._count(Bucket.FAILED, len(chunk.contacts))

    def _count(self, bucket: Bucket, rows: int, *, settled: bool = True) -> None:
        self.totals.tally.add(bucket, rows)
        if settled:
            self._settled(rows)

    def _settled(self, rows: int) -> None:
        """Rows whose fate is known (delivered, rejected, failed or expired)."""
        if self._on_settled is not None:
            self._on_settled(rows)


async def each_chunk(chunks: AsyncIterable[Chunk] | Iterable[Chunk]) -> AsyncIterator[Chunk]:
    """The chunks one by one, whether they come from an async or a plain iterable."""
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk

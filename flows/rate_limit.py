"""One upload rate limit for every run that shares a Five9 credential, on any machine: a
Prefect global concurrency limit used as a rate limit.

Shape: a limit of 1 slot with a decay of `(N - 1) / (W + guard)` slots a second. A burst can
take the one slot at most, then slots come back no faster than the decay, so any window of W
seconds admits at most `1 + decay * W < N` requests across all runs together. Prefect's
polling is coarse (acquisitions arrive later than the decay allows, never earlier), so the
runs achieve somewhat less than the ceiling; each run's summary shows the rate it achieved.
The in-process pacer stays in force too, and alone serves runs without a Prefect server.

On the SOAP path (FIVE9_REST_ENABLED=false) the budget belongs to the Five9 user, so the limit
is one per user name (`credential_id`) and its decay honours both of Five9's SOAP limits.
Five9's "one call at a time per user" is kept within a run (the SOAP sink makes one call at a
time); two runs with the same user at once can still meet ConcurrentModificationFault, which
the sink waits out and retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import rate_limit
from prefect.exceptions import ObjectAlreadyExists

from contacts_etl.run_state import credential_id
from sinks.settings import Five9Settings


def limit_name(settings: Five9Settings) -> str:
    """The limit's name: one per credential (no secret in it)."""
    return f"five9-uploads-{credential_id(settings)}"


def limit_decay(settings: Five9Settings) -> float:
    """Slots a second that keep any window at or under its limit with one slot to burst (on
    the SOAP path both of them: 20 calls a minute and 1,000 an hour, per Five9 user)."""
    return min(
        (calls - 1) / (window + max(window * settings.rate_margin, settings.rate_guard_seconds))
        for calls, window in settings.rate_limits()
    )


def ensure_shared_limit(settings: Five9Settings) -> str:
    """Create the credential's limit if missing (or reshape it); return its name."""
    name = limit_name(settings)
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(
                name, limit=1, slot_decay_per_second=limit_decay(settings)
            )
        except ObjectAlreadyExists:
            # Another run created it between Prefect's read and create (the upsert is not
            # atomic): now it exists, so this upsert only reshapes it if need be.
            client.upsert_global_concurrency_limit_by_name(
                name, limit=1, slot_decay_per_second=limit_decay(settings)
            )
    return name


def shared_limit(settings: Five9Settings) -> Callable[[], Awaitable[None]]:
    """An awaitable that admits one upload request under the credential's shared limit."""
    name = ensure_shared_limit(settings)

    async def admit() -> None:
        await rate_limit(name, occupy=1, strict=True)

    return admit

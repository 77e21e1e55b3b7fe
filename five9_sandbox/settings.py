"""Settings of one sandbox Five9 domain: its credential, scopes, lists and limits.

Defaults follow docs/five9-contract.md ([confirmed]: 1,000 contacts a request, 40 upload
requests a minute per credential, scopes ``campaigns:read lists:read lists:write``). The
window and the limits are settings so tests can scale them down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from five9_sandbox.faults import FaultPlan

DEFAULT_SCOPES: frozenset[str] = frozenset({"campaigns:read", "lists:read", "lists:write"})
# The sandbox domain's custom fields: those of the sample data. Any other name is refused, as
# Five9 refuses a field the domain does not have, so a misspelt or leaked column shows.
SAMPLE_CUSTOM_FIELDS: frozenset[str] = frozenset({"account_id", "segment"})


@dataclass
class SandboxSettings:
    """One sandbox domain. Only one credential (consumer key + secret) exists in it."""

    consumer_key: str = "sandbox-key"
    secret_key: str = "sandbox-secret"
    domain_id: str = "sandbox-domain"
    username: str = "sandbox-admin"
    password: str = "sandbox-password"
    """The SOAP admin user's password (HTTP Basic with ``username``)."""
    scopes: frozenset[str] = DEFAULT_SCOPES
    """Scopes granted to every token of the credential."""
    lists: tuple[str, ...] = ("demo",)
    """Lists that exist at start (and after a reset); each listId is derived stably from
    the domain id and the name."""
    token_ttl_seconds: float = 3600.0
    max_requests: int = 40
    """Upload requests per credential ..."""
    window_seconds: float = 60.0
    """... in a sliding window of this many seconds (sandbox clock: ``time.monotonic``)."""
    max_contacts: int = 1000
    e164: bool = False
    """Domain set to E.164: a leading "+" is accepted instead of silently dropped."""
    faults: FaultPlan = field(default_factory=FaultPlan)
    soap_max_records: int = 100
    """Records per asyncAddRecordsToList call [confirmed] ..."""
    soap_calls_per_minute: int = 20
    soap_minute_seconds: float = 60.0
    soap_calls_per_hour: int = 1000
    soap_hour_seconds: float = 3600.0
    soap_calls_per_day: int = 2000
    soap_day_seconds: float = 86400.0
    """... and its calls per user in three sliding windows [confirmed]; scaled down in tests."""
    soap_queries_per_minute: int = 450
    """Query-class calls (isImportRunning, getListImportResult, getListsInfo,
    getCallCountersState) per user in a sliding ``soap_minute_seconds`` [confirmed]."""
    soap_import_seconds: float = 0.05
    """How long an asynchronous import runs before its result is ready."""
    soap_call_seconds: float = 0.02
    """The least time a SOAP call holds its user: a second call of the user meanwhile is
    refused (ConcurrentModificationFault), so calls that overlap on the wire collide."""
    custom_fields: frozenset[str] | None = SAMPLE_CUSTOM_FIELDS
    """Custom contact fields that exist in the domain: an upload naming any other
    non-standard field is refused with 400 (REST) or ignored with a warning (SOAP)
    [assumed]. None accepts any name (for a stand-in that cannot know the real domain)."""

    def __repr__(self) -> str:  # never show the secret
        return (
            f"SandboxSettings(consumer_key={self.consumer_key!r}, secret_key='***', "
            f"username={self.username!r}, password='***', "
            f"domain_id={self.domain_id!r}, lists={self.lists!r}, "
            f"max_requests={self.max_requests}, window_seconds={self.window_seconds})"
        )

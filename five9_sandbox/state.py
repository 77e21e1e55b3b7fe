"""The in-memory Five9 domain behind the sandbox: credential, tokens, lists, records, rate
window, faults and an event log. Thread-safe: every public method takes one lock, because
uvicorn serves from its own thread while a test reads state from the main thread.

Nothing here speaks HTTP; ``rest_app`` and ``soap_app`` map these outcomes to answers. SOAP
imports land in the same per-list record stores (``soap_imports`` holds the SOAP user's
windows and import jobs).

What counts against the rate limit (decided here, the contract is silent): only upload
requests that pass authentication (401), scope (403) and the domain/list lookup (404) reach
the rate check; those admitted by it are counted, whatever their answer later is (200, 400,
an injected 5xx or a dropped connection). A request answered 429 (by the window or an injected
storm) is not counted, as docs/five9-contract.md says. Token, whoami and list lookups are
never counted.

The secret key is never logged, echoed or stored in an event.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from five9_sandbox.faults import FaultInjector, FaultPlan
from five9_sandbox.importer import (
    DroppedContact,
    ImportResult,
    RecordKey,
    SandboxRecord,
    import_contacts,
)
from five9_sandbox.rate_window import SlidingWindowLog
from five9_sandbox.settings import SandboxSettings
from five9_sandbox.soap_imports import SoapDesk
from five9_sandbox.upload_contract import BadRequestError, UploadBody, parse_upload

_LIST_ID_NAMESPACE = uuid.UUID("6f1c2a52-3c55-4a5e-9d43-5f9e0c1d7a11")


class UnauthorizedError(Exception):
    """401: a token request with a wrong key or secret, or a missing/invalid/expired token."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who a valid bearer token speaks for."""

    consumer_key: str
    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class ListInfo:
    list_id: str
    name: str
    size: int


@dataclass
class _List:
    list_id: str
    name: str
    records: dict[RecordKey, SandboxRecord] = field(default_factory=dict)


UploadOutcome = Literal["proceed", "storm_429", "rate_limited", "drop", "error_5xx"]


@dataclass(frozen=True)
class UploadGate:
    """What happens to an authorised upload before its body is looked at."""

    outcome: UploadOutcome
    delay: float = 0.0
    retry_after: str | None = None
    status: int | None = None
    load_before_drop: bool = False


class Sandbox:
    """In-memory Five9 domain: credentials, tokens, lists, records, request log, faults."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings if settings is not None else SandboxSettings()
        self._lock = threading.RLock()
        self.started_at = time.monotonic()
        self._tokens: dict[str, Principal] = {}
        self._revoked: set[str] = set()
        self._lists: dict[str, _List] = {}
        self._window = SlidingWindowLog(self.settings.max_requests, self.settings.window_seconds)
        self._faults = FaultInjector(self.settings.faults)
        self._events: list[dict[str, Any]] = []
        self._dropped: list[DroppedContact] = []
        self.soap = SoapDesk(self.settings)
        self._crm_ids = itertools.count(1)
        self.reset()

    # ----------------------------------------------------------------- control and inspection

    def reset(self) -> None:
        """Back to a fresh domain: the settings' lists only, no records, tokens, uploads,
        events or drops, and the settings' fault plan."""
        with self._lock:
            self.started_at = time.monotonic()
            self._tokens.clear()
            self._revoked.clear()
            self._lists.clear()
            self._window = SlidingWindowLog(
                self.settings.max_requests, self.settings.window_seconds
            )
            self._faults = FaultInjector(self.settings.faults)
            self._events.clear()
            self._dropped.clear()
            self.soap = SoapDesk(self.settings)
            self._crm_ids = itertools.count(1)
            for name in self.settings.lists:
                self.add_list(name)

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the live fault plan (a copy is taken; its counters start afresh)."""
        with self._lock:
            self._faults = FaultInjector(plan)
            self._event("faults_set", plan=dict(vars(self._faults.plan)))

    @property
    def faults(self) -> FaultPlan:
        """A copy of the live plan, counters as consumed so far."""
        with self._lock:
            return FaultPlan(**vars(self._faults.plan))

    def add_list(self, name: str) -> str:
        """Create a list (no-op when it exists) and return its listId (stable per name)."""
        if not name:
            raise ValueError("a list needs a name")
        with self._lock:
            existing = self._lists.get(name)
            if existing is not None:
                return existing.list_id
            list_id = str(uuid.uuid5(_LIST_ID_NAMESPACE, f"{self.settings.domain_id}/{name}"))
            self._lists[name] = _List(list_id, name)
            return list_id

    def clean_list(self, name: str) -> int:
        """Remove every record of a list (SOAP's cleanListBeforeUpdate) and say how many there
        were. KeyError if unknown."""
        with self._lock:
            records = self._lists[name].records
            removed = len(records)
            records.clear()
            return removed

    def remove_list(self, name: str) -> None:
        """Delete a list, as an administrator might while a load runs (later uploads: 404)."""
        with self._lock:
            self._lists.pop(name, None)

    def records(self, list_name: str) -> dict[tuple[str, ...], SandboxRecord]:
        """Key tuple -> record for a list (a copy). KeyError for an unknown list."""
        with self._lock:
            return dict(self._lists[list_name].records)

    def upload_times(self, consumer_key: str | None = None) -> list[float]:
        """``time.monotonic()`` of each upload counted against the limit, in arrival order."""
        with self._lock:
            return self._window.times(consumer_key)

    def max_in_any_window(self, consumer_key: str | None = None) -> int:
        """The most counted uploads inside any sliding ``window_seconds``."""
        with self._lock:
            return self._window.max_in_any_window(consumer_key)

    def events(self) -> list[dict[str, Any]]:
        """Notable things, oldest first: each has ``kind`` and ``t`` (seconds since start)."""
        with self._lock:
            return [dict(event) for event in self._events]

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events() if event["kind"] == kind]

    @property
    def dropped_e164(self) -> list[DroppedContact]:
        """Contacts dropped silently for a leading "+" outside E.164 mode (a copy)."""
        with self._lock:
            return list(self._dropped)

    def event(self, kind: str, **details: Any) -> None:
        """Add an event to the log (for the SOAP routes)."""
        with self._lock:
            self._event(kind, **details)

    def _event(self, kind: str, **details: Any) -> None:
        self._events.append({"kind": kind, "t": time.monotonic() - self.started_at, **details})

    # ----------------------------------------------------------------------- authentication

    def verify_client(self, consumer_key: str, secret_key: str) -> None:
        """Raise ``UnauthorizedError('invalid_client', ...)`` unless the credential is right."""
        settings = self.settings
        key_ok = secrets.compare_digest(consumer_key.encode(), settings.consumer_key.encode())
        secret_ok = secrets.compare_digest(secret_key.encode(), settings.secret_key.encode())
        if not (key_ok and secret_ok):
            reason = "unknown consumer key" if not key_ok else "wrong secret key"
            with self._lock:
                self._event("token_refused", reason=reason)
            raise UnauthorizedError("invalid_client", reason)

    def issue_token(self, consumer_key: str, secret_key: str) -> IssuedToken:
        """Client-credentials grant; raises ``UnauthorizedError('invalid_client', ...)``."""
        settings = self.settings
        self.verify_client(consumer_key, secret_key)
        with self._lock:
            token = secrets.token_urlsafe(32)
            ttl = settings.token_ttl_seconds
            self._tokens[token] = Principal(consumer_key, settings.scopes, time.monotonic() + ttl)
            self._event("token_issued", consumer_key=consumer_key)
            return IssuedToken(token, max(0, int(ttl)))

    def authenticate(self, token: str | None, *, path: str) -> Principal:
        """The principal of a bearer token; raises ``UnauthorizedError('invalid_token', ...)``."""
        with self._lock:
            principal = self._tokens.get(token) if token else None
            reason = ""
            if not token:
                reason = "missing bearer token"
            elif principal is None:
                reason = "token revoked early" if token in self._revoked else "unknown token"
            elif time.monotonic() >= principal.expires_at:
                reason = "token expired"
            if reason or principal is None:
                self._event("unauthorized", reason=reason, path=path)
                raise UnauthorizedError("invalid_token", reason)
            return principal

    def note_forbidden(self, principal: Principal, scope: str, path: str) -> None:
        with self._lock:
            self._event("forbidden", consumer_key=principal.consumer_key, scope=scope, path=path)

    # ------------------------------------------------------------------------------- lists

    def find_lists(self, name: str | None) -> list[ListInfo]:
        """Lists with this exact name (all lists when None), in creation order."""
        with self._lock:
            return [
                ListInfo(item.list_id, item.name, len(item.records))
                for item in self._lists.values()
                if name is None or item.name == name
            ]

    def list_name_of(self, list_id: str) -> str | None:
        with self._lock:
            return next((i.name for i in self._lists.values() if i.list_id == list_id), None)

    # ------------------------------------------------------------------------------ uploads

    def begin_upload(self, principal: Principal, list_name: str) -> UploadGate:
        """Faults and the rate window for an authorised upload (see module docstring)."""
        key = principal.consumer_key
        with self._lock:
            faults = self._faults
            delay = faults.take_slow()
            if delay:
                self._event("slow_answer", seconds=delay, list=list_name)
            if faults.take_storm():
                retry_after = faults.plan.retry_after
                self._event("storm_429", retry_after=retry_after, consumer_key=key)
                return UploadGate("storm_429", delay, retry_after=retry_after)
            now = time.monotonic()
            wait = self._window.try_admit(key, now)
            if wait is not None:
                self._event("rate_limited", retry_after=str(wait), consumer_key=key)
                return UploadGate("rate_limited", delay, retry_after=str(wait))
            return self._transport_gate(delay, list=list_name, consumer_key=key)

    def _transport_gate(self, delay: float, **who: str) -> UploadGate:
        """An admitted call's injected transport faults (a dropped connection, a 5xx), else
        "proceed". Called under the lock, by the REST and the SOAP gates alike."""
        faults = self._faults
        if faults.take_drop():
            self._event("dropped_connection", **who)
            return UploadGate("drop", delay, load_before_drop=faults.plan.drop_after_load)
        status = faults.take_5xx()
        if status is not None:
            self._event("error_5xx", status=status, **who)
            return UploadGate("error_5xx", delay, status=status)
        return UploadGate("proceed", delay)

    def load(self, list_name: str, raw_body: bytes) -> ImportResult:
        """Validate and import one upload body; raises ``BadRequestError`` for a 400 and
        ``KeyError`` when the list no longer exists."""
        settings = self.settings
        body = parse_upload(
            raw_body, max_contacts=settings.max_contacts, custom_fields=settings.custom_fields
        )
        with self._lock:
            number1s = [c.contact_fields.get("number1", "") for c in body.contacts]
            if self._faults.refuses(number1s):
                target = self._faults.plan.refuse_chunk_containing
                self._event("refused_chunk", number1=target, list=list_name)
                raise BadRequestError("invalid_request", f"contact with number1 {target} refused")
            result = self.import_rows(list_name, body)  # the list may be gone after a reset
            if self._faults.note_success():
                self._revoked.update(self._tokens)
                self._tokens.clear()
                self._event("tokens_expired_early", count=len(self._revoked))
            return result

    # ------------------------------------------------------------------- SOAP (legacy path)

    def begin_soap_import(self, user: str, list_name: str) -> UploadGate:
        """Faults and the SOAP windows for an authenticated asyncAddRecordsToList call, in
        the order of ``begin_upload`` (``storm_429`` is an injected OperationsLimitExceeded)."""
        with self._lock:
            faults = self._faults
            delay = faults.take_slow()
            if delay:
                self._event("slow_answer", seconds=delay, list=list_name)
            if faults.take_operations_limit():
                self._event("soap_operations_limit", injected=True, user=user)
                return UploadGate("storm_429", delay)
            full = self.soap.admit(user, time.monotonic())
            if full is not None:
                self._event("soap_operations_limit", injected=False, user=user, window=full)
                return UploadGate("rate_limited", delay)
            return self._transport_gate(delay, list=list_name, user=user)

    def spend_soap_calls(self, calls: int, seconds_ago: float) -> None:
        """Count `calls` import calls of the SOAP user, made `seconds_ago` by other work."""
        self.soap.spend(self.settings.username, calls, time.monotonic() - seconds_ago)

    def soap_import_fails(self) -> bool:
        """True when an injected failure makes this finished import take none of its rows."""
        with self._lock:
            return self._faults.take_import_failure()

    def soap_result_not_ready(self) -> bool:
        """True when an injected ResultIsNotReadyFault answers this getListImportResult."""
        with self._lock:
            return self._faults.take_not_ready()

    def import_rows(self, list_name: str, body: UploadBody) -> ImportResult:
        """Import rows already read (the SOAP path) like an upload's; KeyError for a list
        that no longer exists."""
        with self._lock:
            target_list = self._lists.get(list_name)
            if target_list is None:
                raise KeyError(list_name)
            result = import_contacts(
                target_list.records,
                body,
                list_name=list_name,
                e164=self.settings.e164,
                crm_ids=self._crm_ids,
            )
            for dropped in result.dropped:
                self._dropped.append(dropped)
                self._event(
                    "dropped_e164",
                    list=list_name,
                    row_number=dropped.row_number,
                    field=dropped.field,
                    value=dropped.value,
                )
            return result

    def note_bad_request(self, list_name: str, error: BadRequestError) -> None:
        with self._lock:
            self._event("bad_request", list=list_name, error=error.error, message=error.message)

"""A load's link to the run ledger: its identity, what earlier attempts settled, and the hooks
through which the sink reports each outcome as it happens."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from contacts_etl.pipeline import EarlierOutcomes
from schemas.fields import DEFAULT_KEYS, SOURCE_FILE, SOURCE_LINE
from sinks.chunk import Chunk
from sinks.ledger import OpenImport, RunLedger, run_identity
from sinks.letters import DeadLetter, payloads
from sinks.pacer import SharedPacer
from sinks.settings import Five9Settings
from sinks.wire import DeliveryHooks
from sources import ContactSource
from transforms.normalise import NormaliseOptions

REPLAY_ATTEMPTS = 3
"""A step a rerun replays first is set aside after this many attempts that all failed."""


def import_step(identifier: str) -> str:
    """How the ledger names the step of reading an import's result."""
    return f"import {identifier}"


LETTER = "letter "


def letter_step(row_code: int) -> str:
    """How the ledger names the step of replaying one dead letter."""
    return f"{LETTER}{row_code}"


def credential_id(settings: Five9Settings) -> str:
    """Names a credential in the ledger without holding anything secret."""
    material = f"{settings.resolved_base_url()}|{settings.credential_name}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


@dataclass
class RunState:
    """One load's identity in the ledger and the hooks that keep the ledger current."""

    ledger: RunLedger
    run_id: str
    list_name: str
    credential: str
    resumed: bool
    # Attempts made before this one, per row (a replay of dead letters adds to them).
    earlier_attempts: dict[int, int] = field(default_factory=dict)
    # Replayed steps this attempt began and has not ended (their attempts are counted).
    under_way: set[str] = field(default_factory=set)
    keys: tuple[str, ...] = DEFAULT_KEYS  # the fields Five9 matches records on

    @classmethod
    def open(
        cls,
        ledger: RunLedger,
        sources: list[ContactSource],
        settings: Five9Settings,
        list_name: str,
        options: NormaliseOptions,
        mapping: dict[str, str],
        restart: bool,
    ) -> RunState:
        """Identify the run by its sources' content and payload settings; note it begun."""
        run_id = run_identity(
            [source.location.fingerprint() for source in sources],
            list_name=list_name,
            target=settings.resolved_base_url(),
            domain_id=settings.domain_id,
            mapping=mapping,
            default_zone=options.default_zone,
            calling_hours=str(options.calling_hours),
            e164=options.e164,
            keys=options.keys,
            modes=(settings.crm_add_mode, settings.crm_update_mode, settings.list_add_mode),
        )
        ledger.lock(run_id)
        if restart:
            ledger.forget(run_id)
        begun = ledger.begin(run_id, list_name, {"sources": [str(s.location) for s in sources]})
        # A rerun resumes only when an earlier attempt settled rows (one refused before a row
        # was sent, for credentials or an unknown list, left nothing to resume).
        resumed = not begun and ledger.has_settled(run_id)
        return cls(
            ledger,
            run_id,
            list_name,
            credential_id(settings),
            resumed and not restart,
            keys=options.keys,
        )

    def earlier(self) -> EarlierOutcomes:
        """What earlier attempts of this run settled."""
        return EarlierOutcomes(
            delivered=self.ledger.settled_codes(self.run_id, "delivered"),
            rejected=self.ledger.settled_codes(self.run_id, "rejected"),
            set_aside=self.ledger.settled_codes(self.run_id, "failed"),
        )

    def pacer(self, settings: Five9Settings) -> SharedPacer:
        """Send slots from the state store: a rerun goes on where the run before it stopped,
        and runs on the same credential (on any machine that shares the store) share one
        evenly spaced sequence."""
        credential = self.credential
        return SharedPacer(
            settings.request_interval(),
            reserve=lambda interval: self.ledger.reserve_slot(credential, interval),
            hold=lambda seconds: self.ledger.hold_slot(credential, seconds),
        )

    def hooks(self) -> DeliveryHooks:
        """Ledger writes for the sink: chunk outcomes, dead letters, request times."""
        return DeliveryHooks(
            accepted=self._accepted,
            dead=self._dead,
            sent=self._sent,
            recent_sends=self._recent,
            importing=self._importing,
            imported=self._imported,
        )

    def _accepted(self, chunk: Chunk, troubled: npt.NDArray[np.bool_]) -> None:
        landed = chunk.codes[~troubled]
        self.ledger.record_chunk(self.run_id, chunk.number, landed, chunk.codes[troubled])
        self.ledger.remove_dead_letters(self.list_name, ((self.run_id, int(c)) for c in landed))
        delivered = chunk.contacts[~troubled]
        if all(key in delivered.columns for key in self.keys):
            values = delivered[list(self.keys)].astype("str").fillna("")
            self.ledger.drop_superseded(
                self.list_name, self.run_id, self.keys, list(values.itertuples(index=False))
            )

    def _dead(
        self,
        chunk: Chunk,
        rows: npt.NDArray[np.bool_],
        bucket: str,
        reason: pd.Series | str,
        status: int | None,
        attempts: int,
    ) -> None:
        contacts = chunk.contacts[rows]
        reasons = (
            [reason] * len(contacts)
            if isinstance(reason, str)
            else reason.reindex(contacts.index).astype("str").tolist()
        )
        self.ledger.add_dead_letters(
            self._letters(contacts, chunk.codes[rows], bucket, reasons, status, attempts)
        )

    def _importing(self, chunk: Chunk, identifier: str) -> None:
        rows = self._letters(chunk.contacts, chunk.codes, "importing", None, None, 1)
        self.ledger.open_import(identifier, chunk.number, list(rows))
        self.replaying(import_step(identifier))  # its first reading

    def _imported(self, identifier: str) -> None:
        self.ledger.close_import(self.run_id, identifier)
        self.ledger.replayed(self.run_id, [import_step(identifier)])
        self.under_way.discard(import_step(identifier))

    def open_imports(self) -> list[OpenImport]:
        """SOAP imports an earlier attempt of this run left without reading their results."""
        return self.ledger.open_imports(self.run_id, self.list_name)

    def replays(self) -> dict[str, tuple[int, str]]:
        """Steps of the run begun and not ended: attempts so far and the last error."""
        return self.ledger.replay_attempts(self.run_id)

    def replaying(self, step: str) -> None:
        """Another attempt at `step` begins (counted before it runs)."""
        self.ledger.begin_replay(self.run_id, [step])
        self.under_way.add(step)

    def stopped_on(self, error: str, *, blamed: bool) -> None:
        """The run stopped on `error`: the last error of every step it left under way. When
        the steps are not `blamed` (Ctrl-C, a list deleted mid-run), this attempt at them
        does not count."""
        self.ledger.replays_failed(self.run_id, error)
        if not blamed:
            self.ledger.begin_replay(self.run_id, sorted(self.under_way), by=-1)

    def set_aside_import(self, held: OpenImport, reason: str) -> int:
        """An import whose result could not be read on any attempt: its rows failed for good
        (reruns count them, not send them), waiting as dead letters with `reason`; rows."""
        codes = [row.row_code for row in held.rows]
        letters = [replace(row, bucket="failed", error=reason) for row in held.rows]
        self.ledger.add_dead_letters(letters)
        self.ledger.record_chunk(self.run_id, held.chunk, (), failed=codes)
        self._imported(held.identifier)
        return len(codes)

    def _letters(
        self,
        contacts: pd.DataFrame,
        codes: npt.NDArray[np.int64],
        bucket: str,
        reasons: list[str] | None,
        status: int | None,
        attempts: int,
    ) -> Iterator[DeadLetter]:
        """Rows as the ledger keeps them: origin, payload as sent, what became of them."""
        for code, source_file, source_line, payload, why in zip(
            codes,
            contacts[SOURCE_FILE],
            contacts[SOURCE_LINE],
            payloads(contacts),
            reasons or [""] * len(contacts),
            strict=True,
        ):
            yield DeadLetter(
                list_name=self.list_name,
                run_id=self.run_id,
                row_code=int(code),
                source_file=str(source_file),
                source_line=int(source_line),
                payload=payload,
                bucket=bucket,
                error=why,
                http_status=status,
                attempts=attempts + self.earlier_attempts.get(int(code), 0),
            )

    def _sent(self, at: float) -> None:
        self.ledger.record_send(self.credential, at)

    def _recent(self, seconds: float) -> list[float]:
        return self.ledger.recent_sends(self.credential, seconds)

"""Replay the dead-letter store: rows Five9 rejected or a run gave up on, sent again as they
were normalised. A row that lands leaves the store; one refused again stays, with the new
reason; one whose window has closed since leaves it as expired (it can never land)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from contacts_etl.failure import summary_of
from contacts_etl.run_report import calls_spent_until
from contacts_etl.run_state import (
    LETTER,
    REPLAY_ATTEMPTS,
    RunState,
    credential_id,
    letter_step,
)
from schemas.buckets import Bucket, Tallied, Tally
from schemas.errors import SettingError
from schemas.fields import DEFAULT_KEYS
from sinks.chunk import Chunk
from sinks.five9_sink import Five9Sink
from sinks.ledger import RunLedger
from sinks.letters import DeadLetter, letters_chunk
from sinks.rest_format import UploadModes
from sinks.settings import Five9Settings


@dataclass
class RetryReport(Tallied):
    """What a replay did with the dead letters of one list."""

    list_name: str
    dead_letters: int = 0
    tally: Tally = field(default_factory=Tally)
    """What became of the letters sent: delivered, rejected by Five9, failed, expired."""
    requests: int = 0
    dry_run: bool = False
    by_bucket: dict[str, int] = field(default_factory=dict)
    still_failing: dict[str, int] = field(default_factory=dict)
    """The reasons of the letters that failed again, with their counts, most common first."""
    calls_spent_until: str | None = None
    set_aside: int = 0
    """Letters whose replay failed on each of the last attempts, left out this time (the
    next replay tries them again)."""
    set_aside_error: str = ""


def _chunks(letters: list[DeadLetter], size: int) -> Iterator[Chunk]:
    """One run's dead letters in chunks (row codes are unique within a run)."""
    for start in range(0, len(letters), size):
        yield letters_chunk(start // size, letters[start : start + size])


def run_retry(
    list_name: str,
    settings: Five9Settings,
    state_dir: Path | None,
    *,
    state_url: str | None = None,
    dry_run: bool = False,
    keys: tuple[str, ...] = DEFAULT_KEYS,
) -> RetryReport:
    """Send the list's dead letters again; keep the store true to what landed."""
    if settings.uses_sandbox:
        raise SettingError(
            "contacts-etl retry sends to Five9: set FIVE9_REGION or FIVE9_BASE_URL (on the "
            "SOAP path FIVE9_SOAP_URL) and the credentials (the embedded sandbox keeps no dead "
            "letters)"
        )
    ledger = RunLedger(state_dir, state_url)
    try:
        letters = ledger.dead_letters(list_name)
        report = RetryReport(list_name, dead_letters=len(letters), dry_run=dry_run)
        for letter in letters:
            report.by_bucket[letter.bucket] = report.by_bucket.get(letter.bucket, 0) + 1
        if dry_run or not letters:
            return report
        for run_id in sorted({letter.run_id for letter in letters}):
            mine = _left_out_if_poisoned(
                ledger, [letter for letter in letters if letter.run_id == run_id], report
            )
            try:
                asyncio.run(_replay(ledger, mine, run_id, list_name, settings, keys, report))
            except Exception as error:
                with contextlib.suppress(Exception):  # the store may be what failed
                    ledger.replays_failed(run_id, summary_of(error, settings.secrets()))
                raise
            # Every letter step of the run ends here, those of letters that landed in an
            # earlier replay that then failed included.
            steps = ledger.replay_attempts(run_id)
            ledger.replayed(run_id, [step for step in steps if step.startswith(LETTER)])
        if report.failed:
            reasons = Counter(
                d.error for d in ledger.dead_letters(list_name) if d.bucket == Bucket.FAILED
            )
            report.still_failing = dict(reasons.most_common())
        return report
    finally:
        ledger.close()


def _left_out_if_poisoned(
    ledger: RunLedger, letters: list[DeadLetter], report: RetryReport
) -> list[DeadLetter]:
    """The letters to replay: those whose replay failed on each of the last REPLAY_ATTEMPTS
    attempts are left out this time (and their count starts again), so the rest land."""
    if not letters:
        return letters
    run_id = letters[0].run_id
    attempts = ledger.replay_attempts(run_id)
    poisoned = {
        letter.row_code
        for letter in letters
        if attempts.get(letter_step(letter.row_code), (0, ""))[0] >= REPLAY_ATTEMPTS
    }
    if not poisoned:
        return letters
    report.set_aside += len(poisoned)
    report.set_aside_error = attempts[letter_step(min(poisoned))][1]
    ledger.replayed(run_id, [letter_step(code) for code in poisoned])
    return [letter for letter in letters if letter.row_code not in poisoned]


async def _replay(
    ledger: RunLedger,
    letters: list[DeadLetter],
    run_id: str,
    list_name: str,
    settings: Five9Settings,
    keys: tuple[str, ...],
    report: RetryReport,
) -> None:
    """Send one run's dead letters through the paced sink, keeping the store current."""
    state = RunState(
        ledger,
        run_id,
        list_name,
        credential_id(settings),
        resumed=True,
        earlier_attempts={letter.row_code: letter.attempts for letter in letters},
    )

    def set_aside(part: Chunk, labels: pd.Series, bucket: Bucket, reason: pd.Series | str) -> None:
        if bucket is Bucket.EXPIRED:  # its window closed: it can never land
            codes = part.codes[part.contacts.index.isin(labels)]
            ledger.remove_dead_letters(list_name, ((run_id, int(c)) for c in codes))

    hooks = state.hooks()
    # Each chunk's replay counts as an attempt of its letters as the sink starts on it (and is
    # committed first: a replay that ends the process counts too).
    hooks.starting = lambda chunk: ledger.begin_replay(
        run_id, [letter_step(int(code)) for code in chunk.codes]
    )
    sink = Five9Sink.for_settings(
        settings,
        list_name,
        UploadModes.of(settings, keys),
        set_aside,
        hooks=hooks,
        pacer=state.pacer(settings),
    )
    async with sink:
        totals = await sink.deliver(_chunks(letters, settings.chunk_size))
    report.tally = report.tally + totals.tally
    report.requests += totals.requests
    report.calls_spent_until = report.calls_spent_until or calls_spent_until(sink.wire.told)

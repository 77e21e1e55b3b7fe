"""An unexpected failure as a run's ending: one line for the person, the details in a file.

Whatever is raised (a library's error of a kind never seen, a full disk, a state store gone, a
bug), the person sees one line: the error's kind and first line, and where the details are.
The traceback goes to a log file in the state folder's `failures/` (printed too with
`--debug`). Every secret of the run's settings is hidden in both.
"""

from __future__ import annotations

import contextlib
import os
import re
import traceback
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from contacts_etl.run_report import LoadReport, write_report
from schemas.errors import ContactsEtlError
from sinks.ledger import default_state_dir

FAILURES = "failures"
SUMMARY_CHARS = 300
HIDDEN = "***"


class UnexpectedError(ContactsEtlError):
    """A run ended by an error that is not a user's mistake: exit code 1, one line, and the
    traceback kept in `details` (a file; None when it could not be written)."""

    exit_code = 1

    def __init__(self, message: str, *, summary: str, trace: str, details: Path | None) -> None:
        super().__init__(message)
        self.summary = summary
        self.trace = trace
        self.details = details


def hidden(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret (of 4 characters or more) replaced by ***."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def summary_of(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """`RuntimeError: its first line`, at most SUMMARY_CHARS characters, secrets hidden."""
    first = next((line for line in str(error).splitlines() if line.strip()), "")
    text = f"{type(error).__name__}: {first.strip()}" if first else type(error).__name__
    text = " ".join(hidden(text, secrets).split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def trace_of(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """The error's whole traceback (causes included), secrets hidden."""
    return hidden("".join(traceback.format_exception(error)), secrets)


def failures_dir(state_dir: Path | None) -> Path:
    """Where unexpected failures are kept: `failures/` in the state folder."""
    return (state_dir or default_state_dir()) / FAILURES


def kept_name(folder: Path, what: str, run_id: str, suffix: str) -> Path:
    """`<folder>/<UTC time>-<what>[-<run>]<suffix>`, the folder made."""
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%fZ")
    name = "-".join(part for part in (stamp, re.sub(r"\W+", "_", what), run_id[:12]) if part)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}{suffix}"


def keep_details(
    trace: str, what: str, state_dir: Path | None = None, run_id: str = ""
) -> Path | None:
    """Write the traceback to `failures/<UTC time>-<what>[-<run>].log` in the state folder;
    its path, or None when it cannot be written (the line still says what happened)."""
    try:
        path = kept_name(failures_dir(state_dir), what, run_id, ".log")
        path.write_text(trace, encoding="utf-8")
    except OSError:
        return None
    return path


def keep_report(
    report: LoadReport, where: str | os.PathLike[str] | None, fallback: Path | None
) -> str:
    """Write the report of a run that stopped where asked; when that fails (or nothing was
    asked), into the `fallback` folder. Where it went ('' for nowhere)."""
    if where is not None:
        with contextlib.suppress(Exception):  # the report's own place may be what failed
            write_report(report, where)
            return str(where)
    if fallback is None:
        return ""
    try:
        kept = kept_name(fallback, "report", report.run_id, ".json")
        write_report(report, kept)
    except Exception:
        return ""
    return str(kept)


def unexpected(
    error: BaseException,
    what: str,
    *,
    secrets: Iterable[str] = (),
    state_dir: Path | None = None,
    run_id: str = "",
    after: str = "",
) -> UnexpectedError:
    """The failure to raise for `error`: its one line (`after` says what the person does
    next) and the traceback kept in the state folder."""
    secrets = list(secrets)
    summary = summary_of(error, secrets)
    trace = trace_of(error, secrets)
    details = keep_details(trace, what, state_dir, run_id)
    where = f"the details are in {details}" if details else "the details could not be kept"
    message = f"{what} failed unexpectedly: {summary}"
    if after:
        message += f"; {after}"
    message += f"; {where} (or run with --debug)"
    return UnexpectedError(message, summary=summary, trace=trace, details=details)

"""The pipeline's and the sink's log lines (standard `logging`) in the flow run's log."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.logging.handlers import PrefectConsoleHandler

# The loggers of the layers below the flows (their records name counts and reasons, never a
# phone number, a name or a secret).
LOGGERS = ("contacts_etl", "sinks")


class _RunLog(logging.Handler):
    """Hands each record to the run's logger (so it reaches the Prefect API)."""

    def __init__(self, run_logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        super().__init__(logging.INFO)
        self._run_logger = run_logger

    def emit(self, record: logging.LogRecord) -> None:
        self._run_logger.log(record.levelno, scrubbed(record.getMessage()))


# A run of 7 or more digits (with an optional +): a phone number, whoever wrote it into a line
# (a message Five9 sent back, say). Counts, times and ids stay readable.
PHONE_LIKE = re.compile(r"\+?(?<!\w)\d{7,}(?!\w)")


def scrubbed(line: str) -> str:
    """The line with anything that looks like a phone number masked."""
    return PHONE_LIKE.sub("<number>", line)


@contextmanager
def run_logs() -> Iterator[None]:
    """While the flow runs, INFO and above of the layers below reach its log in the UI (and
    the worker's console once, through the run logger)."""
    handler = _RunLog(get_run_logger())
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


@contextmanager
def quiet_prefect_console() -> Iterator[None]:
    """Prefect's console lines at WARNING and above only, while a command shows its own
    progress (the run's log still reaches the API in full)."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, PrefectConsoleHandler)
    ]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)

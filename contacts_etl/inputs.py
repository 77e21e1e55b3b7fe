"""What a preview and a load share: the sources, and how to read and normalise them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from schemas.errors import SettingError
from schemas.fields import DEFAULT_KEYS, DEFAULT_ZONE
from sources import ReadOptions
from transforms.calling_hours import CallingHours
from transforms.normalise import NormaliseOptions
from transforms.zones import check_default_zone


@dataclass(frozen=True)
class RunInputs:
    """The sources and their reading and normalisation settings, checked before any row is
    read; `rejects` is where rows set aside are written (when given)."""

    sources: Sequence[str]
    mapping: Path | None = None
    timezone: str = DEFAULT_ZONE
    calling_hours: str | None = None
    e164: bool = False
    keys: tuple[str, ...] = DEFAULT_KEYS
    rejects: str | Path | None = None
    """Where rows set aside are written: a local path or a URL of object storage."""
    delimiter: str | None = None
    encoding: str = "utf-8"
    as_of: pd.Timestamp | None = None

    def normalise_options(self) -> NormaliseOptions:
        """The normalisation settings, validated (a bad one is fatal)."""
        if not self.sources:
            raise SettingError("no sources: give at least one CSV or Parquet file, folder or glob")
        return NormaliseOptions(
            default_zone=check_default_zone(self.timezone),
            calling_hours=CallingHours.parse(self.calling_hours) if self.calling_hours else None,
            e164=self.e164,
            keys=self.keys,
        )

    def read_options(self) -> ReadOptions:
        """How the source files are read."""
        return ReadOptions(delimiter=self.delimiter, encoding=self.encoding)

    def load_time(self) -> pd.Timestamp:
        """The moment windows are judged against: now, unless the run asks about another."""
        moment = self.as_of if self.as_of is not None else pd.Timestamp.now(tz="UTC")
        if moment.tzinfo is None:
            raise SettingError("needs a UTC offset or Z, e.g. 2026-12-01T06:00Z", setting="as_of")
        return moment.tz_convert("UTC")


def parse_as_of(text: str | None) -> pd.Timestamp | None:
    """The moment windows are judged against, as given (None when not given)."""
    if text is None or not text.strip():
        return None
    try:
        return pd.Timestamp(text.strip())
    except ValueError:
        raise SettingError(f"{text!r} is not an ISO 8601 moment", setting="as_of") from None
